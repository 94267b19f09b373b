package billing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Options configure a Service.
type Options struct {
	Store Store
	// Provider is Stripe; nil when no Stripe keys are configured: the
	// free plan applies and checkout and portal answer 503.
	Provider  Provider
	Plans     Catalog
	Usage     UsageSource
	Campaigns CampaignControl
	Notifier  Notifier
	// Grace is the past-due grace period (DefaultGracePeriod when zero).
	Grace time.Duration
	// BaseURL is the public API's base URL, for upgrade and return links.
	BaseURL string
	// EventLease bounds how long a claimed Stripe event stays claimed by
	// an attempt that neither finishes nor abandons it (a crash).
	EventLease time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Service is the billing service: entitlements and quotas, checkout and
// portal, Stripe webhook processing, reconciliation, export and erasure.
type Service struct{ o Options }

// NewService returns a Service, filling in defaults.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGracePeriod
	}
	if o.EventLease <= 0 {
		o.EventLease = 2 * time.Minute
	}
	if o.Plans.plans == nil {
		o.Plans = MustDefaultCatalog(nil)
	}
	return &Service{o: o}
}

// Configured reports whether Stripe is configured.
func (s *Service) Configured() bool { return s.o.Provider != nil }

// Plans returns the catalog.
func (s *Service) Plans() Catalog { return s.o.Plans }

func (s *Service) log(ctx context.Context) *slog.Logger { return logging.Or(ctx, s.o.Logger) }

// state reads the caller's billing state; none stored is the zero state.
func (s *Service) state(ctx context.Context) (State, error) {
	st, err := s.o.Store.FindBillingState(ctx)
	if errs.Is(err, errs.NotFound) {
		acct, terr := tenant.AccountID(ctx)
		return State{AccountID: acct, Status: StatusNone}, terr
	}
	if err != nil {
		return State{}, fmt.Errorf("read billing state: %w", err)
	}
	return st, nil
}

// Access returns what the caller's account may do now, with its state.
func (s *Service) Access(ctx context.Context) (Access, State, error) {
	st, err := s.state(ctx)
	if err != nil {
		return Access{}, State{}, err
	}
	return Evaluate(st, s.o.Plans, s.o.Grace, s.o.Now()), st, nil
}

// Usage is the use of one limit.
type Usage struct {
	Limit   Limit `json:"limit"`
	Used    int64 `json:"used"`
	Allowed int64 `json:"allowed"`
}

// Overview is GET /v1/billing.
type Overview struct {
	Access Access
	State  State
	Usage  []Usage
}

// Overview returns the caller's plan, subscription and usage against every
// limit.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	a, st, err := s.Access(ctx)
	if err != nil {
		return Overview{}, err
	}
	o := Overview{Access: a, State: st}
	for _, l := range AllLimits {
		used, err := s.used(ctx, l)
		if err != nil {
			return Overview{}, err
		}
		o.Usage = append(o.Usage, Usage{Limit: l, Used: used, Allowed: a.Plan.Limits.Of(l)})
	}
	return o, nil
}

func monthKey(t time.Time) string { return "M#" + t.UTC().Format("2006-01") }
func dayKey(t time.Time) string   { return "D#" + t.UTC().Format(time.DateOnly) }

// used returns the current use of a limit.
func (s *Service) used(ctx context.Context, l Limit) (int64, error) {
	var (
		n   int64
		err error
	)
	switch l {
	case LimitSessions:
		n, err = s.o.Usage.CountSessions(ctx)
	case LimitContacts:
		n, err = s.o.Usage.CountContacts(ctx)
	case LimitWebhookEndpoints:
		n, err = s.o.Usage.CountWebhookEndpoints(ctx)
	case LimitMessagesPerMonth:
		n, err = s.o.Store.Used(ctx, monthKey(s.o.Now()))
	case LimitCampaignRecipientsPerDay:
		n, err = s.o.Store.Used(ctx, dayKey(s.o.Now()))
	default:
		return 0, fmt.Errorf("unknown limit %q", l)
	}
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", l, err)
	}
	return n, nil
}

// upgradeURL is where a customer raises a limit.
func (s *Service) upgradeURL() string { return s.o.BaseURL + "/v1/billing/checkout" }

