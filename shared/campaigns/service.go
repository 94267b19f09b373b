package campaigns

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Limits of a campaign definition.
const (
	MaxTemplate   = 4096
	MaxTags       = 20
	MaxContactIDs = 10_000
	pageSize      = 500
)

// MessageStore is the part of the message store the fan-out needs.
type MessageStore interface {
	Transition(ctx context.Context, id string, u messages.Update) (messages.Message, error)
	Dispatchable(ctx context.Context, sessionID, lane string, limit int) ([]messages.Message, error)
}

// Options configure a Service.
type Options struct {
	Store      Store
	Sessions   sessions.Finder
	Audience   AudienceSource
	Messages   MessageStore
	Jobs       Jobs
	Dispatcher messages.Dispatcher
	// Events receives the fan-out's message.status.batch events and
	// campaign.completed.
	Events events.Publisher
	// BodyRetention returns how long the account keeps message bodies once
	// a message is final; nil keeps the class default.
	BodyRetention func(ctx context.Context) (time.Duration, error)
	// Gate, when set, refuses campaign starts and resumes of an account
	// whose processing is restricted (errs.AccountRestricted); the fan-out
	// pauses a running campaign of such an account.
	Gate   func(ctx context.Context) error
	Logger *slog.Logger
	Now    func() time.Time
	// Quota reserves a campaign's audience at start and settles what was
	// not queued when the fan-out ends (nil: unlimited).
	Quota Quota
}

// Quota is the plan's message quota for campaigns (package billing).
type Quota interface {
	// ReserveCampaign reserves the recipients of a campaign, all or none.
	ReserveCampaign(ctx context.Context, campaignID string, recipients int64) error
	// SettleCampaign gives back what was reserved beyond used (again, for
	// the difference, when used drops after a cancel); each release once.
	SettleCampaign(ctx context.Context, campaignID string, used int64) error
}

// Service implements the campaigns API and the fan-out.
type Service struct{ o Options }

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// CreateInput is the body of POST /v1/campaigns.
type CreateInput struct {
	Name       string
	SessionID  string
	Template   string
	Audience   Audience
	ScheduleAt *time.Time
	Pacing     *Pacing
}

var tagRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_ -]{0,49}$`)
var hhmm = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)

// Create validates and stores a draft campaign.
func (s *Service) Create(ctx context.Context, in CreateInput) (Campaign, error) {
	var fields []errs.FieldError
	add := func(f, msg string) { fields = append(fields, errs.FieldError{Field: f, Message: msg}) }
	name := strings.TrimSpace(in.Name)
	if n := len([]rune(name)); n == 0 || n > 100 {
		add("body.name", "name must be 1 to 100 characters")
	}
	if !ids.Valid(ids.Session, in.SessionID) {
		add("body.session_id", "session_id must be a session id (ses_…)")
	}
	if strings.TrimSpace(in.Template) == "" || len(in.Template) > MaxTemplate {
		add("body.template", fmt.Sprintf("template must be 1 to %d bytes", MaxTemplate))
	} else if _, err := ParseTemplate(in.Template); err != nil {
		add("body.template", err.Error())
	}
	aud := Audience{}
	for i, t := range in.Audience.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if !tagRe.MatchString(t) {
			add(fmt.Sprintf("body.audience.tags[%d]", i), "tags are 1 to 50 lowercase letters, digits, spaces, _ or -")
		}
		aud.Tags = append(aud.Tags, t)
	}
	for i, id := range in.Audience.ContactIDs {
		if !ids.Valid(ids.Contact, id) {
			add(fmt.Sprintf("body.audience.contact_ids[%d]", i), "not a contact id (con_…)")
		}
		aud.ContactIDs = append(aud.ContactIDs, id)
	}
	switch {
	case (len(aud.Tags) == 0) == (len(aud.ContactIDs) == 0):
		add("body.audience", "audience needs exactly one of tags or contact_ids")
	case len(aud.Tags) > MaxTags:
		add("body.audience.tags", fmt.Sprintf("at most %d tags", MaxTags))
	case len(aud.ContactIDs) > MaxContactIDs:
		add("body.audience.contact_ids", fmt.Sprintf("at most %d contact ids; use a tag for larger audiences", MaxContactIDs))
	}
	now := s.o.Now().UTC()
	var at time.Time
	if in.ScheduleAt != nil {
		at = in.ScheduleAt.UTC()
		if !at.After(now) || at.After(now.AddDate(1, 0, 0)) {
			add("body.schedule_at", "schedule_at must be in the future, within a year")
		}
	}
	p := DefaultPacing
	if in.Pacing != nil {
		p = *in.Pacing
		switch {
		case p.MinIntervalS < 1 || p.MaxIntervalS < p.MinIntervalS || p.MaxIntervalS > 3600:
			add("body.pacing", "need 1 ≤ min_interval_s ≤ max_interval_s ≤ 3600")
		case p.DailyCap < 1 || p.DailyCap > 10_000:
			add("body.pacing.daily_cap", "daily_cap must be 1 to 10000")
		case (p.QuietStart == "") != (p.QuietEnd == ""),
			p.QuietStart != "" && (!hhmm.MatchString(p.QuietStart) || !hhmm.MatchString(p.QuietEnd)):
			add("body.pacing", "quiet_start and quiet_end go together, as HH:MM")
		}
	}
	if len(fields) > 0 {
		return Campaign{}, errs.InvalidFields(fields...)
	}
	ses, err := s.o.Sessions.FindSession(ctx, in.SessionID)
	if err != nil || ses.Desired == sessions.DesiredDeleted {
		return Campaign{}, errs.E(errs.NotFound, "no session %q", in.SessionID)
	}
	if len(aud.ContactIDs) > 0 {
		found, err := s.o.Audience.ByIDs(ctx, aud.ContactIDs)
		if err != nil {
			return Campaign{}, fmt.Errorf("check contacts: %w", err)
		}
		have := map[string]bool{}
		for _, r := range found {
			have[r.ContactID] = true
		}
		for i, id := range aud.ContactIDs {
			if !have[id] {
				add(fmt.Sprintf("body.audience.contact_ids[%d]", i), "no such contact")
			}
		}
		if len(fields) > 0 {
			return Campaign{}, errs.InvalidFields(fields...)
		}
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Campaign{}, err
	}
	c := Campaign{ID: ids.New(ids.Campaign), AccountID: acct, Name: name, SessionID: ses.ID, Template: in.Template,
		Audience: aud, ScheduleAt: at, Pacing: p, Status: StatusDraft, CreatedAt: now, UpdatedAt: now}
	if err := s.o.Store.CreateCampaign(ctx, c); err != nil {
		return Campaign{}, fmt.Errorf("create campaign: %w", err)
	}
	return c, nil
}

// Get returns a campaign with live counts.
func (s *Service) Get(ctx context.Context, id string) (Campaign, error) {
	if !ids.Valid(ids.Campaign, id) {
		return Campaign{}, errs.E(errs.NotFound, "no campaign %q", id)
	}
	return s.o.Store.FindCampaign(ctx, id)
}

// List returns the account's campaigns.
func (s *Service) List(ctx context.Context) ([]Campaign, error) { return s.o.Store.ListCampaigns(ctx) }

// Start begins sending (or schedules it).
func (s *Service) Start(ctx context.Context, id string) (Campaign, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Campaign{}, err
	}
	if c.Status != StatusDraft {
		return Campaign{}, errs.E(errs.Conflict, "campaign is %s; only a draft can be started", c.Status)
	}
	if err := s.gate(ctx); err != nil {
		return Campaign{}, err
	}
	ses, err := s.o.Sessions.FindSession(ctx, c.SessionID)
	if err != nil || ses.Desired == sessions.DesiredDeleted {
		return Campaign{}, errs.E(errs.Conflict, "the campaign's session no longer exists")
	}
	if ses.Status != sessions.StatusConnected {
		return Campaign{}, errs.E(errs.Conflict, "session %s is %s; connect it before starting the campaign", ses.ID, ses.Status)
	}
	now := s.o.Now().UTC()
	to, delay := StatusRunning, time.Duration(0)
	if c.ScheduleAt.After(now) {
		to, delay = StatusScheduled, c.ScheduleAt.Sub(now)
	}
	if s.o.Quota != nil {
		// The whole audience is reserved now, so a campaign that would
		// exceed the plan is refused instead of stopping half sent.
		n, err := s.audienceSize(ctx, c)
		if err != nil {
			return Campaign{}, err
		}
		if err := s.o.Quota.ReserveCampaign(ctx, c.ID, n); err != nil {
			return Campaign{}, err
		}
	}
	c, err = s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusDraft}, to, "", now)
	if err != nil {
		if s.o.Quota != nil {
			if serr := s.o.Quota.SettleCampaign(ctx, id, 0); serr != nil {
				logging.Or(ctx, s.o.Logger).WarnContext(ctx, "campaign quota not released", "campaign_id", id, "error", serr.Error())
			}
		}
		return Campaign{}, err
	}
	if err := s.o.Jobs.Enqueue(ctx, c.AccountID, c.ID, delay); err != nil {
		return Campaign{}, fmt.Errorf("enqueue fan-out: %w", err)
	}
	logging.Or(ctx, s.o.Logger).InfoContext(ctx, "campaign started", "campaign_id", id, "status", string(to))
	return c, nil
}

// Pause stops sending before the next message; fan-out may continue.
func (s *Service) Pause(ctx context.Context, id, reason string) (Campaign, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Campaign{}, err
	}
	c, err := s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusRunning, StatusScheduled}, StatusPaused, reason, s.o.Now().UTC())
	if errs.Is(err, errs.Conflict) {
		return Campaign{}, errs.E(errs.Conflict, "only a running or scheduled campaign can be paused")
	}
	return c, err
}

// PauseAll pauses every running or scheduled campaign of the caller with
// reason (billing, restricted); one that ends meanwhile is skipped. It
// returns how many it paused.
func (s *Service) PauseAll(ctx context.Context, reason string) (int, error) {
	return s.each(ctx, func(c Campaign) bool {
		return c.Status == StatusRunning || c.Status == StatusScheduled
	}, func(id string) error { _, err := s.Pause(ctx, id, reason); return err })
}

// ResumeAll resumes the caller's campaigns paused with reason, and only
// those: a campaign the customer paused stays paused. It returns how many
// it resumed.
func (s *Service) ResumeAll(ctx context.Context, reason string) (int, error) {
	return s.each(ctx, func(c Campaign) bool {
		return c.Status == StatusPaused && c.StatusReason == reason
	}, func(id string) error { _, err := s.Resume(ctx, id); return err })
}

// each applies do to the caller's campaigns that match, counting
// successes; a campaign that changed or vanished meanwhile is skipped.
func (s *Service) each(ctx context.Context, match func(Campaign) bool, do func(id string) error) (int, error) {
	list, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range list {
		if !match(c) {
			continue
		}
		switch err := do(c.ID); {
		case err == nil:
			n++
		case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
		default:
			return n, fmt.Errorf("campaign %s: %w", c.ID, err)
		}
	}
	return n, nil
}

// gate runs the restriction check, if configured.
func (s *Service) gate(ctx context.Context) error {
	if s.o.Gate == nil {
		return nil
	}
	return s.o.Gate(ctx)
}

// Resume continues a paused campaign where it stopped.
func (s *Service) Resume(ctx context.Context, id string) (Campaign, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Campaign{}, err
	}
	if err := s.gate(ctx); err != nil {
		return Campaign{}, err
	}
	c, err := s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusPaused}, StatusRunning, "", s.o.Now().UTC())
	if errs.Is(err, errs.Conflict) {
		return Campaign{}, errs.E(errs.Conflict, "only a paused campaign can be resumed")
	}
	if err != nil {
		return Campaign{}, err
	}
	if !c.FanoutDone {
		if err := s.o.Jobs.Enqueue(ctx, c.AccountID, c.ID, 0); err != nil {
			return Campaign{}, fmt.Errorf("enqueue fan-out: %w", err)
		}
	}
	s.wake(ctx, c)
	return c, nil
}

// Cancel stops the campaign for good; queued messages end skipped.
func (s *Service) Cancel(ctx context.Context, id string) (Campaign, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Campaign{}, err
	}
	c, err := s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusDraft, StatusScheduled, StatusRunning, StatusPaused}, StatusCancelled, ReasonUser, s.o.Now().UTC())
	if errs.Is(err, errs.Conflict) {
		return Campaign{}, errs.E(errs.Conflict, "the campaign already ended")
	}
	if err != nil {
		return Campaign{}, err
	}
	if err := s.o.Jobs.Enqueue(ctx, c.AccountID, c.ID, 0); err != nil { // skips what is still queued
		return Campaign{}, fmt.Errorf("enqueue cancel: %w", err)
	}
	return c, nil
}

// audienceSize is an upper bound of a campaign's recipients: its contact
// ids, or the sum of its tags' contacts (a contact with two of the tags is
// counted twice; the surplus is given back when the fan-out ends).
func (s *Service) audienceSize(ctx context.Context, c Campaign) (int64, error) {
	if len(c.Audience.ContactIDs) > 0 {
		return int64(len(c.Audience.ContactIDs)), nil
	}
	var total int64
	for _, tag := range c.Audience.Tags {
		n, err := s.o.Audience.CountByTag(ctx, tag)
		if err != nil {
			return 0, fmt.Errorf("count audience: %w", err)
		}
		total += n
	}
	return total, nil
}

// settle gives back the quota a campaign reserved but did not queue.
func (s *Service) settle(ctx context.Context, id string) error {
	if s.o.Quota == nil {
		return nil
	}
	c, err := s.o.Store.FindCampaign(ctx, id)
	if err != nil {
		return err
	}
	return s.o.Quota.SettleCampaign(ctx, id, c.Counts.Total-c.Counts.Skipped)
}

func (s *Service) wake(ctx context.Context, c Campaign) {
	if err := s.o.Dispatcher.Wake(ctx, c.AccountID, c.SessionID, c.ID); err != nil {
		logging.Or(ctx, s.o.Logger).WarnContext(ctx, "send wake-up failed", "campaign_id", c.ID, "error", err.Error())
	}
}
