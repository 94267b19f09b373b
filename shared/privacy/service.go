package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Options configure a Service.
type Options struct {
	Store     Store
	Accounts  Accounts
	Sessions  Sessions
	Campaigns Campaigns
	// Recipients erases and exports one phone's data (contact erasure).
	Recipients Recipients
	Jobs       Jobs
	// Billing may be nil: billing not configured.
	Billing Billing
	// Exports is the exports bucket; Buckets are every bucket that can
	// hold an account's objects (under "<account id>/"), exports included.
	Exports Objects
	Buckets []Objects
	Logger  *slog.Logger
	// SessionWait bounds how long an erase waits for the session host to
	// delete the account's sessions (default 2 min); PollEvery is how
	// often it checks (default 500 ms).
	SessionWait time.Duration
	PollEvery   time.Duration
	// AfterPhase, when set, runs after each phase is checkpointed; an
	// error stops the job there as a crash would (tests).
	AfterPhase func(r Request, phase string) error
	Now        func() time.Time
}

// Service records privacy requests and processes their jobs.
type Service struct{ o Options }

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionWait == 0 {
		o.SessionWait = 2 * time.Minute
	}
	if o.PollEvery == 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	return &Service{o: o}
}

// Proof is how the caller authenticated, for requests that need more than
// an API key.
type Proof struct {
	Principal accounts.Principal
	// Password is the account password sent with the request, if any. It
	// is checked and forgotten: never logged, never stored.
	Password string
	ClientIP string
}

// Create records a request of the caller's account and queues its job.
// Export and erase need the password or a login younger than FreshLogin.
// A repeated export or erase while one is still open returns the open one.
func (s *Service) Create(ctx context.Context, t Type, proof Proof) (Request, error) {
	if !slices.Contains(AccountTypes, t) {
		return Request{}, errs.InvalidFields(errs.FieldError{Field: "body.type",
			Message: "type must be one of export, erase, restrict, unrestrict, object, withdraw_consent"})
	}
	if t.needsProof() {
		if err := s.verify(ctx, t, proof); err != nil {
			return Request{}, err
		}
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Request{}, err
	}
	if t.needsProof() {
		open, err := s.open(ctx, acct, t)
		if err != nil {
			return Request{}, err
		}
		if open != nil { // queue it again: repairs a lost enqueue, harmless otherwise
			return *open, s.enqueue(ctx, Job{RequestID: open.ID, AccountID: acct})
		}
	}
	return s.create(ctx, acct, Request{Type: t}, "")
}

// verify checks the extra proof export and erase need.
func (s *Service) verify(ctx context.Context, t Type, p Proof) error {
	if p.Password != "" {
		return s.o.Accounts.VerifyOwnerPassword(ctx, p.Password, p.ClientIP)
	}
	if p.Principal.Method == accounts.AuthSession && s.o.Now().Sub(p.Principal.AuthenticatedAt) < FreshLogin {
		return nil
	}
	return errs.E(errs.ReauthRequired, "%s needs proof beyond an API key: send the account password in the request's "+
		"\"password\" field, or use a dashboard login made less than %d minutes ago", t, int(FreshLogin/time.Minute))
}

// open returns the caller's request of type t that has not ended, if any.
func (s *Service) open(ctx context.Context, acct string, t Type) (*Request, error) {
	rs, err := s.o.Store.ListRequests(ctx, SubjectOf(acct))
	if err != nil {
		return nil, fmt.Errorf("list privacy requests: %w", err)
	}
	for _, r := range rs {
		if r.Type == t && r.Status != StatusCompleted && r.Status != StatusFailed {
			return &r, nil
		}
	}
	return nil, nil
}

// create stores a new request r of account acct and queues its job.
func (s *Service) create(ctx context.Context, acct string, r Request, phone string) (Request, error) {
	now := s.o.Now().UTC()
	r.ID, r.Subject, r.Status = ids.New(ids.Privacy), SubjectOf(acct), StatusReceived
	r.CreatedAt, r.UpdatedAt, r.DueAt = now, now, now.AddDate(0, 1, 0)
	if err := s.o.Store.CreateRequest(ctx, r); err != nil {
		return Request{}, fmt.Errorf("create privacy request: %w", err)
	}
	if err := s.enqueue(ctx, Job{RequestID: r.ID, AccountID: acct, Phone: phone}); err != nil {
		return Request{}, err
	}
	logging.Or(ctx, s.o.Logger).InfoContext(ctx, "privacy request received", "request_id", r.ID, "type", string(r.Type))
	return r, nil
}

