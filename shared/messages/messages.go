// Package messages is the domain of outgoing WhatsApp messages: single
// sends and (later) campaign messages, their status machine, idempotency
// keys, and the mapping between ChatSend message ids and WhatsApp message
// ids. A message moves queued → sending → sent → delivered → read, or ends
// failed or skipped with a reason; every transition is a conditional write,
// so a redelivered queue message or receipt can never apply twice, and the
// WhatsApp id is derived from the message id, so a message is never sent
// twice under two ids.
package messages

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/ids"
)

// Status is a message's delivery state.
type Status string

// Statuses.
const (
	StatusQueued    Status = "queued"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
)

// Reasons for failed and skipped messages.
const (
	ReasonNotOnWhatsApp    = "not_on_whatsapp"
	ReasonSuppressed       = "suppressed"
	ReasonSendError        = "send_error"
	ReasonSessionGone      = "session_deleted"
	ReasonMediaUnavailable = "media_unavailable"
	ReasonBodyExpired      = "body_expired"
)

// Rank orders the progressing statuses; terminal failures rank highest so
// nothing overwrites them.
func (s Status) Rank() int {
	switch s {
	case StatusQueued:
		return 0
	case StatusSending:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusFailed, StatusSkipped:
		return 9
	}
	return -1
}

// Before returns the statuses a message may move to s from: every lower
// rank, so receipts that arrive out of order (read before delivered) still
// apply, and late ones never move a message back.
func Before(s Status) []Status {
	var out []Status
	for _, c := range []Status{StatusQueued, StatusSending, StatusSent, StatusDelivered, StatusRead} {
		if c.Rank() < s.Rank() {
			out = append(out, c)
		}
	}
	return out
}

// Media is an attachment fetched from a URL at send time.
type Media struct {
	Type     string `json:"type" dynamodbav:"type"`
	URL      string `json:"url" dynamodbav:"url"`
	Caption  string `json:"caption,omitempty" dynamodbav:"caption,omitempty"`
	Filename string `json:"filename,omitempty" dynamodbav:"filename,omitempty"`
}

// Change is one entry of a message's status history.
type Change struct {
	Status Status    `dynamodbav:"status"`
	Reason string    `dynamodbav:"reason,omitempty"`
	At     time.Time `dynamodbav:"at"`
}

// Message is one outgoing message.
type Message struct {
	ID         string
	AccountID  string
	SessionID  string
	CampaignID string
	ContactID  string
	To         string // E.164
	// Text and Media are the body; they follow a shorter retention class
	// than the metadata and may be absent once it expires.
	Text  string
	Media *Media
	// BodyRetention is how long the body is kept once the message is sent,
	// failed or skipped (zero: deleted then); nil keeps the class default
	// from creation.
	BodyRetention *time.Duration

	Status    Status
	Reason    string
	History   []Change
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WhatsAppID is the WhatsApp message id of a ChatSend message: whatsmeow's
// web prefix and the id's 16 bytes in hex. It is a pure function of the id,
// so every send attempt of a message uses the same WhatsApp id (WhatsApp
// treats a repeat as the same message) and receipts map back without a
// lookup.
func WhatsAppID(messageID string) string {
	b, ok := ids.Bytes(ids.Message, messageID)
	if !ok {
		return ""
	}
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// IDFromWhatsApp reverses WhatsAppID; ok is false for ids ChatSend did
// not make (messages sent from the phone, for instance).
func IDFromWhatsApp(waID string) (string, bool) {
	h, found := strings.CutPrefix(waID, "3EB0")
	if !found || len(h) != 32 {
		return "", false
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return "", false
	}
	var b [16]byte
	copy(b[:], raw)
	id := ids.FromBytes(ids.Message, b)
	return id, ids.Valid(ids.Message, id)
}

// Filter selects messages to list.
type Filter struct {
	SessionID, CampaignID, To string
	Status                    Status
	Cursor                    string
	Limit                     int
}

// Page is one page of messages.
type Page struct {
	Messages []Message
	Next     string
}

// Idempotency remembers the request an Idempotency-Key was first used with.
type Idempotency struct {
	Key         string // hashed before storage
	RequestHash string
	MessageID   string
}

// Update is a status transition.
type Update struct {
	From   []Status
	To     Status
	Reason string
	At     time.Time
}

// Store persists messages. Tenant-scoped (package tenant).
type Store interface {
	// CreateMessage stores a message, its body, and (if idem is set) the
	// idempotency key, all or nothing; errs.Conflict if the key exists.
	CreateMessage(ctx context.Context, m Message, idem *Idempotency) error
	// FindIdempotency reads a stored key.
	FindIdempotency(ctx context.Context, key string) (Idempotency, error)
	// FindMessage reads a message with its body (if still retained).
	FindMessage(ctx context.Context, id string) (Message, error)
	// ListMessages lists messages, newest first.
	ListMessages(ctx context.Context, f Filter) (Page, error)
	// Transition moves a message to u.To if its status is in u.From;
	// errs.Conflict otherwise.
	Transition(ctx context.Context, id string, u Update) (Message, error)
}

// SingleLane is the dispatch-index lane of single (API) messages, sent
// before campaign messages.
const SingleLane = "0single#"

// Dispatcher wakes the session host holding a session: it has messages to send.
type Dispatcher interface {
	Wake(ctx context.Context, accountID, sessionID, messageID string) error
}
