package contacts

import (
	"context"

	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Options configure a Service.
type Options struct {
	Store   Store
	Objects Objects
	Imports ImportQueue
	// Events receives contacts.import.completed (nil: none).
	Events events.Publisher
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ImportRunLimit bounds one run of an import job; the rest continues
	// in a new run (a new queue message). Zero means: until 20 s before
	// the context's deadline (the Lambda timeout), or without limit.
	ImportRunLimit time.Duration
	// Quota enforces the plan's contact limit on creates and imports
	// (nil: unlimited).
	Quota Quota
}

// Quota enforces a plan limit (package billing).
type Quota interface {
	// Check refuses adding more of a limited resource beyond the plan.
	Check(ctx context.Context, l billing.Limit, adding int64) error
	// Remaining returns how much of a limit is left.
	Remaining(ctx context.Context, l billing.Limit) (int64, error)
}

// Service implements contacts, suppressions and imports.
type Service struct {
	store    Store
	objects  Objects
	imports  ImportQueue
	events   events.Publisher
	log      *slog.Logger
	now      func() time.Time
	runLimit time.Duration
	quota    Quota
}

// NewService returns a Service.
func NewService(o Options) *Service {
	s := &Service{store: o.Store, objects: o.Objects, imports: o.Imports, events: o.Events, log: o.Logger, now: o.Now, runLimit: o.ImportRunLimit, quota: o.Quota}
	if s.log == nil {
		s.log = logging.Discard()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// ContactInput is a new contact as a client sends it.
type ContactInput struct {
	Phone, Name, FirstName string
	Tags                   []string
	Custom                 map[string]string
}

// ContactPatch lists the fields an update may change; nil keeps a field.
// Tags and Custom replace the whole set.
type ContactPatch struct {
	Phone, Name, FirstName *string
	Tags                   *[]string
	Custom                 *map[string]string
}

// CreateContact validates and stores a new contact. region is the
// account's default region for numbers written without a country code.
func (s *Service) CreateContact(ctx context.Context, region string, in ContactInput) (Contact, error) {
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Contact{}, err
	}
	now := s.now().UTC()
	c := Contact{ID: ids.New(ids.Contact), AccountID: acct, CreatedAt: now, UpdatedAt: now}
	patch := ContactPatch{Phone: &in.Phone, Name: &in.Name, FirstName: &in.FirstName, Tags: &in.Tags, Custom: &in.Custom}
	if err := applyPatch(&c, patch, region); err != nil {
		return Contact{}, err
	}
	if s.quota != nil {
		if err := s.quota.Check(ctx, billing.LimitContacts, 1); err != nil {
			return Contact{}, err
		}
	}
	if err := s.store.CreateContact(ctx, c); err != nil {
		return Contact{}, fmt.Errorf("create contact: %w", err)
	}
	logging.Or(ctx, s.log).InfoContext(ctx, "contact created", "contact_id", c.ID)
	return c, nil
}

// applyPatch validates the fields of p that are set and applies them to c.
func applyPatch(c *Contact, p ContactPatch, region string) error {
	var fc errs.Fields
	if p.Phone != nil {
		e164, msg := NormalizePhone(*p.Phone, region)
		fc.Add("body.phone", msg)
		c.Phone = e164
	}
	if p.Name != nil {
		c.Name = strings.TrimSpace(*p.Name)
		fc.Add("body.name", CheckName("name", c.Name, MaxNameLength))
	}
	if p.FirstName != nil {
		c.FirstName = strings.TrimSpace(*p.FirstName)
		fc.Add("body.first_name", CheckName("first_name", c.FirstName, MaxFirstNameLength))
	}
	if p.Tags != nil {
		tags, msg := NormalizeTags(*p.Tags)
		fc.Add("body.tags", msg)
		c.Tags = tags
	}
	if p.Custom != nil {
		fc.Add("body.custom", CheckCustom(*p.Custom))
		c.Custom = maps.Clone(*p.Custom)
	}
	return fc.Err()
}

// GetContact returns one contact; another tenant's id is errs.NotFound.
func (s *Service) GetContact(ctx context.Context, id string) (Contact, error) {
	if !ids.Valid(ids.Contact, id) {
		return Contact{}, errNoContact(id)
	}
	return s.store.FindContactByID(ctx, id)
}

func errNoContact(id string) error { return errs.E(errs.NotFound, "no contact %q", truncate(id, 64)) }

// ListContacts returns one page of contacts, optionally with a tag.
func (s *Service) ListContacts(ctx context.Context, f Filter) (Page, error) {
	var fc errs.Fields
	if f.Tag != "" {
		t, msg := NormalizeTag(f.Tag)
		fc.Add("query.tag", msg)
		f.Tag = t
	}
	fc.Add("query.limit", checkLimit(&f.Limit))
	if err := fc.Err(); err != nil {
		return Page{}, err
	}
	return s.store.ListContacts(ctx, f)
}

func checkLimit(limit *int) string {
	if *limit == 0 {
		*limit = DefaultPageSize
	}
	if *limit < 1 || *limit > MaxPageSize {
		return fmt.Sprintf("limit must be 1 to %d", MaxPageSize)
	}
	return ""
}

// UpdateContact applies p to a contact. A concurrent change of the same
// contact is retried on fresh data.
func (s *Service) UpdateContact(ctx context.Context, region, id string, p ContactPatch) (Contact, error) {
	if !ids.Valid(ids.Contact, id) {
		return Contact{}, errNoContact(id)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var old Contact
		if old, err = s.store.FindContactByID(ctx, id); err != nil {
			return Contact{}, err
		}
		next := old
		next.Tags, next.Custom = slices.Clone(old.Tags), maps.Clone(old.Custom)
		if err := applyPatch(&next, p, region); err != nil {
			return Contact{}, err
		}
		if sameContent(old, next) {
			return old, nil // nothing changes: no write
		}
		next.UpdatedAt = later(s.now().UTC(), old.UpdatedAt)
		err = s.store.UpdateContact(ctx, old, next)
		if err == nil {
			logging.Or(ctx, s.log).InfoContext(ctx, "contact updated", "contact_id", id)
			return next, nil
		}
		if !errors.Is(err, ErrStale) {
			return Contact{}, fmt.Errorf("update contact: %w", err)
		}
	}
	return Contact{}, err
}

// later returns now, or just after prev when the clock has not moved past
// it: updated_at is the contact's optimistic-lock version.
func later(now, prev time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Microsecond)
}

// sameContent reports whether two versions of a contact hold the same data.
func sameContent(a, b Contact) bool {
	return a.Phone == b.Phone && a.Name == b.Name && a.FirstName == b.FirstName &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Custom, b.Custom)
}

