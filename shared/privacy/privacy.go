// Package privacy implements the data rights of ChatSend's account holders
// (export, erase, restrict, unrestrict, object, withdraw consent) and of the
// people they message (erase and export of one phone number). Requests are
// recorded, then processed asynchronously by functions/privacy in
// checkpointed phases, so a crashed or redelivered job resumes where it
// stopped and a repeated one changes nothing. It knows no AWS types: storage,
// objects and queues are the small interfaces below.
package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/sessions"
)

// Type is the kind of a privacy request.
type Type string

// Request types. ContactErase is a recipient's erasure, made through
// POST /v1/contacts/erase.
const (
	TypeExport          Type = "export"
	TypeErase           Type = "erase"
	TypeRestrict        Type = "restrict"
	TypeUnrestrict      Type = "unrestrict"
	TypeObject          Type = "object"
	TypeWithdrawConsent Type = "withdraw_consent"
	TypeContactErase    Type = "contact_erase"
)

// AccountTypes are the types POST /v1/privacy/requests accepts.
var AccountTypes = []Type{TypeExport, TypeErase, TypeRestrict, TypeUnrestrict, TypeObject, TypeWithdrawConsent}

// needsProof reports whether a request type needs proof beyond an API key.
func (t Type) needsProof() bool { return t == TypeExport || t == TypeErase }

// Status is where a request stands.
type Status string

// Statuses.
const (
	StatusReceived  Status = "received"  // recorded and queued
	StatusVerifying Status = "verifying" // the job checks the account before acting
	StatusRunning   Status = "running"   // phases under way (see Phase)
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Limits and periods.
const (
	// FreshLogin is how recent a dashboard login must be to stand in for
	// the password on export and erase.
	FreshLogin = 10 * time.Minute
	// DownloadTTL is how long an export's presigned URL works.
	DownloadTTL = 24 * time.Hour
	// ExportFormatVersion is the bundle's format version (manifest.json).
	ExportFormatVersion = 1
)

// Request is one privacy request and the job state that processes it. It is
// stored outside the account's data (under a hashed subject), so erasing the
// account cannot delete it mid-run, and what remains after an erase is the
// hashed audit record the law asks for.
type Request struct {
	ID   string
	Type Type
	// Subject is SubjectOf(account id): the account, hashed.
	Subject string
	Status  Status
	// Phase is the next phase to run (the checkpoint); "" before the first.
	Phase string
	// PhoneHash is the hashed E.164 of a contact erasure's subject.
	PhoneHash string
	Result    Result
	// Failure says why a failed request failed.
	Failure string
	// WaitStartedAt is when an erase began waiting for the session host to
	// delete the account's WhatsApp sessions (resumable bounded wait).
	WaitStartedAt time.Time
	DueAt         time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   time.Time
}

// Result is what a request did.
type Result struct {
	// DownloadURL is an export's presigned GET URL (DownloadTTL).
	DownloadURL       string     `json:"download_url,omitempty" dynamodbav:"download_url,omitempty"`
	DownloadExpiresAt *time.Time `json:"download_expires_at,omitempty" dynamodbav:"download_expires_at,omitempty"`
	// Deleted counts what was erased per store: "table:<item type>",
	// "s3:<bucket>".
	Deleted map[string]int `json:"deleted,omitempty" dynamodbav:"deleted,omitempty"`
	// Counts are other tallies: export records per file, campaigns paused.
	Counts map[string]int `json:"counts,omitempty" dynamodbav:"counts,omitempty"`
	// Kept lists what was kept after an erasure, and why.
	Kept []string `json:"kept,omitempty" dynamodbav:"kept,omitempty"`
	// Notes say anything else worth knowing (a bounded wait that ran out).
	Notes []string `json:"notes,omitempty" dynamodbav:"notes,omitempty"`
}

func (r *Result) add(m *map[string]int, k string, n int) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k] += n
}

