package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Id prefixes of webhook objects.
const (
	EndpointPrefix = "whe"
	DeliveryPrefix = "whd"
	EventPrefix    = "evt"
)

// RotationOverlap is how long a rotated-out secret keeps signing.
const RotationOverlap = 24 * time.Hour

// Limits of an endpoint definition.
const (
	maxEndpoints   = 20
	maxURLLength   = 2048
	maxSessionIDs  = 100
	maxDescription = 500
)

// Tuning is the retry and disable policy; the zero value is production's.
type Tuning struct {
	// Schedule is the delay after the n-th failed attempt; when it runs
	// out the delivery is dead. Each delay gets ±10 % jitter.
	Schedule []time.Duration
	// DisableAfterDead disables an endpoint after this many consecutive
	// dead deliveries (default 5).
	DisableAfterDead int
	// DisableAfterFailing disables an endpoint that has failed every
	// attempt for this long (default 24 h).
	DisableAfterFailing time.Duration
	// MaxDelay caps one queue delay (SQS: 15 min); longer waits chain.
	MaxDelay time.Duration
}

// DefaultSchedule retries for about three days (67.6 h over 12 attempts).
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Options configure a Service.
type Options struct {
	Store Store
	Jobs  Jobs
	// Sealer encrypts signing secrets; nil means secrets are not
	// configured and endpoints cannot be created (503).
	Sealer *Sealer
	// HTTP sends deliveries: a netguard client (dial-time SSRF checks, no
	// redirects, 10 s timeout).
	HTTP *http.Client
	// AllowLoopback accepts plain-http loopback URLs (local stage only).
	AllowLoopback bool
	Tuning        Tuning
	Logger        *slog.Logger
	Now           func() time.Time
	// Quota enforces the plan's endpoint limit (nil: only maxEndpoints).
	Quota Quota
}

// Quota enforces a plan limit (package billing).
type Quota interface {
	// Check refuses adding more of a limited resource beyond the plan.
	Check(ctx context.Context, l billing.Limit, adding int64) error
}

// Service manages endpoints and delivers events.
type Service struct{ o Options }

// NewService returns a Service, filling in defaults.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTP == nil {
		o.HTTP = netguard.NewClient(netguard.Options{AllowLoopback: o.AllowLoopback})
	}
	if len(o.Tuning.Schedule) == 0 {
		o.Tuning.Schedule = DefaultSchedule
	}
	if o.Tuning.DisableAfterDead == 0 {
		o.Tuning.DisableAfterDead = 5
	}
	if o.Tuning.DisableAfterFailing == 0 {
		o.Tuning.DisableAfterFailing = 24 * time.Hour
	}
	if o.Tuning.MaxDelay == 0 {
		o.Tuning.MaxDelay = 15 * time.Minute
	}
	return &Service{o: o}
}

// log returns the request's logger, or the service's outside requests.
func (s *Service) log(ctx context.Context) *slog.Logger { return logging.Or(ctx, s.o.Logger) }

// EndpointInput creates or changes an endpoint; nil fields are unchanged
// on update.
type EndpointInput struct {
	URL         *string
	Events      []string
	SessionIDs  []string
	Description *string
	Enabled     *bool
}

func (s *Service) validate(in EndpointInput, create bool) error {
	var f errs.Fields
	if in.URL != nil || create {
		f.Add("body.url", s.checkURL(deref(in.URL)))
	}
	if in.Events != nil || create {
		f.Add("body.events", checkEvents(in.Events))
	}
	if len(in.SessionIDs) > maxSessionIDs {
		f.Add("body.session_ids", fmt.Sprintf("at most %d sessions", maxSessionIDs))
	}
	for _, id := range in.SessionIDs {
		if !ids.Valid(ids.Session, id) {
			f.Add("body.session_ids", fmt.Sprintf("%q is not a session id", id))
			break
		}
	}
	if in.Description != nil && len(*in.Description) > maxDescription {
		f.Add("body.description", fmt.Sprintf("at most %d characters", maxDescription))
	}
	return f.Err()
}

