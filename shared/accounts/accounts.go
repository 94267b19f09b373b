// Package accounts is the tenant core of ChatSend: accounts, their users,
// API keys and dashboard login sessions, and the Service that signs up, logs
// in and authenticates callers. It knows no AWS types; storage is the Store
// interface, implemented by package dynamo.
package accounts

import (
	"context"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/retention"
)

// Account is a tenant: every other item belongs to exactly one account.
type Account struct {
	ID          string
	Name        string
	Email       string // the owner's login email
	OwnerUserID string
	// TimeZone is an IANA zone name used for quiet hours and reports.
	TimeZone string
	// DefaultRegion is the ISO 3166 region used to read phone numbers
	// written without a country code.
	DefaultRegion string
	// OptOutKeywords replace the default STOP words when set.
	OptOutKeywords []string
	// OptOutReply, when set, is sent back to a contact who opted out.
	OptOutReply string
	// BodyRetentionDays is how many days message bodies are kept after a
	// message is sent, failed or skipped (0–400); nil means the default of
	// the message_body retention class.
	BodyRetentionDays *int
	// RestrictedAt is when the account restricted processing (zero: not
	// restricted). While set, sends and campaign starts are refused.
	RestrictedAt time.Time
	// ObjectedAt is when the account objected to processing for product
	// communication and analytics (zero: never, or lifted).
	ObjectedAt time.Time
	// ConsentWithdrawnAt is when the account withdrew its consent to
	// marketing and usage analytics (zero: never).
	ConsentWithdrawnAt time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Restricted reports whether processing is restricted.
func (a Account) Restricted() bool { return !a.RestrictedAt.IsZero() }

// ProcessingError is the errs.AccountRestricted problem that refuses new
// sends and campaign starts while processing is restricted, or nil.
func (a Account) ProcessingError() error {
	if !a.Restricted() {
		return nil
	}
	return errs.E(errs.AccountRestricted, "processing is restricted for this account since %s (a privacy request); "+
		"sends and campaign starts are refused until an unrestrict request completes", a.RestrictedAt.Format(time.RFC3339))
}

// Communications are the account's choices about optional processing.
type Communications struct {
	ProductEmails   bool
	MarketingEmails bool
	UsageAnalytics  bool
}

// Communications derives the optional processing the account allows: an
// objection or a withdrawn consent switches all of it off.
func (a Account) Communications() Communications {
	on := a.ObjectedAt.IsZero() && a.ConsentWithdrawnAt.IsZero()
	return Communications{ProductEmails: on, MarketingEmails: on, UsageAnalytics: on}
}

// Flag names a processing flag of an account, set by a privacy request.
type Flag string

// Processing flags.
const (
	FlagRestricted       Flag = "restricted_at"
	FlagObjected         Flag = "objected_at"
	FlagConsentWithdrawn Flag = "consent_withdrawn_at"
)

// AuditEntry is one rectification record: which fields of the account
// changed, when and by whom — never their values.
type AuditEntry struct {
	ID     string
	Action string
	Fields []string
	// Actor is the key id or user id that made the change.
	Actor string
	At    time.Time
}

// BodyRetention is how long message bodies are kept after a message is
// final: the account's setting, or the class default.
func (a Account) BodyRetention() time.Duration {
	if a.BodyRetentionDays == nil {
		return retention.PolicyFor(retention.MessageBody).Period
	}
	return time.Duration(*a.BodyRetentionDays) * 24 * time.Hour
}

// User is a person who can log in to an account's dashboard.
type User struct {
	ID           string
	AccountID    string
	Email        string
	Name         string
	PasswordHash string // argon2id PHC string; never leaves this package's callers
	CreatedAt    time.Time
}

// Scope limits what an API key may do.
type Scope string

// Scopes, from least to most powerful.
const (
	ScopeRead Scope = "read" // GET requests only
	ScopeSend Scope = "send" // read, plus sending messages and running campaigns
	ScopeFull Scope = "full" // everything, including key and account management
)

// Allows reports whether a caller holding s may act with need.
func (s Scope) Allows(need Scope) bool { return s.rank() >= need.rank() && need.rank() > 0 }

func (s Scope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeSend:
		return 2
	case ScopeFull:
		return 3
	}
	return 0
}

