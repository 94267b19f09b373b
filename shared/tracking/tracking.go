// Package tracking consumes the session host's domain events (package
// events) and turns them into delivery state: receipts move messages to
// delivered and read. Events arrive at least once and in any order; every
// effect is a conditional transition, so repeats and stale receipts change
// nothing.
package tracking

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// ReceiptApplier applies WhatsApp receipts (package messages).
type ReceiptApplier interface {
	ApplyReceipt(ctx context.Context, waIDs []string, typ string, at time.Time) error
}

// Handler handles one event.
type Handler struct {
	Messages ReceiptApplier
	Log      *slog.Logger
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
		return h.Messages.ApplyReceipt(ctx, d.WhatsAppIDs, d.Type, d.At)
	case events.SessionStatus, events.MessageReceived:
		return nil // webhooks and opt-outs come with the webhooks issue
	default:
		logging.Or(ctx, h.Log).WarnContext(ctx, "unknown event type ignored", "type", e.Type, "event_id", e.ID)
		return nil
	}
}
