// Package wa is the session host's narrow view of WhatsApp: a Backend opens
// one Client per ChatSend session, and every WhatsApp happening arrives as
// one of this package's Event types. Two backends implement it: whatsmeow
// (the real one, package wa/whatsmeow) and an honest offline simulator
// (package wa/simulator). Phone numbers here are E.164 ("+4915112345678").
package wa

import (
	"context"
	"errors"
	"time"
)

// Backend names.
const (
	BackendWhatsmeow = "whatsmeow"
	BackendSimulator = "simulator"
)

// Backend opens WhatsApp clients, one per ChatSend session, each with its
// own device store (keys of the linked device).
type Backend interface {
	// Name is BackendWhatsmeow or BackendSimulator; it is shown on sessions
	// and in logs so a simulated session is never mistaken for a real one.
	Name() string
	// Open loads or creates the session's device store and returns a
	// client that is not connected yet. handle receives its events.
	Open(ctx context.Context, sessionID string, handle Handler) (Client, error)
	// Delete removes the session's device store (its keys). Deleting a
	// store that does not exist is no error.
	Delete(ctx context.Context, sessionID string) error
}

// Handler receives a client's events in order. It returns nil only once
// the event's effects are durable: for messages and receipts an error makes
// the backend withhold the acknowledgement so WhatsApp delivers it again.
type Handler func(ctx context.Context, ev Event) error

// Client is one linked WhatsApp device.
type Client interface {
	// Connect opens the connection in the background. Without a login the
	// client emits QR events until a phone links it or pairing times out.
	Connect(ctx context.Context) error
	// Disconnect closes the connection; the login stays.
	Disconnect()
	// Paired reports whether the device store holds a login.
	Paired() bool
	// Logout unlinks the device on WhatsApp's side and clears the store.
	Logout(ctx context.Context) error
	// PairPhone asks WhatsApp for an 8-character code to link by phone
	// number instead of QR. The client must be connected and unpaired.
	PairPhone(ctx context.Context, phone string) (string, error)
	// JoinedGroups lists the groups the account is in.
	JoinedGroups(ctx context.Context) ([]Group, error)
	// CheckNumbers reports which phones have WhatsApp.
	CheckNumbers(ctx context.Context, phones []string) ([]NumberStatus, error)
	// Send sends one message with the given WhatsApp message id, so a
	// retried send can never produce a second message.
	Send(ctx context.Context, m Outgoing) (SendResult, error)
}

// Errors a Client returns.
var (
	// ErrNotConnected: the client has no open, logged-in connection.
	ErrNotConnected = errors.New("whatsapp client not connected")
	// ErrNotOnWhatsApp: the recipient has no WhatsApp account.
	ErrNotOnWhatsApp = errors.New("recipient is not on whatsapp")
	// ErrAlreadyPaired: pairing was asked of a logged-in client.
	ErrAlreadyPaired = errors.New("whatsapp client already paired")
)

// Group is a WhatsApp group the account belongs to.
type Group struct {
	JID          string    `json:"jid"`
	Name         string    `json:"name"`
	Participants int       `json:"participants"`
	IsAnnounce   bool      `json:"is_announce"`
	CreatedAt    time.Time `json:"created_at"`
}

// NumberStatus says whether a phone has WhatsApp.
type NumberStatus struct {
	Phone      string `json:"phone"`
	OnWhatsApp bool   `json:"on_whatsapp"`
}

// Outgoing is a message to send.
type Outgoing struct {
	// ID is the WhatsApp message id to use (derived from ChatSend's).
	ID string
	// To is an E.164 phone number.
	To   string
	Text string
	// Media, if set, is sent with Text as its caption.
	Media *Media
}

// Media is an attachment's bytes and description.
type Media struct {
	Type     string // image, document, audio, video
	MimeType string
	Filename string
	Data     []byte
}

// SendResult is WhatsApp's acknowledgement of a sent message.
type SendResult struct {
	ID        string
	Timestamp time.Time
}

// Event is one thing that happened on a client.
type Event interface{ isEvent() }

