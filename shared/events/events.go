// Package events is the envelope of ChatSend's internal domain events: what
// the session host observes (status changes, receipts, inbound messages)
// travels on the events queue in this form to functions/events, which
// updates state and fans out webhooks. Ids are deterministic where the same
// happening can be reported twice, so consumers can drop duplicates.
package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Event types.
const (
	SessionStatus   = "session.status"
	MessageReceipt  = "message.receipt"
	MessageReceived = "message.received"
	// MessageStatus reports one message's new status (sent, failed, …).
	MessageStatus = "message.status"
	// MessageStatusBatch reports many at once (a fan-out page).
	MessageStatusBatch = "message.status.batch"
	// CampaignCompleted reports that every message of a campaign left the queue.
	CampaignCompleted = "campaign.completed"
	// ImportCompleted reports a finished contact import.
	ImportCompleted = "contacts.import.completed"
)

// MessageStatusData is the data of a message.status event (and one item
// of a message.status.batch event).
type MessageStatusData struct {
	MessageID  string    `json:"message_id"`
	SessionID  string    `json:"session_id"`
	CampaignID string    `json:"campaign_id,omitempty"`
	To         string    `json:"to"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

// MessageStatusBatchData is the data of a message.status.batch event.
type MessageStatusBatchData struct {
	Items []MessageStatusData `json:"items"`
}

// CampaignCompletedData is the data of a campaign.completed event.
type CampaignCompletedData struct {
	CampaignID string `json:"campaign_id"`
}

// PublishMessageStatus publishes one message's status change; the event id
// is fixed by message and status, so a repeat is recognisable.
func PublishMessageStatus(ctx context.Context, p Publisher, acct string, d MessageStatusData) error {
	e, err := New(MessageStatus, acct, d.SessionID, d.At, d, d.MessageID, d.Status)
	if err != nil {
		return err
	}
	return p.Publish(ctx, e)
}

// Event is one domain event.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	AccountID string          `json:"account_id"`
	SessionID string          `json:"session_id,omitempty"`
	At        time.Time       `json:"at"`
	Data      json.RawMessage `json:"data"`
}

// New builds an event whose id is derived from parts (so a re-reported
// happening gets the same id) and whose data is v as JSON.
func New(typ, accountID, sessionID string, at time.Time, v any, parts ...string) (Event, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Event{}, err
	}
	sum := sha256.Sum256([]byte(typ + "\x00" + accountID + "\x00" + sessionID + "\x00" + strings.Join(parts, "\x00")))
	return Event{ID: "evt_" + hex.EncodeToString(sum[:16]), Type: typ, AccountID: accountID, SessionID: sessionID, At: at.UTC(), Data: data}, nil
}

// Publisher sends events to their consumers.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// SessionStatusData is the data of a session.status event.
type SessionStatusData struct {
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Phone    string `json:"phone,omitempty"`
	PushName string `json:"push_name,omitempty"`
}

// ReceiptData is the data of a message.receipt event.
type ReceiptData struct {
	WhatsAppIDs []string  `json:"whatsapp_ids"`
	From        string    `json:"from"`
	Type        string    `json:"type"`
	At          time.Time `json:"at"`
}

// InboundData is the data of a message.received event.
type InboundData struct {
	WhatsAppID string     `json:"whatsapp_id"`
	From       string     `json:"from"`
	PushName   string     `json:"push_name,omitempty"`
	Chat       string     `json:"chat"`
	IsGroup    bool       `json:"is_group"`
	FromMe     bool       `json:"from_me"`
	Text       string     `json:"text,omitempty"`
	Media      *MediaData `json:"media,omitempty"`
	At         time.Time  `json:"at"`
}

// MediaData describes inbound media (no bytes are stored).
type MediaData struct {
	Type     string `json:"type"`
	MimeType string `json:"mime_type,omitempty"`
	Size     uint64 `json:"size,omitempty"`
	Filename string `json:"filename,omitempty"`
}
