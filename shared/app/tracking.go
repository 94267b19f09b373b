package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/tracking"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// consent adapts the contacts service to tracking.Consent.
type consent struct{ c *contacts.Service }

var _ tracking.Consent = consent{}

// OptOut implements tracking.Consent.
func (a consent) OptOut(ctx context.Context, phone string) (bool, error) {
	_, added, err := a.c.AddSuppression(ctx, "", phone, contacts.ReasonOptedOut)
	return added, err
}

// OptIn implements tracking.Consent.
func (a consent) OptIn(ctx context.Context, phone string) (bool, error) {
	err := a.c.DeleteSuppression(ctx, "", phone)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// replier sends opt-out confirmations as ordinary messages.
type replier struct{ m *messages.Service }

var _ tracking.Replier = replier{}

// Reply implements tracking.Replier.
func (r replier) Reply(ctx context.Context, sessionID, to, text string) error {
	_, _, err := r.m.Send(ctx, messages.SendInput{SessionID: sessionID, To: to, Text: text})
	return err
}

// webhookEmitter adapts the webhooks service to tracking.Emitter.
type webhookEmitter struct{ w *webhooks.Service }

var _ tracking.Emitter = webhookEmitter{}

// Emit implements tracking.Emitter.
func (e webhookEmitter) Emit(ctx context.Context, ws []tracking.Webhook, sessionID string) error {
	envs := make([]webhooks.Envelope, len(ws))
	for i, w := range ws {
		data, err := json.Marshal(w.Data)
		if err != nil {
			return fmt.Errorf("encode %s webhook: %w", w.Type, err)
		}
		envs[i] = webhooks.Envelope{ID: w.ID, Type: w.Type, CreatedAt: w.At.UTC(), Data: data}
	}
	return e.w.EmitBatch(ctx, envs, sessionID)
}
