// Package contacts is the domain of an account's address book: contacts
// (unique per phone number), suppressions (numbers that must never receive
// campaign messages) and CSV imports that create or update contacts in bulk.
// It knows no AWS types: storage is the Store interface (package dynamo),
// uploaded files go through Objects (package objects) and import jobs are
// handed to a worker through ImportQueue (package queue).
package contacts

import (
	"context"
	"errors"
	"io"
	"time"
)

// Contact is one person an account can message.
type Contact struct {
	ID        string
	AccountID string
	// Phone is E.164 ("+4915112345678"); unique within the account.
	Phone     string
	Name      string
	FirstName string
	// Tags are lowercase, sorted and unique.
	Tags []string
	// Custom holds template fields ({{custom.FIELD}}); keys are [a-z0-9_].
	Custom    map[string]string
	CreatedAt time.Time
	// UpdatedAt is also the optimistic-lock version of the contact.
	UpdatedAt time.Time
}

// Filter selects contacts to list.
type Filter struct {
	// Tag, when set, lists only contacts with this (normalised) tag.
	Tag string
	// Cursor is the opaque Page.Next of the previous page; "" for the first.
	Cursor string
	// Limit is the page size (1 to MaxPageSize; 0 means DefaultPageSize).
	Limit int
}

// Page is one page of contacts in a stable order: by id, which is creation
// order to the millisecond.
type Page struct {
	Contacts []Contact
	// Next is the cursor of the following page; "" on the last page.
	Next string
}

// Page sizes of the list operations.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Suppression reasons.
const (
	ReasonManual    = "manual"    // added by the customer
	ReasonOptedOut  = "opted_out" // the contact asked to stop (STOP reply)
	ReasonComplaint = "complaint" // the contact complained or reported spam
	ReasonBlocked   = "blocked"   // the contact blocked the number
	reasonsList     = "manual, opted_out, complaint, blocked"
	defaultReason   = ReasonManual
	maxReasonLength = 32
)

// Suppression is a phone number that never receives campaign messages.
// Storage keys it by the SHA-256 of the number, so the plaintext can be
// erased later while the block stays in force.
type Suppression struct {
	Phone     string
	Reason    string
	CreatedAt time.Time
}

// SuppressionPage is one page of suppressions.
type SuppressionPage struct {
	Suppressions []Suppression
	Next         string
}

// ErrStale reports that a contact changed between reading and writing it
// (or a phone number was taken meanwhile); the caller reads again and retries.
var ErrStale = errors.New("contact changed concurrently")

// ErrCheckpointMoved reports that an import job's checkpoint is no longer
// where the caller started: another worker advanced (or finished) the job.
var ErrCheckpointMoved = errors.New("import checkpoint moved")

// Store persists contacts, suppressions and import jobs. Every method is
// tenant-scoped: the account comes from the context (package tenant).
type Store interface {
	// CreateContact stores a new contact; errs.Conflict if its phone is taken.
	CreateContact(ctx context.Context, c Contact) error
	// FindContactByID returns one contact; errs.NotFound if absent.
	FindContactByID(ctx context.Context, id string) (Contact, error)
	// FindContacts returns the contacts with the given ids in the order
	// given; missing (or malformed) ids are skipped.
	FindContacts(ctx context.Context, ids []string) ([]Contact, error)
	// FindContactsByPhone returns the existing contacts of the given E.164
	// numbers, by number, with strongly consistent reads.
	FindContactsByPhone(ctx context.Context, phones []string) (map[string]Contact, error)
	// ListContacts pages through contacts, optionally by tag, in id order;
	// an unusable cursor is errs.Invalid. A cursor stays valid when its
	// contact is deleted.
	ListContacts(ctx context.Context, f Filter) (Page, error)
	// UpdateContact replaces old with next if old is still current; a
	// concurrent change is ErrStale (wrapped in errs.Conflict), a phone
	// taken by another contact is errs.Conflict.
	UpdateContact(ctx context.Context, old, next Contact) error
	// DeleteContact removes a contact with its phone and tag entries.
	DeleteContact(ctx context.Context, id string) error

	// AddSuppression stores s unless its phone is already suppressed; it
	// returns the stored suppression and whether it was added now.
	AddSuppression(ctx context.Context, s Suppression) (Suppression, bool, error)
	// ListSuppressions pages through suppressions in a stable order.
	ListSuppressions(ctx context.Context, cursor string, limit int) (SuppressionPage, error)
	// DeleteSuppression lifts a suppression; errs.NotFound if absent.
	DeleteSuppression(ctx context.Context, phone string) error
	// Suppressed reports for each E.164 number whether it is suppressed.
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)

	// CreateImportJob stores a new import job.
	CreateImportJob(ctx context.Context, j ImportJob) error
	// FindImportJob returns an import job without its errors.
	FindImportJob(ctx context.Context, id string) (ImportJob, error)
	// ImportErrors returns the stored errors of a job by line number.
	ImportErrors(ctx context.Context, id string) ([]ImportError, error)
	// SaveImportJob replaces the job if its checkpoint is still from;
	// ErrCheckpointMoved otherwise.
	SaveImportJob(ctx context.Context, j ImportJob, from Checkpoint) error
	// ApplyImport writes the longest prefix of entries that fits one
	// atomic write, together with the job as it stands after the last
	// entry written (entry.JobAfter), if the job's checkpoint is still
	// from. It returns how many entries it wrote (at least one). A stale
	// contact is ErrStale; a moved checkpoint is ErrCheckpointMoved.
	ApplyImport(ctx context.Context, from Checkpoint, entries []ImportEntry) (int, error)
}

// Objects stores uploaded files (package objects, on S3).
type Objects interface {
	// Put stores body under key, encrypted at rest.
	Put(ctx context.Context, key string, body []byte, contentType string) error
	// Get reads the object from byte offset on; errs.NotFound if absent.
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	// Delete removes the object; a missing object is no error.
	Delete(ctx context.Context, key string) error
}

// ImportQueue hands import jobs to the import worker (functions/imports).
type ImportQueue interface {
	EnqueueImport(ctx context.Context, ref ImportRef) error
}