// checkURL returns why raw cannot be an endpoint URL, or "". netguard
// checks literal addresses; names are checked again at every dial.
func (s *Service) checkURL(raw string) string {
	if raw == "" {
		return "required"
	}
	if len(raw) > maxURLLength {
		return fmt.Sprintf("at most %d characters", maxURLLength)
	}
	if err := netguard.CheckURL(raw, s.o.AllowLoopback); err != nil {
		return "refused: " + err.Error() + " (webhooks need a public https URL)"
	}
	u, _ := url.Parse(raw)
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	// "localhost." and *.localhost name loopback by definition (RFC 6761).
	if (host == "localhost" || strings.HasSuffix(host, ".localhost")) && !s.o.AllowLoopback {
		return "refused: " + netguard.ErrBlocked.Error() + ": " + host
	}
	if u.Scheme == "http" && !isLoopbackHost(host) {
		return "must use https"
	}
	return ""
}

func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func checkEvents(events []string) string {
	if len(events) == 0 {
		return "subscribe to at least one event type, or \"*\" for all"
	}
	for _, e := range events {
		if e != AllEvents && !slices.Contains(EventTypes, e) {
			return fmt.Sprintf("unknown event type %q; use one of %s or \"*\"", e, strings.Join(EventTypes, ", "))
		}
	}
	return ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func normalise(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Service) sealer() (*Sealer, error) {
	if s.o.Sealer == nil {
		return nil, errs.E(errs.Unavailable, "webhook signing is not configured on this deployment")
	}
	return s.o.Sealer, nil
}

// CreateEndpoint registers an endpoint and returns it with its signing
// secret, which is shown only now.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput) (Endpoint, string, error) {
	if err := s.validate(in, true); err != nil {
		return Endpoint{}, "", err
	}
	sealer, err := s.sealer()
	if err != nil {
		return Endpoint{}, "", err
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Endpoint{}, "", err
	}
	existing, err := s.o.Store.FindWebhookEndpoints(ctx)
	if err != nil {
		return Endpoint{}, "", err
	}
	if len(existing) >= maxEndpoints {
		return Endpoint{}, "", errs.E(errs.Conflict, "an account can have at most %d webhook endpoints", maxEndpoints)
	}
	if s.o.Quota != nil {
		if err := s.o.Quota.Check(ctx, billing.LimitWebhookEndpoints, 1); err != nil {
			return Endpoint{}, "", err
		}
	}
	now := s.o.Now().UTC()
	e := Endpoint{ID: ids.NewAt(EndpointPrefix, now), AccountID: acct, URL: *in.URL, Events: normalise(in.Events),
		SessionIDs: normalise(in.SessionIDs), Description: deref(in.Description), Enabled: true, CreatedAt: now, UpdatedAt: now}
	secret := NewSecret()
	e.Secrets = []Secret{{Sealed: sealer.Seal(secret, e.ID), CreatedAt: now}}
	if err := s.o.Store.CreateWebhookEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	s.log(ctx).InfoContext(ctx, "webhook endpoint created", "endpoint_id", e.ID)
	return e, secret, nil
}

// GetEndpoint returns one of the caller's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	if !ids.Valid(EndpointPrefix, id) {
		return Endpoint{}, errs.E(errs.NotFound, "no webhook endpoint %q", id)
	}
	return s.o.Store.FindWebhookEndpoint(ctx, id)
}

// ListEndpoints returns the caller's endpoints, oldest first.
func (s *Service) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	return s.o.Store.FindWebhookEndpoints(ctx)
}

// DeleteEndpoint removes an endpoint; its pending deliveries then fail.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	if _, err := s.GetEndpoint(ctx, id); err != nil {
		return err
	}
	return s.o.Store.DeleteWebhookEndpoint(ctx, id)
}