// DeleteContact removes a contact.
func (s *Service) DeleteContact(ctx context.Context, id string) error {
	if !ids.Valid(ids.Contact, id) {
		return errNoContact(id)
	}
	if err := s.store.DeleteContact(ctx, id); err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	logging.Or(ctx, s.log).InfoContext(ctx, "contact deleted", "contact_id", id)
	return nil
}

// AddSuppression suppresses a phone number; it reports whether the number
// was newly suppressed (an existing suppression is returned unchanged).
func (s *Service) AddSuppression(ctx context.Context, region, rawPhone, reason string) (Suppression, bool, error) {
	var fc errs.Fields
	e164, msg := NormalizePhone(rawPhone, region)
	fc.Add("body.phone", msg)
	reason, msg = NormalizeReason(reason)
	fc.Add("body.reason", msg)
	if err := fc.Err(); err != nil {
		return Suppression{}, false, err
	}
	sup, created, err := s.store.AddSuppression(ctx, Suppression{Phone: e164, Reason: reason, CreatedAt: s.now().UTC()})
	if err != nil {
		return Suppression{}, false, fmt.Errorf("add suppression: %w", err)
	}
	if created {
		logging.Or(ctx, s.log).InfoContext(ctx, "phone suppressed", "phone", logging.MaskPhone(e164), "reason", reason)
	}
	return sup, created, nil
}

// ListSuppressions returns one page of suppressions.
func (s *Service) ListSuppressions(ctx context.Context, cursor string, limit int) (SuppressionPage, error) {
	if msg := checkLimit(&limit); msg != "" {
		return SuppressionPage{}, errs.InvalidFields(errs.FieldError{Field: "query.limit", Message: msg})
	}
	return s.store.ListSuppressions(ctx, cursor, limit)
}

// DeleteSuppression lifts the suppression of a phone number.
func (s *Service) DeleteSuppression(ctx context.Context, region, rawPhone string) error {
	e164, msg := NormalizePhone(rawPhone, region)
	if msg != "" {
		return errs.InvalidFields(errs.FieldError{Field: "path.phone", Message: msg})
	}
	if err := s.store.DeleteSuppression(ctx, e164); err != nil {
		return fmt.Errorf("delete suppression: %w", err)
	}
	logging.Or(ctx, s.log).InfoContext(ctx, "suppression lifted", "phone", logging.MaskPhone(e164))
	return nil
}
