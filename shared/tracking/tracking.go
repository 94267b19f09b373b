// Package tracking consumes the domain events of the session host, the API
// and the fan-out (package events) and turns them into delivery state and
// customer-facing webhooks: receipts move messages to delivered and read;
// every message status change, inbound message, session status change and
// completed campaign becomes a webhook; an inbound opt-out keyword
// suppresses the contact. Events arrive at least once and in any order:
// state changes are conditional and webhook ids are fixed per happening, so
// repeats change nothing and are delivered once.
package tracking

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/optout"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Webhook is one customer-facing event to deliver.
type Webhook struct {
	// ID is stable for the happening, so a repeat is delivered once.
	ID   string
	Type string
	At   time.Time
	Data any
}

// Emitter hands webhooks to delivery (package webhooks). Tenant-scoped.
type Emitter interface {
	// Emit hands over the webhooks of one session (one or many).
	Emit(ctx context.Context, ws []Webhook, sessionID string) error
}

// ReceiptApplier applies WhatsApp receipts (package messages).
type ReceiptApplier interface {
	ApplyReceipt(ctx context.Context, waIDs []string, typ string, at time.Time) ([]messages.Message, error)
}

// Consent changes suppressions (package contacts).
type Consent interface {
	// OptOut suppresses phone; added is false if it already was.
	OptOut(ctx context.Context, phone string) (added bool, err error)
	// OptIn lifts a suppression; removed is false if there was none.
	OptIn(ctx context.Context, phone string) (removed bool, err error)
}

// Replier sends the account's opt-out confirmation.
type Replier interface {
	Reply(ctx context.Context, sessionID, to, text string) error
}

// AccountFinder reads the caller's account (its opt-out settings).
type AccountFinder interface {
	GetAccount(ctx context.Context) (accounts.Account, error)
}

// Handler handles one event.
type Handler struct {
	Messages ReceiptApplier
	Webhooks Emitter // nil: no webhooks
	Consent  Consent
	Replier  Replier
	Accounts AccountFinder
	Log      *slog.Logger
}