// APIKey is a key's metadata. The secret itself is never stored: only its
// SHA-256 hash, which is how a presented key is looked up.
type APIKey struct {
	ID         string
	AccountID  string
	Name       string
	Scope      Scope
	Prefix     string // the first characters of the secret, to recognise it
	Hash       string // hex SHA-256 of the secret
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used
}

// LoginSession is a dashboard login, found by the hash of its cookie token.
type LoginSession struct {
	TokenHash  string
	AccountID  string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is min(created + absolute limit, last seen + idle limit);
	// it is also the item's TTL.
	ExpiresAt time.Time
}

// AuthMethod says how a principal proved who it is.
type AuthMethod string

// Authentication methods.
const (
	AuthAPIKey  AuthMethod = "api_key"
	AuthSession AuthMethod = "session"
)

// Principal is an authenticated caller.
type Principal struct {
	AccountID string
	UserID    string // set for login sessions
	KeyID     string // set for API keys
	Scope     Scope
	Method    AuthMethod
	// AuthenticatedAt is when the caller last proved its identity (the
	// login time for sessions), for actions that need a recent login.
	AuthenticatedAt time.Time
}

// AccountUpdate lists the fields PATCH /v1/account may change; nil means keep.
type AccountUpdate struct {
	Name           *string
	Email          *string
	TimeZone       *string
	DefaultRegion  *string
	OptOutKeywords *[]string
	OptOutReply    *string
	// BodyRetentionDays sets Account.BodyRetentionDays (0–400).
	BodyRetentionDays *int
}

// Store persists accounts. Methods marked "tenant-scoped" take the account
// from the context (package tenant) and never from an argument.
type Store interface {
	// CreateAccount stores a new account with its owner user; errs.Conflict
	// if the email is taken.
	CreateAccount(ctx context.Context, a Account, owner User) error
	// FindUserByEmail returns the user that logs in with email (normalised).
	FindUserByEmail(ctx context.Context, email string) (User, error)
	// FindAccount returns the caller's account. Tenant-scoped.
	FindAccount(ctx context.Context) (Account, error)
	// UpdateAccount applies upd to the caller's account and returns it;
	// an email change moves the login email atomically. Tenant-scoped.
	UpdateAccount(ctx context.Context, upd AccountUpdate, now time.Time) (Account, error)

	// CreateAPIKey stores a key of the caller's account. Tenant-scoped.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// ListAPIKeys lists the caller's keys, oldest first. Tenant-scoped.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey deletes a key of the caller's account. Tenant-scoped.
	RevokeAPIKey(ctx context.Context, keyID string) error
	// FindAPIKeyByHash finds a key by the hash of its secret, with a
	// strongly consistent read so a revoked key fails at once.
	FindAPIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	// TouchAPIKey records a use of the key. Tenant-scoped.
	TouchAPIKey(ctx context.Context, keyID, hash string, at time.Time) error

	// CreateLoginSession stores a dashboard login.
	CreateLoginSession(ctx context.Context, s LoginSession) error
	// FindLoginSession finds a login by its token hash.
	FindLoginSession(ctx context.Context, tokenHash string) (LoginSession, error)
	// TouchLoginSession extends an idle login.
	TouchLoginSession(ctx context.Context, tokenHash string, lastSeen, expiresAt time.Time) error
	// DeleteLoginSession ends a login; deleting a missing one is no error.
	DeleteLoginSession(ctx context.Context, tokenHash string) error

	// SetAccountFlag sets (at non-zero) or clears (zero at) a processing
	// flag of the caller's account. Tenant-scoped.
	SetAccountFlag(ctx context.Context, f Flag, at time.Time) error
	// AddAudit records a change of the caller's account. Tenant-scoped.
	AddAudit(ctx context.Context, e AuditEntry) error
	// ListAudit lists the caller's audit trail, oldest first. Tenant-scoped.
	ListAudit(ctx context.Context) ([]AuditEntry, error)
}

// RateLimiter counts hits in fixed windows shared by every process.
type RateLimiter interface {
	// Hit counts one hit on key and reports whether it is within limit
	// hits per window; if not, retryAfter says when the window ends.
	Hit(ctx context.Context, key string, limit int, window time.Duration) (allowed bool, retryAfter time.Duration, err error)
}