// modifyEndpoint applies change to a fresh copy of the endpoint and stores
// it, retrying on a concurrent change (optimistic lock on Rev).
func (s *Service) modifyEndpoint(ctx context.Context, id string, change func(*Endpoint) error) (Endpoint, error) {
	for try := 0; ; try++ {
		e, err := s.GetEndpoint(ctx, id)
		if err != nil {
			return Endpoint{}, err
		}
		if err := change(&e); err != nil {
			return Endpoint{}, err
		}
		e.UpdatedAt = s.o.Now().UTC()
		err = s.o.Store.UpdateWebhookEndpoint(ctx, e)
		if err == nil {
			return e, nil
		}
		if !errs.Is(err, errs.Conflict) || try == 4 {
			return Endpoint{}, fmt.Errorf("update webhook endpoint %s: %w", id, err)
		}
	}
}

// UpdateEndpoint changes an endpoint. Re-enabling it clears the disabled
// reason and the failure streak.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, in EndpointInput) (Endpoint, error) {
	if err := s.validate(in, false); err != nil {
		return Endpoint{}, err
	}
	return s.modifyEndpoint(ctx, id, func(e *Endpoint) error {
		if in.URL != nil {
			e.URL = *in.URL
		}
		if in.Events != nil {
			e.Events = normalise(in.Events)
		}
		if in.SessionIDs != nil {
			e.SessionIDs = normalise(in.SessionIDs)
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.Enabled != nil {
			if *in.Enabled && !e.Enabled {
				e.DisabledReason, e.FailureStreak, e.FailingSince = "", 0, time.Time{}
			}
			e.Enabled = *in.Enabled
		}
		return nil
	})
}