// SubjectOf hashes an account id into a request's subject: the audit record
// that outlives an erased account names it only by this hash.
func SubjectOf(accountID string) string { return hashHex("chatsend/privacy-subject:" + accountID) }

// PhoneHash is the hash suppressions and message items use for an E.164
// number.
func PhoneHash(e164 string) string { return phone.Hash(e164) }

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Job is the body of a privacy-queue message. The account id and (for a
// contact erasure) the phone travel only in the queue, never in the stored
// request, whose subject is hashed.
type Job struct {
	RequestID string `json:"request_id"`
	AccountID string `json:"account_id"`
	Phone     string `json:"phone,omitempty"`
}

// Jobs queues privacy jobs (the privacy queue).
type Jobs interface {
	EnqueuePrivacy(ctx context.Context, j Job) error
}

// Billing is the billing system's part in data rights; the tenant is taken
// from ctx. Nil means billing is not configured.
type Billing interface {
	ExportBilling(ctx context.Context) (map[string]any, error)
	EraseBilling(ctx context.Context) (kept []string, err error) // deletes/redacts the Stripe customer; keeps billing_record items; lines say what was kept and why
}

// Item is one stored item of an account, as plain data.
type Item struct {
	Type   string
	PK, SK string
	Attrs  map[string]any
}

// ExportRecord is the stored record of an export bundle (class export_file).
type ExportRecord struct {
	RequestID    string
	ObjectKey    string
	Size         int
	URLExpiresAt time.Time
	CreatedAt    time.Time
}

// Store persists requests and reaches every item of an account.
type Store interface {
	// CreateRequest stores a new request.
	CreateRequest(ctx context.Context, r Request) error
	// FindRequest reads a request by id (any subject; callers check it).
	FindRequest(ctx context.Context, id string) (Request, error)
	// ListRequests lists a subject's requests, newest first.
	ListRequests(ctx context.Context, subject string) ([]Request, error)
	// SaveRequest writes a request's new state (its checkpoint).
	SaveRequest(ctx context.Context, r Request) error

	// EachAccountItem calls each for every live item of the caller's
	// account. Tenant-scoped.
	EachAccountItem(ctx context.Context, each func(Item) error) error
	// DeleteAccountItems deletes every item of the caller's account whose
	// type del selects, expired or not, and counts deleted and kept items
	// by type. Tenant-scoped.
	DeleteAccountItems(ctx context.Context, del func(typ string) bool) (deleted, kept map[string]int, err error)
	// CountSessionItems counts the caller's session items, including those
	// the host has not finished deleting. Tenant-scoped.
	CountSessionItems(ctx context.Context) (int, error)
	// PutExport records an export bundle. Tenant-scoped.
	PutExport(ctx context.Context, e ExportRecord) error
}

// Objects is one bucket (package objects).
type Objects interface {
	Name() string
	Put(ctx context.Context, key string, body []byte, contentType string) error
	// PresignGet returns a GET URL for key that works for ttl.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
	// DeletePrefix deletes every object under prefix and counts them.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Accounts is the part of the accounts service privacy needs.
type Accounts interface {
	GetAccount(ctx context.Context) (accounts.Account, error)
	SetFlag(ctx context.Context, f accounts.Flag, at time.Time) error
	VerifyOwnerPassword(ctx context.Context, password, clientIP string) error
}

// Sessions is the part of the sessions service an erase needs.
type Sessions interface {
	List(ctx context.Context) ([]sessions.Session, error)
	// Delete logs a session out and asks its host to delete it with its
	// device keys.
	Delete(ctx context.Context, id string) error
}

// Campaigns is the part of the campaigns service restriction needs.
type Campaigns interface {
	// PauseAll pauses running and scheduled campaigns with reason.
	PauseAll(ctx context.Context, reason string) (int, error)
	// ResumeAll resumes the campaigns paused with reason, and only those.
	ResumeAll(ctx context.Context, reason string) (int, error)
}