// limitError is the 402 (plan) or 429 (rate) problem for a limit.
func (s *Service) limitError(a Access, l Limit, used, adding int64) error {
	allowed := a.Plan.Limits.Of(l)
	e := &errs.Error{Code: errs.PaymentRequired, Limit: &errs.LimitInfo{Name: string(l), Usage: used, Allowed: allowed, UpgradeURL: s.upgradeURL()}}
	what := fmt.Sprintf("%s: %d used of %d allowed on the %s plan", l, used, allowed, a.Plan.ID)
	if adding > 1 {
		what += fmt.Sprintf(", and this needs %d more", adding)
	}
	if l.Rate() {
		now := s.o.Now().UTC()
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
		e.Code, e.RetryAfterSeconds = errs.RateLimited, int(midnight.Sub(now).Seconds())+1
		e.Message = "daily limit reached — " + what + "; it resets at 00:00 UTC, or upgrade the plan (POST /v1/billing/checkout)"
		return e
	}
	e.Message = "plan limit reached — " + what + "; upgrade the plan (POST /v1/billing/checkout)"
	return e
}

// Check refuses adding more of a counted resource (sessions, contacts,
// webhook endpoints) beyond the plan's limit. The count and the write are
// not atomic: two concurrent creates can pass one over the limit, which is
// acceptable for these slow-moving resources (messages use Reserve).
func (s *Service) Check(ctx context.Context, l Limit, adding int64) error {
	a, _, err := s.Access(ctx)
	if err != nil {
		return err
	}
	used, err := s.used(ctx, l)
	if err != nil {
		return err
	}
	if used+adding > a.Plan.Limits.Of(l) {
		s.log(ctx).InfoContext(ctx, "plan limit reached", "limit", string(l), "used", used, "allowed", a.Plan.Limits.Of(l))
		return s.limitError(a, l, used, adding)
	}
	return nil
}

// Remaining returns how much of a limit is left (never negative).
func (s *Service) Remaining(ctx context.Context, l Limit) (int64, error) {
	a, _, err := s.Access(ctx)
	if err != nil {
		return 0, err
	}
	used, err := s.used(ctx, l)
	if err != nil {
		return 0, err
	}
	return max(a.Plan.Limits.Of(l)-used, 0), nil
}

// suspended is the problem when sending is not allowed.
func (s *Service) suspended(a Access) error {
	return &errs.Error{Code: errs.PaymentRequired, Message: a.Warning,
		Limit: &errs.LimitInfo{Name: "sending", Usage: 0, Allowed: 0, UpgradeURL: s.o.BaseURL + "/v1/billing/portal"}}
}

// ReserveMessages reserves n messages of this month's quota before they
// are queued; Release gives back those that end up not sent.
func (s *Service) ReserveMessages(ctx context.Context, n int64) error {
	a, _, err := s.Access(ctx)
	if err != nil {
		return err
	}
	if !a.SendingAllowed {
		return s.suspended(a)
	}
	limit := a.Plan.Limits.MessagesPerMonth
	ok, used, err := s.o.Store.Reserve(ctx, Reservation{Key: monthKey(s.o.Now()), N: n, Limit: limit})
	if err != nil {
		return fmt.Errorf("reserve messages: %w", err)
	}
	if !ok {
		return s.limitError(a, LimitMessagesPerMonth, used, n)
	}
	return nil
}

// ReleaseMessages gives back n reserved messages of this month (a message
// that was skipped, or a send that failed before it was queued).
func (s *Service) ReleaseMessages(ctx context.Context, n int64) error {
	if err := s.o.Store.Release(ctx, monthKey(s.o.Now()), n); err != nil {
		return fmt.Errorf("release messages: %w", err)
	}
	return nil
}