// RotateSecret makes a new signing secret and returns it (shown only now);
// the previous one keeps signing alongside for RotationOverlap.
func (s *Service) RotateSecret(ctx context.Context, id string) (Endpoint, string, error) {
	sealer, err := s.sealer()
	if err != nil {
		return Endpoint{}, "", err
	}
	secret := NewSecret()
	e, err := s.modifyEndpoint(ctx, id, func(e *Endpoint) error {
		now := s.o.Now().UTC()
		kept := []Secret{{Sealed: sealer.Seal(secret, e.ID), CreatedAt: now}}
		for i, old := range e.Secrets {
			if i == 0 {
				old.ExpiresAt = now.Add(RotationOverlap)
			}
			if old.ExpiresAt.After(now) {
				kept = append(kept, old)
			}
		}
		e.Secrets = kept
		return nil
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	s.log(ctx).InfoContext(ctx, "webhook secret rotated", "endpoint_id", id)
	return e, secret, nil
}

// Emit delivers env to every enabled endpoint of the account in ctx that
// subscribes to env.Type (and, for session events, to sessionID). The
// delivery id is derived from the endpoint and env.ID, so emitting the
// same event again creates nothing new: a pending delivery that has not
// been attempted yet is only queued again (the worker drops duplicates),
// which repairs an Emit that stored the delivery but failed to queue it.
func (s *Service) Emit(ctx context.Context, env Envelope, sessionID string) error {
	return s.EmitBatch(ctx, []Envelope{env}, sessionID)
}

// EmitBatch is Emit for several events of one session, reading the
// account's endpoints once (a fan-out page reports hundreds at a time).
func (s *Service) EmitBatch(ctx context.Context, envs []Envelope, sessionID string) error {
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return err
	}
	for i := range envs {
		if envs[i].AccountID == "" {
			envs[i].AccountID = acct
		}
		if envs[i].ID == "" || envs[i].Type == "" || envs[i].AccountID != acct {
			return fmt.Errorf("emit: envelope needs an id, a type and the context's account")
		}
	}
	endpoints, err := s.o.Store.FindWebhookEndpoints(ctx)
	if err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	for _, env := range envs {
		for _, e := range endpoints {
			if !e.Subscribed(env.Type, sessionID) {
				continue
			}
			if _, err := s.emitTo(ctx, env, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// SendTest emits a ping event to one endpoint, whatever its subscriptions,
// and returns the delivery.
func (s *Service) SendTest(ctx context.Context, id string) (Delivery, error) {
	e, err := s.GetEndpoint(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	if !e.Enabled {
		return Delivery{}, errs.E(errs.Conflict, "the endpoint is disabled; enable it first")
	}
	now := s.o.Now().UTC()
	data, _ := json.Marshal(map[string]string{"endpoint_id": e.ID, "message": "ping from ChatSend"})
	return s.emitTo(ctx, Envelope{ID: ids.NewAt(EventPrefix, now), Type: Ping, CreatedAt: now, AccountID: e.AccountID, Data: data}, e)
}

// deliveryID derives a delivery's id from its endpoint and event id alone
// (a hash of both), so the same event emitted twice, even with another
// created_at, maps to the same delivery.
func deliveryID(endpointID, eventID string) string {
	var b [16]byte
	sum := sha256.Sum256([]byte(endpointID + "\x00" + eventID))
	copy(b[:], sum[:16])
	return ids.FromBytes(DeliveryPrefix, b)
}

func (s *Service) emitTo(ctx context.Context, env Envelope, e Endpoint) (Delivery, error) {
	if env.CreatedAt.IsZero() {
		return Delivery{}, fmt.Errorf("emit %s: envelope needs created_at", env.ID)
	}
	env.CreatedAt = env.CreatedAt.UTC()
	payload, err := json.Marshal(env)
	if err != nil {
		return Delivery{}, fmt.Errorf("encode envelope %s: %w", env.ID, err)
	}
	now := s.o.Now().UTC()
	d := Delivery{ID: deliveryID(e.ID, env.ID), AccountID: e.AccountID, EndpointID: e.ID, EventID: env.ID, EventType: env.Type,
		Payload: payload, Status: StatusPending, NextRetryAt: now, CreatedAt: now, UpdatedAt: now}
	stored, created, err := s.o.Store.CreateWebhookDelivery(ctx, d)
	if err != nil {
		return Delivery{}, fmt.Errorf("store delivery of %s: %w", env.ID, err)
	}
	if !created && (stored.Status != StatusPending || len(stored.Attempts) > 0) {
		return stored, nil // already under way or done
	}
	if err := s.o.Jobs.EnqueueDelivery(ctx, Job{AccountID: e.AccountID, DeliveryID: d.ID}, 0); err != nil {
		return Delivery{}, fmt.Errorf("queue delivery %s: %w", d.ID, err)
	}
	return stored, nil
}

// ListDeliveries returns an endpoint's deliveries, newest first, after
// cursor (the next_cursor of the previous page).
func (s *Service) ListDeliveries(ctx context.Context, endpointID, cursor string, limit int) ([]Delivery, string, error) {
	if _, err := s.GetEndpoint(ctx, endpointID); err != nil {
		return nil, "", err
	}
	return s.o.Store.FindWebhookDeliveries(ctx, endpointID, cursor, limit)
}

// GetDelivery returns one of the caller's deliveries.
func (s *Service) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	if !ids.Valid(DeliveryPrefix, id) {
		return Delivery{}, errs.E(errs.NotFound, "no webhook delivery %q", id)
	}
	return s.o.Store.FindWebhookDelivery(ctx, id)
}

// Replay queues a new attempt of a delivery now, whatever its status; its
// retry schedule starts again.
func (s *Service) Replay(ctx context.Context, id string) (Delivery, error) {
	d, err := s.GetDelivery(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	now := s.o.Now().UTC()
	d.Status, d.Reason, d.NextRetryAt, d.ScheduleFrom, d.UpdatedAt = StatusPending, "", now, len(d.Attempts), now
	if err := s.o.Store.UpdateWebhookDelivery(ctx, d); err != nil {
		return Delivery{}, fmt.Errorf("replay delivery %s: %w", id, err)
	}
	d.Rev++
	if err := s.o.Jobs.EnqueueDelivery(ctx, Job{AccountID: d.AccountID, DeliveryID: d.ID, Attempt: len(d.Attempts)}, 0); err != nil {
		return Delivery{}, fmt.Errorf("queue replay %s: %w", id, err)
	}
	return d, nil
}