func (s *Service) enqueue(ctx context.Context, j Job) error {
	if err := s.o.Jobs.EnqueuePrivacy(ctx, j); err != nil {
		return fmt.Errorf("queue privacy job %s: %w", j.RequestID, err)
	}
	return nil
}

// List returns the caller's requests, newest first.
func (s *Service) List(ctx context.Context) ([]Request, error) {
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return nil, err
	}
	return s.o.Store.ListRequests(ctx, SubjectOf(acct))
}

// Get returns one of the caller's requests; another account's is NotFound.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	notFound := errs.E(errs.NotFound, "no privacy request %q", id)
	if !ids.Valid(ids.Privacy, id) {
		return Request{}, notFound
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Request{}, err
	}
	r, err := s.o.Store.FindRequest(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && r.Subject != SubjectOf(acct)) {
		return Request{}, notFound
	}
	return r, err
}

// phase is one resumable step of a job.
type phase struct {
	name string
	run  func(ctx context.Context, j *job) error
}

// job is a request being processed.
type job struct {
	Job
	r *Request
}

func (s *Service) phases(t Type) []phase {
	switch t {
	case TypeExport:
		return []phase{{"bundle", s.exportBundle}}
	case TypeErase:
		return []phase{{"revoke_credentials", s.eraseCredentials}, {"stop_processing", s.eraseStop},
			{"sessions", s.eraseSessions}, {"objects", s.eraseObjects}, {"billing", s.eraseBilling},
			{"items", s.eraseItems}, {"summary", s.eraseSummary}}
	case TypeRestrict:
		return []phase{{"flag", s.flag(accounts.FlagRestricted, true)}, {"campaigns", s.pauseCampaigns}}
	case TypeUnrestrict:
		return []phase{{"flag", s.flag(accounts.FlagRestricted, false)}, {"campaigns", s.resumeCampaigns}}
	case TypeObject:
		return []phase{{"flag", s.flag(accounts.FlagObjected, true)}}
	case TypeWithdrawConsent:
		return []phase{{"flag", s.flag(accounts.FlagConsentWithdrawn, true)}}
	case TypeContactErase:
		return s.contactErasePhases()
	}
	return nil
}

