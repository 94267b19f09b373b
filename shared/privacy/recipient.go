package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Recipients erases and exports the data of one phone number (a person
// the account messages) within the caller's account. Tenant-scoped.
type Recipients interface {
	// EraseRecipient erases the phone's data and counts what it deleted
	// per store; the phone stays suppressed as a hash.
	EraseRecipient(ctx context.Context, e164 string) (map[string]int, error)
	// ExportRecipient returns the phone's data, machine-readable.
	ExportRecipient(ctx context.Context, e164 string) (map[string]any, error)
}

func (s *Service) contactErasePhases() []phase {
	return []phase{{"erase", s.eraseRecipient}}
}

func (s *Service) eraseRecipient(ctx context.Context, j *job) error {
	if j.Phone == "" || PhoneHash(j.Phone) != j.r.PhoneHash {
		return errs.E(errs.Invalid, "the job does not carry the phone number of this request")
	}
	deleted, err := s.o.Recipients.EraseRecipient(ctx, j.Phone)
	if err != nil {
		return err
	}
	for k, n := range deleted {
		if k == "kept:suppression_hash" {
			j.r.Result.Kept = []string{"the number's suppression, as a SHA-256 hash only (no number in clear): " +
				"so it is never re-imported or messaged by accident; lift it with DELETE /v1/suppressions/{phone}"}
			continue
		}
		j.r.Result.add(&j.r.Result.Deleted, k, n)
	}
	return nil
}

// normalize reads a recipient's phone with the account's default region.
func (s *Service) normalize(ctx context.Context, raw string) (string, error) {
	a, err := s.o.Accounts.GetAccount(ctx)
	if err != nil {
		return "", err
	}
	p, msg := phone.Normalize(raw, a.DefaultRegion)
	if msg != "" {
		return "", errs.InvalidFields(errs.FieldError{Field: "body.phone", Message: msg})
	}
	return p, nil
}

// EraseContact records a recipient's erasure in the caller's account and
// queues it. The phone travels only in the queued job; the request keeps
// its hash.
func (s *Service) EraseContact(ctx context.Context, raw string) (Request, error) {
	p, err := s.normalize(ctx, raw)
	if err != nil {
		return Request{}, err
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Request{}, err
	}
	return s.create(ctx, acct, Request{Type: TypeContactErase, PhoneHash: PhoneHash(p)}, p)
}

// ExportContact returns everything the caller's account holds about one
// phone number.
func (s *Service) ExportContact(ctx context.Context, raw string) (map[string]any, error) {
	p, err := s.normalize(ctx, raw)
	if err != nil {
		return nil, err
	}
	out, err := s.o.Recipients.ExportRecipient(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("export recipient: %w", err)
	}
	return out, nil
}

// RecipientStore is the storage a recipient's erasure and export need
// (package dynamo). Tenant-scoped.
type RecipientStore interface {
	// RecipientMessageIDs lists the messages to e164 (by its hash),
	// expired or not.
	RecipientMessageIDs(ctx context.Context, e164 string) ([]string, error)
	// DeleteMessages deletes messages with their bodies and recipients.
	DeleteMessages(ctx context.Context, ids []string) error
	// DeleteDeliveriesMentioning deletes the webhook deliveries whose
	// payload contains any of needles and counts them.
	DeleteDeliveriesMentioning(ctx context.Context, needles []string) (int, error)
	// DeliveriesMentioning returns those deliveries' payloads.
	DeliveriesMentioning(ctx context.Context, needles []string) ([]string, error)
	// SuppressHashed keeps e164 suppressed by its hash alone.
	SuppressHashed(ctx context.Context, e164, reason string, at time.Time) error
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
	Transition(ctx context.Context, id string, u messages.Update) (messages.Message, error)
	FindMessage(ctx context.Context, id string) (messages.Message, error)
	FindContactsByPhone(ctx context.Context, phones []string) (map[string]contacts.Contact, error)
	DeleteContact(ctx context.Context, id string) error
}

// RecipientData implements Recipients over a RecipientStore.
type RecipientData struct {
	Store RecipientStore
	Now   func() time.Time
}

var _ Recipients = RecipientData{}

func (d RecipientData) now() time.Time {
	if d.Now == nil {
		return time.Now().UTC()
	}
	return d.Now().UTC()
}

// EraseRecipient implements Recipients. The phone is suppressed (by hash)
// first, so no fan-out or send adds a message to it while the rest runs;
// its queued messages end skipped (the campaign's counters stay exact)
// before messages, contact and webhook logs are deleted. Safe to repeat.
func (d RecipientData) EraseRecipient(ctx context.Context, e164 string) (map[string]int, error) {
	out := map[string]int{}
	if err := d.Store.SuppressHashed(ctx, e164, contacts.ReasonManual, d.now()); err != nil {
		return nil, err
	}
	out["kept:suppression_hash"] = 1
	ids, err := d.Store.RecipientMessageIDs(ctx, e164)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		_, err := d.Store.Transition(ctx, id, messages.Update{From: []messages.Status{messages.StatusQueued},
			To: messages.StatusSkipped, Reason: messages.ReasonSuppressed, At: d.now()})
		if err != nil && !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotFound) {
			return nil, fmt.Errorf("skip queued message %s: %w", id, err)
		}
	}
	if err := d.Store.DeleteMessages(ctx, ids); err != nil {
		return nil, err
	}
	out["table:message"] = len(ids)
	found, err := d.Store.FindContactsByPhone(ctx, []string{e164})
	if err != nil {
		return nil, err
	}
	for _, c := range found {
		if err := d.Store.DeleteContact(ctx, c.ID); err != nil && !errs.Is(err, errs.NotFound) {
			return nil, fmt.Errorf("delete contact %s: %w", c.ID, err)
		}
		out["table:contact"]++
	}
	n, err := d.Store.DeleteDeliveriesMentioning(ctx, []string{e164})
	if err != nil {
		return nil, err
	}
	out["table:webhook_delivery"] = n
	return out, nil
}

