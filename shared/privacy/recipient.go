package privacy

import (
	"context"
	"fmt"

	"github.com/chatsend/chatsend/shared/errs"
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