// Handle processes one job from the privacy queue. It resumes at the
// request's checkpoint; a finished request is left alone, so redelivery
// and repeats are harmless. A returned error means "retry later".
func (s *Service) Handle(ctx context.Context, jb Job) error {
	r, err := s.o.Store.FindRequest(ctx, jb.RequestID)
	if errs.Is(err, errs.NotFound) {
		s.o.Logger.WarnContext(ctx, "privacy job for an unknown request dropped", "request_id", jb.RequestID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read privacy request %s: %w", jb.RequestID, err)
	}
	if r.Subject != SubjectOf(jb.AccountID) {
		s.o.Logger.WarnContext(ctx, "privacy job does not match its request; dropped", "request_id", jb.RequestID)
		return nil
	}
	if r.Status == StatusCompleted || r.Status == StatusFailed {
		return nil
	}
	ctx = tenant.With(ctx, jb.AccountID)
	log := s.o.Logger.With("request_id", r.ID, "type", string(r.Type), "tenant_id", jb.AccountID)
	j := &job{Job: jb, r: &r}
	if r.Status == StatusReceived {
		r.Status = StatusVerifying
		if err := s.save(ctx, &r); err != nil {
			return err
		}
		if _, err := s.o.Accounts.GetAccount(ctx); err != nil {
			if errs.Is(err, errs.NotFound) {
				return s.fail(ctx, &r, "the account no longer exists")
			}
			return err
		}
		r.Status = StatusRunning
		if err := s.save(ctx, &r); err != nil {
			return err
		}
	}
	phases := s.phases(r.Type)
	start := 0
	for i, p := range phases {
		if p.name == r.Phase {
			start = i
		}
	}
	for i := start; i < len(phases); i++ {
		p := phases[i]
		r.Phase = p.name
		if err := p.run(ctx, j); err != nil {
			if e, ok := errs.As(err); ok && e.Code != errs.Internal && e.Code != errs.Unavailable {
				return s.fail(ctx, &r, e.Message)
			}
			log.WarnContext(ctx, "privacy phase failed; will retry", "phase", p.name, "error", err.Error())
			return fmt.Errorf("privacy %s %s phase %s: %w", r.Type, r.ID, p.name, err)
		}
		r.Phase = "done"
		if i+1 < len(phases) {
			r.Phase = phases[i+1].name
		}
		if err := s.save(ctx, &r); err != nil {
			return err
		}
		log.InfoContext(ctx, "privacy phase done", "phase", p.name)
		if s.o.AfterPhase != nil {
			if err := s.o.AfterPhase(r, p.name); err != nil {
				return err
			}
		}
	}
	r.Status, r.CompletedAt = StatusCompleted, s.o.Now().UTC()
	if err := s.save(ctx, &r); err != nil {
		return err
	}
	log.InfoContext(ctx, "privacy request completed")
	return nil
}

func (s *Service) save(ctx context.Context, r *Request) error {
	r.UpdatedAt = s.o.Now().UTC()
	if err := s.o.Store.SaveRequest(ctx, *r); err != nil {
		return fmt.Errorf("save privacy request %s: %w", r.ID, err)
	}
	return nil
}

// GiveUp marks a request failed after its job kept failing and was moved to
// the dead-letter queue (operators are alerted there), so the customer sees
// the outcome and can make the request again. Work already done stays done;
// a new request of the same type resumes nothing but repeats safely.
func (s *Service) GiveUp(ctx context.Context, jb Job) error {
	r, err := s.o.Store.FindRequest(ctx, jb.RequestID)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read privacy request %s: %w", jb.RequestID, err)
	}
	if r.Subject != SubjectOf(jb.AccountID) || r.Status == StatusCompleted || r.Status == StatusFailed {
		return nil
	}
	return s.fail(ctx, &r, "the request could not be completed after repeated attempts; our team has been alerted — please make it again")
}

// fail ends a request that cannot succeed; the job itself is done.
func (s *Service) fail(ctx context.Context, r *Request, why string) error {
	r.Status, r.Failure, r.CompletedAt = StatusFailed, why, s.o.Now().UTC()
	s.o.Logger.WarnContext(ctx, "privacy request failed", "request_id", r.ID, "type", string(r.Type), "reason", why)
	return s.save(ctx, r)
}

// flag sets or clears an account flag.
func (s *Service) flag(f accounts.Flag, on bool) func(context.Context, *job) error {
	return func(ctx context.Context, j *job) error {
		at := time.Time{}
		if on {
			at = j.r.CreatedAt
		}
		return s.o.Accounts.SetFlag(ctx, f, at)
	}
}

// downloadLinkTTL is how long a link from Download works: short, so a link
// signed with a function's temporary credentials never outlives them.
const downloadLinkTTL = 15 * time.Minute

// Download returns a fresh, short-lived URL of a completed export of the
// caller's while its download period (DownloadTTL from completion) lasts.
// Unlike the URL stored in the result, whose validity on AWS also ends with
// the signing credentials, it can be asked for again at any time within
// the period.
func (s *Service) Download(ctx context.Context, id string) (string, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if r.Type != TypeExport || r.Status != StatusCompleted || r.Result.DownloadExpiresAt == nil {
		return "", errs.E(errs.Conflict, "request %s is not a completed export", id)
	}
	left := r.Result.DownloadExpiresAt.Sub(s.o.Now())
	if left <= 0 {
		return "", errs.E(errs.NotFound, "the export's download period has ended; make a new export request")
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return "", err
	}
	return s.o.Exports.PresignGet(ctx, ExportKey(acct, r.ID), min(left, downloadLinkTTL))
}
