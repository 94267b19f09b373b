package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/retention"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Limits of the login and signup rate limiter.
type Limits struct {
	LoginPerEmail int           // attempts per email per window
	LoginPerIP    int           // attempts per client IP per window
	SignupPerIP   int           // signups per client IP per window
	Window        time.Duration // the fixed window
}

// DefaultLimits are the production rate limits.
var DefaultLimits = Limits{LoginPerEmail: 10, LoginPerIP: 100, SignupPerIP: 20, Window: 15 * time.Minute}

// Options configure a Service.
type Options struct {
	Store   Store
	Limiter RateLimiter
	Logger  *slog.Logger
	// KeyPrefix starts every API key secret ("cs_live_", "cs_test_") so
	// leaked keys are recognisable to people and secret scanners.
	KeyPrefix string
	Password  PasswordParams
	Limits    Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service implements signup, login and authentication.
type Service struct {
	store   Store
	limiter RateLimiter
	log     *slog.Logger
	prefix  string
	pw      PasswordParams
	limits  Limits
	now     func() time.Time

	dummyOnce sync.Once
	dummyHash string
}

// NewService returns a Service; zero Options fields take their defaults.
func NewService(o Options) *Service {
	s := &Service{store: o.Store, limiter: o.Limiter, log: o.Logger, prefix: o.KeyPrefix,
		pw: o.Password, limits: o.Limits, now: o.Now}
	if s.log == nil {
		s.log = logging.Discard()
	}
	if s.prefix == "" {
		s.prefix = "cs_live_"
	}
	if s.pw == (PasswordParams{}) {
		s.pw = DefaultPasswordParams
	}
	if s.limits == (Limits{}) {
		s.limits = DefaultLimits
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// SignupInput is the body of POST /v1/auth/signup.
type SignupInput struct {
	Email, Password, Name string
	ClientIP              string
}

// Signup creates an account with its owner user.
func (s *Service) Signup(ctx context.Context, in SignupInput) (Account, User, error) {
	var fc errs.Fields
	email, msg := NormalizeEmail(in.Email)
	fc.Add("body.email", msg)
	fc.Add("body.name", CheckName("name", in.Name))
	fc.Add("body.password", CheckPassword(in.Password, email, in.Name))
	if err := fc.Err(); err != nil {
		return Account{}, User{}, err
	}
	if err := s.limit(ctx, "signup:ip:"+in.ClientIP, s.limits.SignupPerIP); err != nil {
		return Account{}, User{}, err
	}
	hash, err := HashPassword(in.Password, s.pw)
	if err != nil {
		return Account{}, User{}, fmt.Errorf("signup: %w", err)
	}
	now := s.now().UTC()
	name := strings.TrimSpace(in.Name)
	a := Account{ID: ids.New(ids.Account), Name: name, Email: email, TimeZone: "UTC", CreatedAt: now, UpdatedAt: now}
	u := User{ID: ids.New(ids.User), AccountID: a.ID, Email: email, Name: name, PasswordHash: hash, CreatedAt: now}
	a.OwnerUserID = u.ID
	if err := s.store.CreateAccount(ctx, a, u); err != nil {
		return Account{}, User{}, fmt.Errorf("signup: %w", err)
	}
	s.log.InfoContext(ctx, "account created", "tenant_id", a.ID, "user_id", u.ID)
	return a, u, nil
}

// LoginInput is the body of POST /v1/auth/login.
type LoginInput struct {
	Email, Password string
	ClientIP        string
}

// LoginResult is a new dashboard login. Token is the cookie value; only its
// hash is stored.
type LoginResult struct {
	Token   string
	Session LoginSession
	User    User
}

var errBadLogin = errs.E(errs.Unauthorized, "email or password is wrong")

// Login checks a password and opens a login session. Attempts are counted
// per email and per client IP before the password is checked, so guessing is
// throttled whether or not the email exists.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	email, msg := NormalizeEmail(in.Email)
	if msg != "" {
		return LoginResult{}, errs.InvalidFields(errs.FieldError{Field: "body.email", Message: msg})
	}
	if in.Password == "" || len(in.Password) > MaxPasswordLen {
		return LoginResult{}, errs.InvalidFields(errs.FieldError{Field: "body.password", Message: "password is required (at most 256 bytes)"})
	}
	if err := s.CountPasswordAttempt(ctx, email, in.ClientIP); err != nil {
		return LoginResult{}, err
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if errs.Is(err, errs.NotFound) {
		VerifyPassword(s.dummy(), in.Password) // same work as a real check: no user enumeration by timing
		return LoginResult{}, errBadLogin
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	if !VerifyPassword(u.PasswordHash, in.Password) {
		s.log.WarnContext(ctx, "login failed", "tenant_id", u.AccountID, "user_id", u.ID)
		return LoginResult{}, errBadLogin
	}
	token, err := randomToken()
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	now := s.now().UTC()
	ls := LoginSession{TokenHash: HashSecret(token), AccountID: u.AccountID, UserID: u.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: loginExpiry(now, now)}
	if err := s.store.CreateLoginSession(ctx, ls); err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	s.log.InfoContext(ctx, "login succeeded", "tenant_id", u.AccountID, "user_id", u.ID)
	return LoginResult{Token: token, Session: ls, User: u}, nil
}

// CountPasswordAttempt counts one password attempt for email and ip against
// the login limits. Every place that checks a password calls it.
func (s *Service) CountPasswordAttempt(ctx context.Context, email, ip string) error {
	sum := sha256.Sum256([]byte(email)) // the limiter's keys are stored: no plaintext email
	// Both counters always count, so a refused attempt still uses up the
	// IP's budget (an attacker spraying many emails from one address).
	byEmail := s.limit(ctx, "login:email:"+hex.EncodeToString(sum[:16]), s.limits.LoginPerEmail)
	byIP := s.limit(ctx, "login:ip:"+ip, s.limits.LoginPerIP)
	if byEmail != nil {
		return byEmail
	}
	return byIP
}

func (s *Service) limit(ctx context.Context, key string, n int) error {
	ok, retry, err := s.limiter.Hit(ctx, key, n, s.limits.Window)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if !ok {
		return &errs.Error{Code: errs.RateLimited, Message: "too many attempts; try again later",
			RetryAfterSeconds: int(retry.Round(time.Second) / time.Second)}
	}
	return nil
}

func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword("not a real password, only burns equal time", s.pw)
		if err != nil {
			panic(err)
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

// Logout ends the login whose cookie token is given; unknown tokens are fine.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := s.store.DeleteLoginSession(ctx, HashSecret(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

var errBadKey = errs.E(errs.Unauthorized, "the API key is not valid; it may have been revoked")

// AuthenticateKey resolves an API key secret to its principal. Unknown and
// revoked keys get the same answer.
func (s *Service) AuthenticateKey(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, s.prefix) || len(secret) != len(s.prefix)+secretLen {
		return Principal{}, errBadKey
	}
	hash := HashSecret(secret)
	k, err := s.store.FindAPIKeyByHash(ctx, hash)
	if errs.Is(err, errs.NotFound) {
		return Principal{}, errBadKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate key: %w", err)
	}
	// The lookup was by hash; compare again in constant time so no code
	// path ever branches on secret bytes.
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 {
		return Principal{}, errBadKey
	}
	now := s.now().UTC()
	if now.Sub(k.LastUsedAt) > time.Minute { // at most one write per key per minute
		if err := s.store.TouchAPIKey(tenant.With(ctx, k.AccountID), k.ID, k.Hash, now); err != nil && !errs.Is(err, errs.NotFound) {
			s.log.WarnContext(ctx, "api key touch failed", "tenant_id", k.AccountID, "key_id", k.ID, "error", err.Error())
		}
	}
	return Principal{AccountID: k.AccountID, KeyID: k.ID, Scope: k.Scope, Method: AuthAPIKey, AuthenticatedAt: now}, nil
}

var errBadSession = errs.E(errs.Unauthorized, "your login has expired; log in again")

// AuthenticateSession resolves a login cookie token to its principal,
// enforcing the absolute and idle limits and extending an active login.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (Principal, error) {
	if len(token) != tokenLen {
		return Principal{}, errBadSession
	}
	hash := HashSecret(token)
	ls, err := s.store.FindLoginSession(ctx, hash)
	if errs.Is(err, errs.NotFound) {
		return Principal{}, errBadSession
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate session: %w", err)
	}
	now := s.now().UTC()
	if retention.Expired(ls.ExpiresAt, now) {
		return Principal{}, errBadSession
	}
	if now.Sub(ls.LastSeenAt) > time.Minute {
		if err := s.store.TouchLoginSession(ctx, hash, now, loginExpiry(ls.CreatedAt, now)); err != nil && !errs.Is(err, errs.NotFound) {
			s.log.WarnContext(ctx, "login touch failed", "tenant_id", ls.AccountID, "error", err.Error())
		}
	}
	return Principal{AccountID: ls.AccountID, UserID: ls.UserID, Scope: ScopeFull, Method: AuthSession, AuthenticatedAt: ls.CreatedAt}, nil
}

// loginExpiry is the earlier of the absolute and the idle limit.
func loginExpiry(created, lastSeen time.Time) time.Time {
	abs := created.Add(retention.LoginAbsolute)
	idle := lastSeen.Add(retention.LoginIdle)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// GetAccount returns the caller's account.
func (s *Service) GetAccount(ctx context.Context) (Account, error) {
	return s.store.FindAccount(ctx)
}

// UpdateAccount validates and applies a change to the caller's account (the
// rectification right). A change is recorded in the account's audit trail
// with the names of the changed fields and actor (a key or user id), never
// their values.
func (s *Service) UpdateAccount(ctx context.Context, upd AccountUpdate, actor string) (Account, error) {
	var fc errs.Fields
	if upd.Name != nil {
		fc.Add("body.name", CheckName("name", *upd.Name))
		n := strings.TrimSpace(*upd.Name)
		upd.Name = &n
	}
	if upd.Email != nil {
		e, msg := NormalizeEmail(*upd.Email)
		fc.Add("body.email", msg)
		upd.Email = &e
	}
	if upd.TimeZone != nil {
		fc.Add("body.time_zone", CheckTimeZone(*upd.TimeZone))
	}
	if upd.DefaultRegion != nil {
		r := strings.ToUpper(strings.TrimSpace(*upd.DefaultRegion))
		fc.Add("body.default_region", CheckRegion(r))
		upd.DefaultRegion = &r
	}
	if upd.OptOutKeywords != nil {
		words := *upd.OptOutKeywords
		if len(words) > 20 {
			fc.Add("body.opt_out_keywords", "at most 20 keywords")
		}
		for i, w := range words {
			if n := len([]rune(strings.TrimSpace(w))); n == 0 || n > 30 {
				fc.Add(fmt.Sprintf("body.opt_out_keywords[%d]", i), "a keyword is 1 to 30 characters")
			}
		}
	}
	if upd.OptOutReply != nil && len(*upd.OptOutReply) > 1000 {
		fc.Add("body.opt_out_reply", "the reply is at most 1000 bytes")
	}
	if d := upd.BodyRetentionDays; d != nil && (*d < 0 || time.Duration(*d)*24*time.Hour > retention.PolicyFor(retention.MessageBody).Longest()) {
		fc.Add("body.message_body_retention_days", "message bodies are kept 0 to 400 days")
	}
	if err := fc.Err(); err != nil {
		return Account{}, err
	}
	before, err := s.store.FindAccount(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("update account: %w", err)
	}
	a, err := s.store.UpdateAccount(ctx, upd, s.now().UTC())
	if err != nil {
		return Account{}, fmt.Errorf("update account: %w", err)
	}
	if changed := ChangedFields(before, a); len(changed) > 0 {
		e := AuditEntry{ID: ids.New("aud"), Action: "account.updated", Fields: changed, Actor: actor, At: a.UpdatedAt}
		if err := s.store.AddAudit(ctx, e); err != nil {
			// The change is made; a lost audit line is logged, not undone.
			s.log.ErrorContext(ctx, "audit record failed", "tenant_id", a.ID, "error", err.Error())
		}
	}
	s.log.InfoContext(ctx, "account updated", "tenant_id", a.ID)
	return a, nil
}

// ChangedFields names the API fields that differ between two versions of
// an account (the rectifiable ones).
func ChangedFields(before, after Account) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", before.Name != after.Name)
	add("email", before.Email != after.Email)
	add("time_zone", before.TimeZone != after.TimeZone)
	add("default_region", before.DefaultRegion != after.DefaultRegion)
	add("opt_out_keywords", strings.Join(before.OptOutKeywords, "\x00") != strings.Join(after.OptOutKeywords, "\x00"))
	add("opt_out_reply", before.OptOutReply != after.OptOutReply)
	return out
}

// ListAudit returns the caller's audit trail.
func (s *Service) ListAudit(ctx context.Context) ([]AuditEntry, error) { return s.store.ListAudit(ctx) }

// SetFlag sets or clears (zero at) a processing flag of the caller's account.
func (s *Service) SetFlag(ctx context.Context, f Flag, at time.Time) error {
	if err := s.store.SetAccountFlag(ctx, f, at); err != nil {
		return fmt.Errorf("set %s: %w", f, err)
	}
	return nil
}

// CheckProcessing refuses work for an account that restricted processing
// (errs.AccountRestricted); sends and campaign starts call it.
func (s *Service) CheckProcessing(ctx context.Context) error {
	a, err := s.store.FindAccount(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil // no account, nothing to restrict: its data is gone or going too
	}
	if err != nil {
		return fmt.Errorf("check restriction: %w", err)
	}
	return a.ProcessingError()
}

var errWrongPassword = errs.E(errs.Forbidden, "the password is wrong; export and erase need the account password (or a dashboard login less than 10 minutes old)")

// VerifyOwnerPassword checks the password of the caller's account owner,
// for actions that need proof beyond an API key. Every attempt counts
// toward the login rate limit of the owner's email and the client IP.
func (s *Service) VerifyOwnerPassword(ctx context.Context, password, clientIP string) error {
	a, err := s.store.FindAccount(ctx)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if err := s.CountPasswordAttempt(ctx, a.Email, clientIP); err != nil {
		return err
	}
	if password == "" || len(password) > MaxPasswordLen {
		return errWrongPassword
	}
	u, err := s.store.FindUserByEmail(ctx, a.Email)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if u.AccountID != a.ID || !VerifyPassword(u.PasswordHash, password) {
		s.log.WarnContext(ctx, "password check failed", "tenant_id", a.ID, "user_id", u.ID)
		return errWrongPassword
	}
	return nil
}

// CreateAPIKey makes a key for the caller's account and returns it with its
// secret, which is shown this once and never stored.
func (s *Service) CreateAPIKey(ctx context.Context, name string, scope Scope) (APIKey, string, error) {
	var fc errs.Fields
	fc.Add("body.name", CheckName("name", name))
	if scope.rank() == 0 {
		fc.Add("body.scope", "scope must be one of full, send, read")
	}
	if err := fc.Err(); err != nil {
		return APIKey{}, "", err
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return APIKey{}, "", err
	}
	secret, err := s.newSecret()
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	k := APIKey{ID: ids.New(ids.APIKey), AccountID: acct, Name: strings.TrimSpace(name), Scope: scope,
		Prefix: secret[:len(s.prefix)+4], Hash: HashSecret(secret), CreatedAt: s.now().UTC()}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	s.log.InfoContext(ctx, "api key created", "tenant_id", acct, "key_id", k.ID, "scope", string(scope))
	return k, secret, nil
}

// ListAPIKeys lists the caller's keys without secrets.
func (s *Service) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	return s.store.ListAPIKeys(ctx)
}

// RevokeAPIKey deletes one of the caller's keys; it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	if !ids.Valid(ids.APIKey, id) {
		return errs.E(errs.NotFound, "no API key %q", id)
	}
	if err := s.store.RevokeAPIKey(ctx, id); err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	s.log.InfoContext(ctx, "api key revoked", "key_id", id)
	return nil
}

// secretLen is the length of the random part of an API key: 32 bytes in
// base62, zero-padded to a fixed width.
const secretLen = 43

// tokenLen is the length of a login cookie token: 32 bytes in base64url.
const tokenLen = 43

func (s *Service) newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("key secret: %w", err)
	}
	body := new(big.Int).SetBytes(b).Text(62)
	return s.prefix + strings.Repeat("0", secretLen-len(body)) + body, nil
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("login token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the hex SHA-256 of a high-entropy secret (API key or
// login token). A fast hash is right here: the secrets carry 256 random
// bits, so there is nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