// ReserveCampaign reserves a campaign's whole audience at start, against
// the day's campaign recipients (429) and the month's messages (402), in
// one atomic write: a campaign that does not fit is refused, not half sent.
func (s *Service) ReserveCampaign(ctx context.Context, campaignID string, recipients int64) error {
	a, _, err := s.Access(ctx)
	if err != nil {
		return err
	}
	if !a.SendingAllowed {
		return s.suspended(a)
	}
	now := s.o.Now()
	rs := []Reservation{
		{Key: monthKey(now), N: recipients, Limit: a.Plan.Limits.MessagesPerMonth},
		{Key: dayKey(now), N: recipients, Limit: a.Plan.Limits.CampaignRecipientsPerDay},
	}
	failed, err := s.o.Store.ReserveCampaign(ctx, campaignID, rs)
	if err != nil {
		return fmt.Errorf("reserve campaign %s: %w", campaignID, err)
	}
	if failed < 0 {
		return nil
	}
	limit := []Limit{LimitMessagesPerMonth, LimitCampaignRecipientsPerDay}[failed]
	used, err := s.o.Store.Used(ctx, rs[failed].Key)
	if err != nil {
		return fmt.Errorf("read usage: %w", err)
	}
	s.log(ctx).InfoContext(ctx, "campaign refused by plan limit", "campaign_id", campaignID, "limit", string(limit),
		"recipients", recipients, "used", used)
	e := s.limitError(a, limit, used, recipients).(*errs.Error)
	e.Message = fmt.Sprintf("the campaign's %d recipients do not fit: %s", recipients, e.Message)
	return e
}

// SettleCampaign releases what a campaign reserved but did not queue
// (suppressed, missing or duplicate recipients); it runs once per campaign.
func (s *Service) SettleCampaign(ctx context.Context, campaignID string, used int64) error {
	released, err := s.o.Store.SettleCampaign(ctx, campaignID, used)
	if err != nil {
		return fmt.Errorf("settle campaign %s: %w", campaignID, err)
	}
	if released > 0 {
		s.log(ctx).DebugContext(ctx, "campaign quota settled", "campaign_id", campaignID, "released", released)
	}
	return nil
}

// notConfigured is the answer of checkout and portal without Stripe keys.
func notConfigured() error {
	return errs.E(errs.Unavailable, "billing is not configured on this deployment (no Stripe keys); the free plan applies")
}

// customer returns the caller's Stripe customer, creating it once: the
// Stripe idempotency key is derived from the account id, so concurrent
// first calls get the same customer, and the conditional store write keeps
// the first one.
func (s *Service) customer(ctx context.Context) (string, error) {
	st, err := s.state(ctx)
	if err != nil {
		return "", err
	}
	if st.CustomerID != "" {
		return st.CustomerID, nil
	}
	// A customer deleted at Stripe gets a successor: another key.
	key := "chatsend-customer-" + st.AccountID
	if st.Version > 0 {
		key += fmt.Sprintf("-%d", st.Version)
	}
	cus, err := s.o.Provider.CreateCustomer(ctx, st.AccountID, key)
	if err != nil {
		return "", fmt.Errorf("create stripe customer: %w", err)
	}
	stored, err := s.o.Store.AttachCustomer(ctx, cus, s.o.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("store stripe customer: %w", err)
	}
	if stored == cus {
		s.log(ctx).InfoContext(ctx, "stripe customer created", "customer_id", cus)
	}
	return stored, nil
}

// Checkout starts a Checkout Session for a plan and returns its URL.
func (s *Service) Checkout(ctx context.Context, planID string) (string, error) {
	if s.o.Provider == nil {
		return "", notConfigured()
	}
	plan, ok := s.o.Plans.Plan(planID)
	if !ok || plan.PriceID == "" {
		var names []string
		for _, p := range s.o.Plans.Purchasable() {
			names = append(names, p.ID)
		}
		return "", errs.InvalidFields(errs.FieldError{Field: "body.plan", Message: fmt.Sprintf("plan must be one of %v", names)})
	}
	a, st, err := s.Access(ctx)
	if err != nil {
		return "", err
	}
	if st.SubscriptionID != "" && (a.Status == StatusActive || a.Status == StatusTrialing || a.Status == StatusPastDue) {
		return "", errs.E(errs.Conflict, "the account already has a %s subscription; change or cancel it in the customer portal (POST /v1/billing/portal)", a.Status)
	}
	cus, err := s.customer(ctx)
	if err != nil {
		return "", err
	}
	url, err := s.o.Provider.CreateCheckoutSession(ctx, CheckoutRequest{AccountID: st.AccountID, CustomerID: cus, PriceID: plan.PriceID,
		SuccessURL: s.o.BaseURL + "/v1/billing?checkout=success", CancelURL: s.o.BaseURL + "/v1/billing?checkout=cancelled",
		IdempotencyKey: "chatsend-checkout-" + st.AccountID + "-" + plan.ID + "-" + randomHex(8)})
	if err != nil {
		return "", fmt.Errorf("create checkout session: %w", err)
	}
	s.log(ctx).InfoContext(ctx, "checkout session created", "plan", plan.ID, "customer_id", cus)
	return url, nil
}