// QR is a new QR code to show; the phone scans it to link the device.
type QR struct {
	Code      string
	ExpiresAt time.Time
}

// QRTimeout: every QR code expired without a scan; the client disconnected.
type QRTimeout struct{}

// PairSuccess: a phone linked the device.
type PairSuccess struct {
	Phone    string
	PushName string
	Platform string
}

// PairError: linking failed after the scan.
type PairError struct{ Reason string }

// Connected: the logged-in connection is up.
type Connected struct {
	Phone    string
	PushName string
}

// Disconnected: the connection dropped; the backend reconnects by itself.
type Disconnected struct{ Reason string }

// LoggedOut: the device was unlinked (from the phone, or by WhatsApp). The
// store is no longer usable. Reason is a ChatSend status reason.
type LoggedOut struct {
	Reason string
}

// StreamReplaced: another client connected with the same device keys.
type StreamReplaced struct{}

// TemporaryBan: WhatsApp banned the account for a while.
type TemporaryBan struct {
	Code    string
	Expires time.Duration
}

// ConnectFailure: WhatsApp refused the connection.
type ConnectFailure struct {
	Reason string
	Code   int
}

// KeepAliveTimeout: pings are failing; the connection may be dead.
type KeepAliveTimeout struct{ ErrorCount int }

// KeepAliveRestored: pings work again.
type KeepAliveRestored struct{}

// ReceiptType is what a receipt reports.
type ReceiptType string

// Receipt types.
const (
	ReceiptDelivered ReceiptType = "delivered"
	ReceiptRead      ReceiptType = "read"
	ReceiptPlayed    ReceiptType = "played"
)

// Receipt reports the delivery state of messages we sent.
type Receipt struct {
	MessageIDs []string
	From       string // E.164 of the recipient who sent the receipt
	Type       ReceiptType
	At         time.Time
}

// MediaInfo describes inbound media without its bytes.
type MediaInfo struct {
	Type     string // image, document, audio, video, sticker
	MimeType string
	Size     uint64
	Filename string
}

// Message is an inbound message (or one sent from the phone, FromMe).
type Message struct {
	ID       string
	From     string // E.164 of the sender
	PushName string
	Chat     string // E.164 for direct chats, group JID for groups
	IsGroup  bool
	FromMe   bool
	Text     string // body, or the media caption
	Media    *MediaInfo
	At       time.Time
}

func (QR) isEvent()                {}
func (QRTimeout) isEvent()         {}
func (PairSuccess) isEvent()       {}
func (PairError) isEvent()         {}
func (Connected) isEvent()         {}
func (Disconnected) isEvent()      {}
func (LoggedOut) isEvent()         {}
func (StreamReplaced) isEvent()    {}
func (TemporaryBan) isEvent()      {}
func (ConnectFailure) isEvent()    {}
func (KeepAliveTimeout) isEvent()  {}
func (KeepAliveRestored) isEvent() {}
func (Receipt) isEvent()           {}
func (Message) isEvent()           {}

// Status reasons (machine-readable, shared with API users and operators).
const (
	ReasonQRExpired          = "qr_expired"
	ReasonStreamReplaced     = "stream_replaced"
	ReasonTemporarilyBanned  = "temporarily_banned"
	ReasonLoggedOutByPhone   = "logged_out_by_phone"
	ReasonLoggedOutByUser    = "logged_out_by_user"
	ReasonConnectFailure     = "connect_failure"
	ReasonKeepAliveTimeout   = "keepalive_timeout"
	ReasonNetwork            = "network"
	ReasonPairFailed         = "pair_failed"
	ReasonClientOutdated     = "client_outdated"
	ReasonAccountBanned      = "account_banned"
	ReasonDeviceStoreMissing = "device_store_missing"
)

// Simulated is implemented by simulator clients only: the developer
// controls of an offline session.
type Simulated interface {
	// Scan acts as a phone scanning the current QR code.
	Scan() error
	// Inbound acts as a contact writing text from an E.164 number.
	Inbound(from, text string) error
}