// MessageWebhook is the data of message.* webhooks. Sequence orders one
// message's events (queued 0 … read 4; failed and skipped 9), so a
// receiver can put them in order whatever order they arrive in.
type MessageWebhook struct {
	MessageID  string    `json:"message_id"`
	SessionID  string    `json:"session_id"`
	CampaignID string    `json:"campaign_id,omitempty"`
	To         string    `json:"to"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Sequence   int       `json:"sequence"`
	At         time.Time `json:"at"`
}

// ContactWebhook is the data of contact.opted_out and contact.opted_in.
type ContactWebhook struct {
	Phone     string    `json:"phone"`
	SessionID string    `json:"session_id"`
	Keyword   string    `json:"keyword"`
	At        time.Time `json:"at"`
}

// Handle applies one event; an error means "retry this event later".
func (h *Handler) Handle(ctx context.Context, e events.Event) error {
	if e.AccountID == "" {
		return fmt.Errorf("event %s without account", e.ID)
	}
	ctx = tenant.With(ctx, e.AccountID)
	switch e.Type {
	case events.MessageReceipt:
		var d events.ReceiptData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode receipt %s: %w", e.ID, err)
		}
		changed, err := h.Messages.ApplyReceipt(ctx, d.WhatsAppIDs, d.Type, d.At)
		for _, m := range changed { // emitted even if a later id failed: these changes are done
			if werr := h.messageWebhook(ctx, events.MessageStatusData{MessageID: m.ID, SessionID: m.SessionID,
				CampaignID: m.CampaignID, To: m.To, Status: string(m.Status), At: d.At}); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	case events.MessageStatus:
		var d events.MessageStatusData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode message status %s: %w", e.ID, err)
		}
		return h.messageWebhook(ctx, d)
	case events.MessageStatusBatch:
		var d events.MessageStatusBatchData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode status batch %s: %w", e.ID, err)
		}
		ws := make([]Webhook, 0, len(d.Items))
		for _, it := range d.Items {
			w, err := messageWebhook(it)
			if err != nil {
				return err
			}
			ws = append(ws, w)
		}
		if len(ws) == 0 || h.Webhooks == nil {
			return nil
		}
		if err := h.Webhooks.Emit(ctx, ws, d.Items[0].SessionID); err != nil {
			return fmt.Errorf("emit message status batch: %w", err)
		}
		return nil
	case events.SessionStatus:
		var d events.SessionStatusData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode session status %s: %w", e.ID, err)
		}
		return h.emit(ctx, Webhook{ID: e.ID, Type: "session.status", At: e.At, Data: map[string]any{
			"session_id": e.SessionID, "status": d.Status, "reason": d.Reason, "phone": d.Phone, "push_name": d.PushName, "at": e.At}}, e.SessionID)
	case events.MessageReceived:
		var d events.InboundData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode inbound %s: %w", e.ID, err)
		}
		if err := h.consent(ctx, e, d); err != nil {
			return err
		}
		return h.emit(ctx, Webhook{ID: e.ID, Type: "message.received", At: d.At, Data: map[string]any{
			"session_id": e.SessionID, "whatsapp_id": d.WhatsAppID, "from": d.From, "push_name": d.PushName, "chat": d.Chat,
			"is_group": d.IsGroup, "from_me": d.FromMe, "text": d.Text, "media": d.Media, "at": d.At}}, e.SessionID)
	case events.CampaignCompleted:
		var d events.CampaignCompletedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode campaign completed %s: %w", e.ID, err)
		}
		return h.emit(ctx, Webhook{ID: e.ID, Type: "campaign.completed", At: e.At, Data: map[string]any{
			"campaign_id": d.CampaignID, "session_id": e.SessionID, "at": e.At}}, e.SessionID)
	case events.ImportCompleted:
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return fmt.Errorf("decode import completed %s: %w", e.ID, err)
		}
		return h.emit(ctx, Webhook{ID: e.ID, Type: events.ImportCompleted, At: e.At, Data: d}, "")
	default:
		logging.Or(ctx, h.Log).WarnContext(ctx, "unknown event type ignored", "type", e.Type, "event_id", e.ID)
		return nil
	}
}

func (h *Handler) messageWebhook(ctx context.Context, d events.MessageStatusData) error {
	w, err := messageWebhook(d)
	if err != nil {
		return err
	}
	return h.emit(ctx, w, d.SessionID)
}

// messageWebhook builds the message.<status> webhook of a status change;
// its id is fixed by message and status.
func messageWebhook(d events.MessageStatusData) (Webhook, error) {
	data := MessageWebhook{MessageID: d.MessageID, SessionID: d.SessionID, CampaignID: d.CampaignID, To: d.To,
		Status: d.Status, Reason: d.Reason, Sequence: messages.Status(d.Status).Rank(), At: d.At}
	id, err := events.New("message."+d.Status, "", d.SessionID, d.At, nil, d.MessageID, d.Status)
	if err != nil {
		return Webhook{}, err
	}
	return Webhook{ID: id.ID, Type: "message." + d.Status, At: d.At, Data: data}, nil
}

func (h *Handler) emit(ctx context.Context, w Webhook, sessionID string) error {
	if h.Webhooks == nil {
		return nil
	}
	if err := h.Webhooks.Emit(ctx, []Webhook{w}, sessionID); err != nil {
		return fmt.Errorf("emit %s: %w", w.Type, err)
	}
	return nil
}

// consent handles opt-out and opt-in keywords in an inbound message.
func (h *Handler) consent(ctx context.Context, e events.Event, d events.InboundData) error {
	if d.FromMe || d.IsGroup || d.From == "" || h.Consent == nil {
		return nil
	}
	a, err := h.Accounts.GetAccount(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil // the account is gone
	}
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	log := logging.Or(ctx, h.Log).With("session_id", e.SessionID, "from", logging.MaskPhone(d.From))
	data := ContactWebhook{Phone: d.From, SessionID: e.SessionID, Keyword: optout.Normalize(d.Text), At: d.At}
	switch {
	case optout.Match(d.Text, optout.Keywords(a.OptOutKeywords)):
		added, err := h.Consent.OptOut(ctx, d.From)
		if err != nil {
			return fmt.Errorf("opt out: %w", err)
		}
		log.InfoContext(ctx, "contact opted out", "new", added)
		if err := h.emit(ctx, Webhook{ID: e.ID + "-opt-out", Type: "contact.opted_out", At: d.At, Data: data}, e.SessionID); err != nil {
			return err
		}
		if added && a.OptOutReply != "" && h.Replier != nil {
			if err := h.Replier.Reply(ctx, e.SessionID, d.From, a.OptOutReply); err != nil {
				log.WarnContext(ctx, "opt-out confirmation not sent", "error", err.Error())
			}
		}
	case optout.Match(d.Text, optout.OptInKeywords):
		removed, err := h.Consent.OptIn(ctx, d.From)
		if err != nil {
			return fmt.Errorf("opt in: %w", err)
		}
		if removed {
			log.InfoContext(ctx, "contact opted back in")
			return h.emit(ctx, Webhook{ID: e.ID + "-opt-in", Type: "contact.opted_in", At: d.At, Data: data}, e.SessionID)
		}
	}
	return nil
}