// Portal opens the Customer Portal for the caller's own customer.
func (s *Service) Portal(ctx context.Context) (string, error) {
	if s.o.Provider == nil {
		return "", notConfigured()
	}
	cus, err := s.customer(ctx)
	if err != nil {
		return "", err
	}
	url, err := s.o.Provider.CreatePortalSession(ctx, cus, s.o.BaseURL+"/v1/billing")
	if err != nil {
		return "", fmt.Errorf("create portal session: %w", err)
	}
	return url, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// HandleEvent processes a verified Stripe event exactly once: the event id
// is claimed with a conditional write (a lease, so a crashed attempt can be
// taken over); a failed attempt drops its claim and returns the error, so
// Stripe's retry processes it again; a duplicate finds the claim done (or
// in progress, and is told to retry). State is never taken from the event
// itself: the current objects are re-fetched from Stripe and stored newer
// wins, so order does not matter.
func (s *Service) HandleEvent(ctx context.Context, ev Event) (Outcome, error) {
	log := s.log(ctx).With("stripe_event_id", ev.ID, "stripe_event_type", ev.Type)
	if !slices.Contains(HandledEvents, ev.Type) {
		log.DebugContext(ctx, "stripe event ignored")
		return OutcomeIgnored, nil
	}
	if s.o.Provider == nil {
		return "", errs.E(errs.Unavailable, "billing is not configured")
	}
	owner := randomHex(12)
	claim, err := s.o.Store.ClaimStripeEvent(ctx, ev.ID, ev.Type, owner, s.o.Now().Add(s.o.EventLease))
	if err != nil {
		return "", fmt.Errorf("claim stripe event: %w", err)
	}
	switch {
	case claim.Done:
		log.InfoContext(ctx, "stripe event duplicate")
		return OutcomeDuplicate, nil
	case !claim.Won:
		log.InfoContext(ctx, "stripe event in progress elsewhere")
		return OutcomeInProgress, nil
	}
	acct, err := s.process(ctx, ev)
	if err != nil {
		if aerr := s.o.Store.AbandonStripeEvent(ctx, ev.ID, owner); aerr != nil {
			log.WarnContext(ctx, "stripe event claim not dropped; it expires", "error", aerr.Error())
		}
		return "", fmt.Errorf("process stripe event %s: %w", ev.ID, err)
	}
	if err := s.o.Store.FinishStripeEvent(ctx, ev.ID, owner, acct); err != nil {
		return "", fmt.Errorf("finish stripe event: %w", err)
	}
	log.InfoContext(ctx, "stripe event processed", "tenant_id", acct)
	return OutcomeProcessed, nil
}

// process applies one event; it returns the account it concerned ("" if
// none).
func (s *Service) process(ctx context.Context, ev Event) (string, error) {
	log := s.log(ctx).With("stripe_event_id", ev.ID)
	switch ev.Type {
	case EventCheckoutCompleted:
		if ev.AccountID != "" && ev.CustomerID != "" {
			// The customer was created by us before checkout; this only
			// repairs a mapping lost in between.
			if _, err := s.o.Store.AttachCustomer(tenant.With(ctx, ev.AccountID), ev.CustomerID, s.o.Now().UTC()); err != nil {
				return "", err
			}
		}
		return s.SyncCustomer(ctx, ev.CustomerID)
	case EventInvoicePaid, EventInvoicePaymentFailed, EventInvoiceActionRequired:
		inv, err := s.o.Provider.GetInvoice(ctx, ev.ObjectID)
		if err != nil {
			return "", fmt.Errorf("fetch invoice: %w", err)
		}
		if err := s.record(ctx, inv); err != nil {
			return "", err
		}
		if ev.Type != EventInvoicePaid {
			log.WarnContext(ctx, "invoice payment needs attention", "invoice_id", inv.ID, "customer_id", inv.CustomerID)
		}
		return s.SyncCustomer(ctx, inv.CustomerID)
	case EventChargeRefunded:
		ch, err := s.o.Provider.GetCharge(ctx, ev.ObjectID)
		if err != nil {
			return "", fmt.Errorf("fetch charge: %w", err)
		}
		if ch.InvoiceID == "" {
			log.InfoContext(ctx, "refund of a charge without invoice", "charge_id", ch.ID)
			return s.accountOf(ctx, ch.CustomerID)
		}
		inv, err := s.o.Provider.GetInvoice(ctx, ch.InvoiceID)
		if err != nil {
			return "", fmt.Errorf("fetch invoice: %w", err)
		}
		inv.AmountRefunded = ch.AmountRefunded
		if err := s.record(ctx, inv); err != nil {
			return "", err
		}
		return s.accountOf(ctx, inv.CustomerID)
	case EventCustomerDeleted:
		return s.customerDeleted(ctx, ev.CustomerID)
	default: // subscription events
		if ev.Type == EventSubscriptionTrialEnds {
			log.InfoContext(ctx, "trial ends soon", "customer_id", ev.CustomerID)
		}
		return s.SyncCustomer(ctx, ev.CustomerID)
	}
}

// accountOf resolves a customer to its account; "" for a customer that is
// not ChatSend's.
func (s *Service) accountOf(ctx context.Context, customerID string) (string, error) {
	if customerID == "" {
		return "", nil
	}
	acct, err := s.o.Store.AccountByCustomer(ctx, customerID)
	if errs.Is(err, errs.NotFound) {
		s.log(ctx).WarnContext(ctx, "stripe customer of no account", "customer_id", customerID)
		return "", nil
	}
	return acct, err
}

// record stores an invoice as a billing record of its customer's account.
func (s *Service) record(ctx context.Context, inv Invoice) error {
	acct, err := s.accountOf(ctx, inv.CustomerID)
	if err != nil || acct == "" {
		return err
	}
	r := Record{InvoiceID: inv.ID, Number: inv.Number, Status: inv.Status, Currency: inv.Currency, AmountDue: inv.AmountDue,
		AmountPaid: inv.AmountPaid, AmountRefunded: inv.AmountRefunded, PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd, Created: inv.Created}
	if err := s.o.Store.PutBillingRecord(tenant.With(ctx, acct), r); err != nil {
		return fmt.Errorf("store billing record: %w", err)
	}
	return nil
}

// statusRank orders subscriptions when a customer has several: the live
// one decides access.
func statusRank(st Status) int {
	switch st {
	case StatusActive, StatusTrialing, StatusPastDue:
		return 3
	case StatusPaused, StatusUnpaid, StatusIncomplete:
		return 2
	}
	return 1
}

// current picks the subscription that decides access.
func current(subs []Subscription) (Subscription, bool) {
	if len(subs) == 0 {
		return Subscription{}, false
	}
	best := subs[0]
	for _, sub := range subs[1:] {
		if r, b := statusRank(sub.Status), statusRank(best.Status); r > b || r == b && sub.Created.After(best.Created) {
			best = sub
		}
	}
	return best, true
}

// SyncCustomer re-reads a customer's subscriptions from Stripe and stores
// the one that decides access (newer snapshot wins), then applies the
// effects of a status change. It returns the customer's account ("" when
// the customer is not ChatSend's). Idempotent.
func (s *Service) SyncCustomer(ctx context.Context, customerID string) (string, error) {
	acct, err := s.accountOf(ctx, customerID)
	if err != nil || acct == "" {
		return acct, err
	}
	ctx = tenant.With(ctx, acct)
	subs, err := s.o.Provider.CustomerSubscriptions(ctx, customerID)
	if errors.Is(err, ErrNoSuchObject) {
		return acct, s.customerGone(ctx, acct, customerID)
	}
	if err != nil {
		return "", fmt.Errorf("list subscriptions of %s: %w", customerID, err)
	}
	version := s.o.Now().UnixMicro() // taken after the read: a later read has a larger version
	prev, err := s.state(ctx)
	if err != nil {
		return "", err
	}
	next := prev
	next.AccountID, next.CustomerID, next.Version = acct, customerID, version
	if sub, ok := current(subs); ok {
		next.SubscriptionID, next.Status, next.PriceID = sub.ID, sub.Status, sub.PriceID
		next.CurrentPeriodStart, next.CurrentPeriodEnd, next.CancelAtPeriodEnd = sub.CurrentPeriodStart, sub.CurrentPeriodEnd, sub.CancelAtPeriodEnd
		next.PlanID = ""
		if p, ok := s.o.Plans.ByPrice(sub.PriceID); ok {
			next.PlanID = p.ID
		} else {
			s.log(ctx).WarnContext(ctx, "subscription price of no configured plan; free limits apply", "subscription_id", sub.ID)
		}
	} else {
		next.SubscriptionID, next.Status, next.PriceID, next.PlanID = "", StatusNone, "", ""
		next.CurrentPeriodStart, next.CurrentPeriodEnd, next.CancelAtPeriodEnd = time.Time{}, time.Time{}, false
	}
	return acct, s.save(ctx, prev, next)
}

// customerDeleted handles customer.deleted: after checking with Stripe
// that the customer is really gone (the event may be stale), it records it.
func (s *Service) customerDeleted(ctx context.Context, customerID string) (string, error) {
	acct, err := s.accountOf(ctx, customerID)
	if err != nil || acct == "" {
		return acct, err
	}
	c, err := s.o.Provider.GetCustomer(ctx, customerID)
	switch {
	case err == nil && !c.Deleted:
		return s.SyncCustomer(ctx, customerID) // stale: the customer exists
	case err != nil && !errors.Is(err, ErrNoSuchObject):
		return "", fmt.Errorf("fetch customer: %w", err)
	}
	return acct, s.customerGone(ctx, acct, customerID)
}

// customerGone records that the account's Stripe customer is gone: no
// subscription, and a new customer is created on the next checkout.
func (s *Service) customerGone(ctx context.Context, acct, customerID string) error {
	ctx = tenant.With(ctx, acct)
	version := s.o.Now().UnixMicro()
	prev, err := s.state(ctx)
	if err != nil {
		return err
	}
	if prev.CustomerID != customerID {
		return nil
	}
	next := State{AccountID: acct, Status: StatusNone, Version: version, Transitions: prev.Transitions}
	if prev.SubscriptionID != "" {
		next.Status = StatusCanceled
	}
	if err := s.save(ctx, prev, next); err != nil {
		return err
	}
	return s.o.Store.DetachCustomer(ctx, customerID)
}

// save stores next over prev (newer wins) and applies the effects of the
// change: campaigns paused or resumed for billing, and a
// billing.status_changed event for a new status.
func (s *Service) save(ctx context.Context, prev, next State) error {
	now := s.o.Now().UTC()
	if next.Status == StatusPastDue {
		if prev.Status != StatusPastDue || prev.PastDueSince.IsZero() {
			next.PastDueSince = now
		}
	} else {
		next.PastDueSince = time.Time{}
	}
	changed := prev.Status != next.Status && !(prev.Status == "" && next.Status == StatusNone)
	if changed {
		next.Transitions = prev.Transitions + 1
	}
	next.UpdatedAt = now
	saved, err := s.o.Store.SaveBillingState(ctx, next)
	if err != nil {
		return fmt.Errorf("save billing state: %w", err)
	}
	log := s.log(ctx).With("tenant_id", next.AccountID)
	if !saved {
		log.InfoContext(ctx, "billing snapshot older than the stored one; kept the newer")
		return nil
	}
	before := Evaluate(prev, s.o.Plans, s.o.Grace, now)
	after := Evaluate(next, s.o.Plans, s.o.Grace, now)
	if err := s.applyCampaigns(ctx, before, after); err != nil {
		return err
	}
	if !changed {
		return nil
	}
	from := prev.Status
	if from == "" {
		from = StatusNone
	}
	log.InfoContext(ctx, "billing status changed", "from", string(from), "to", string(next.Status), "plan", after.Plan.ID)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", next.AccountID, next.Version, next.Status))
	c := StatusChange{ID: "evt_" + hex.EncodeToString(sum[:16]), From: from, To: next.Status, Plan: after.Plan.ID,
		SubscriptionID: next.SubscriptionID, SendingAllowed: after.SendingAllowed, At: now}
	if s.o.Notifier != nil {
		if err := s.o.Notifier.StatusChanged(ctx, c); err != nil {
			return fmt.Errorf("notify status change: %w", err)
		}
	}
	return nil
}

// applyCampaigns pauses running campaigns when access becomes restricted
// and resumes those paused for billing when it returns.
func (s *Service) applyCampaigns(ctx context.Context, before, after Access) error {
	if s.o.Campaigns == nil || before.Restricted == after.Restricted {
		return nil
	}
	if after.Restricted {
		n, err := s.o.Campaigns.PauseForBilling(ctx)
		if err != nil {
			return fmt.Errorf("pause campaigns for billing: %w", err)
		}
		s.log(ctx).InfoContext(ctx, "campaigns paused for billing", "campaigns", n)
		return nil
	}
	n, err := s.o.Campaigns.ResumeAfterBilling(ctx)
	if err != nil {
		return fmt.Errorf("resume campaigns after billing: %w", err)
	}
	s.log(ctx).InfoContext(ctx, "campaigns resumed after billing", "campaigns", n)
	return nil
}

// Reconcile re-syncs every account's subscription from the Stripe API (for
// after an outage or lost webhooks) and applies time-based changes such as
// the end of a past-due grace period. Idempotent; it returns how many
// accounts it synced.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	if s.o.Provider == nil {
		return 0, notConfigured()
	}
	var n, failed int
	err := s.o.Store.EachBillingState(ctx, func(st State) error {
		if st.CustomerID == "" {
			return nil
		}
		if _, err := s.SyncCustomer(ctx, st.CustomerID); err != nil {
			failed++
			s.log(ctx).ErrorContext(ctx, "reconcile failed for an account", "tenant_id", st.AccountID, "error", err.Error())
			return nil
		}
		// Grace periods end without an event: apply the campaign effects.
		sctx := tenant.With(ctx, st.AccountID)
		if cur, err := s.state(sctx); err == nil {
			a := Evaluate(cur, s.o.Plans, s.o.Grace, s.o.Now())
			if a.Restricted && cur.Status == StatusPastDue && s.o.Campaigns != nil {
				if _, err := s.o.Campaigns.PauseForBilling(sctx); err != nil {
					failed++
				}
			}
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("reconcile: %w", err)
	}
	s.log(ctx).InfoContext(ctx, "billing reconciled", "accounts", n, "failed", failed)
	if failed > 0 {
		return n, fmt.Errorf("reconcile: %d accounts failed", failed)
	}
	return n, nil
}

// ExportBilling returns the caller's billing summary and billing records,
// for a data export (package privacy).
func (s *Service) ExportBilling(ctx context.Context) (map[string]any, error) {
	a, st, err := s.Access(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := s.o.Store.ListBillingRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("list billing records: %w", err)
	}
	summary := map[string]any{"plan": a.Plan.ID, "status": string(a.Status), "stripe_customer_id": st.CustomerID,
		"subscription_id": st.SubscriptionID, "cancel_at_period_end": st.CancelAtPeriodEnd}
	if !st.CurrentPeriodEnd.IsZero() {
		summary["current_period_start"], summary["current_period_end"] = st.CurrentPeriodStart, st.CurrentPeriodEnd
	}
	return map[string]any{"summary": summary, "billing_records": recs}, nil
}

// EraseBilling deletes the caller's Stripe customer (one already gone is
// fine) and billing state, keeping the billing records the law requires;
// it returns what was kept and why. Safe to repeat.
func (s *Service) EraseBilling(ctx context.Context) ([]string, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	if st.CustomerID != "" {
		if s.o.Provider == nil {
			return nil, errs.E(errs.Unavailable, "billing is not configured: the Stripe customer cannot be deleted now")
		}
		if err := s.o.Provider.DeleteCustomer(ctx, st.CustomerID); err != nil && !errors.Is(err, ErrNoSuchObject) {
			return nil, fmt.Errorf("delete stripe customer: %w", err)
		}
	}
	if err := s.o.Store.DeleteBillingState(ctx); err != nil {
		return nil, fmt.Errorf("delete billing state: %w", err)
	}
	recs, err := s.o.Store.ListBillingRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("list billing records: %w", err)
	}
	s.log(ctx).InfoContext(ctx, "billing erased", "kept_records", len(recs))
	if len(recs) == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("%d billing record(s) (invoice number, amount, currency, status, period, date) are kept for 10 years "+
		"from their creation: tax and accounting law requires invoices to be retained, also after the account is erased", len(recs))}, nil
}