// ExportRecipient implements Recipients.
func (d RecipientData) ExportRecipient(ctx context.Context, e164 string) (map[string]any, error) {
	out := map[string]any{"format_version": ExportFormatVersion, "generated_at": d.now(), "phone": e164}
	found, err := d.Store.FindContactsByPhone(ctx, []string{e164})
	if err != nil {
		return nil, err
	}
	out["contact"] = nil
	for _, c := range found {
		out["contact"] = map[string]any{"id": c.ID, "phone": c.Phone, "name": c.Name, "first_name": c.FirstName,
			"tags": c.Tags, "custom": c.Custom, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt}
	}
	sup, err := d.Store.Suppressed(ctx, []string{e164})
	if err != nil {
		return nil, err
	}
	out["suppressed"] = sup[e164]
	ids, err := d.Store.RecipientMessageIDs(ctx, e164)
	if err != nil {
		return nil, err
	}
	msgs := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		m, err := d.Store.FindMessage(ctx, id)
		if errs.Is(err, errs.NotFound) {
			continue // expired
		}
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, map[string]any{"id": m.ID, "session_id": m.SessionID, "campaign_id": m.CampaignID,
			"status": m.Status, "reason": m.Reason, "history": m.History, "text": m.Text, "media": m.Media,
			"created_at": m.CreatedAt, "updated_at": m.UpdatedAt})
	}
	out["messages"] = msgs
	payloads, err := d.Store.DeliveriesMentioning(ctx, []string{e164})
	if err != nil {
		return nil, err
	}
	deliveries := make([]json.RawMessage, 0, len(payloads))
	for _, p := range payloads {
		if json.Valid([]byte(p)) {
			deliveries = append(deliveries, json.RawMessage(p))
		}
	}
	out["webhook_deliveries"] = deliveries
	return out, nil
}
