package billing

import (
	"context"
	"errors"
	"time"
)

// Subscription is a Stripe subscription as billing needs it.
type Subscription struct {
	ID                 string
	CustomerID         string
	Status             Status
	PriceID            string
	CurrentPeriodStart time.Time
	CurrentPeriodEnd   time.Time
	CancelAtPeriodEnd  bool
	Created            time.Time
}

// Customer is a Stripe customer as billing needs it.
type Customer struct {
	ID      string
	Deleted bool
}

// Invoice is a Stripe invoice as billing records it.
type Invoice struct {
	ID             string
	Number         string
	CustomerID     string
	Status         string
	Currency       string
	AmountDue      int64
	AmountPaid     int64
	AmountRefunded int64
	PeriodStart    time.Time
	PeriodEnd      time.Time
	Created        time.Time
}

// Charge is a Stripe charge as billing needs it (refunds).
type Charge struct {
	ID             string
	CustomerID     string
	InvoiceID      string
	AmountRefunded int64
}

// CheckoutRequest asks for a Checkout Session in subscription mode.
type CheckoutRequest struct {
	AccountID  string
	CustomerID string
	PriceID    string
	SuccessURL string
	CancelURL  string
	// IdempotencyKey makes a retried request create one session.
	IdempotencyKey string
}

// ErrNoSuchObject is returned by a Provider when Stripe does not know the
// object (or it was deleted).
var ErrNoSuchObject = errors.New("no such stripe object")

// Provider is the payment provider (Stripe, shared/stripeapi).
type Provider interface {
	// CreateCustomer creates the account's customer; the idempotency key
	// makes concurrent or retried calls return the same customer.
	CreateCustomer(ctx context.Context, accountID, idempotencyKey string) (string, error)
	CreateCheckoutSession(ctx context.Context, r CheckoutRequest) (url string, err error)
	CreatePortalSession(ctx context.Context, customerID, returnURL string) (url string, err error)
	// CustomerSubscriptions lists every subscription of the customer, in
	// any status.
	CustomerSubscriptions(ctx context.Context, customerID string) ([]Subscription, error)
	GetCustomer(ctx context.Context, id string) (Customer, error)
	GetInvoice(ctx context.Context, id string) (Invoice, error)
	GetCharge(ctx context.Context, id string) (Charge, error)
	// DeleteCustomer deletes a customer; one that is gone already is not
	// an error.
	DeleteCustomer(ctx context.Context, id string) error
}

// Record is an invoice kept as a billing record: the legal remainder kept
// for 10 years, also after the account is erased.
type Record struct {
	InvoiceID      string    `json:"invoice_id"`
	Number         string    `json:"number"`
	Status         string    `json:"status"`
	Currency       string    `json:"currency"`
	AmountDue      int64     `json:"amount_due"`
	AmountPaid     int64     `json:"amount_paid"`
	AmountRefunded int64     `json:"amount_refunded"`
	PeriodStart    time.Time `json:"period_start"`
	PeriodEnd      time.Time `json:"period_end"`
	Created        time.Time `json:"created"`
}

// Claim is the outcome of claiming a Stripe event for processing.
type Claim struct {
	// Won is true when this caller may process the event.
	Won bool
	// Done is true when the event was processed already.
	Done bool
}

// Reservation asks to add N to a usage counter without passing Limit.
type Reservation struct {
	// Key names the counter ("M#2026-11", "D#2026-11-25").
	Key   string
	N     int64
	Limit int64
}

// Store persists billing state. Methods marked tenant-scoped take the
// account from the context.
type Store interface {
	// FindBillingState returns the account's state (tenant-scoped);
	// errs.NotFound when it has none.
	FindBillingState(ctx context.Context) (State, error)
	// AttachCustomer records the account's Stripe customer and its global
	// mapping unless the account has one already; it returns the stored
	// customer id (tenant-scoped).
	AttachCustomer(ctx context.Context, customerID string, at time.Time) (string, error)
	// SaveBillingState writes st if the stored version is older (newer
	// wins); false when a newer snapshot is stored (tenant-scoped).
	SaveBillingState(ctx context.Context, st State) (bool, error)
	// DetachCustomer deletes the customer mapping (the customer was
	// deleted at Stripe).
	DetachCustomer(ctx context.Context, customerID string) error
	// AccountByCustomer resolves a Stripe customer to its account;
	// errs.NotFound for an unknown customer.
	AccountByCustomer(ctx context.Context, customerID string) (string, error)
	// EachBillingState calls f with every account's state.
	EachBillingState(ctx context.Context, f func(State) error) error
	// DeleteBillingState deletes the state and the customer mapping
	// (tenant-scoped); billing records stay.
	DeleteBillingState(ctx context.Context) error
	// PutBillingRecord stores or refreshes an invoice record (tenant-scoped).
	PutBillingRecord(ctx context.Context, r Record) error
	// ListBillingRecords lists the account's records (tenant-scoped).
	ListBillingRecords(ctx context.Context) ([]Record, error)

	// ClaimStripeEvent claims an event id for owner until the lease ends;
	// an expired claim of a crashed attempt can be taken over.
	ClaimStripeEvent(ctx context.Context, id, typ, owner string, until time.Time) (Claim, error)
	// FinishStripeEvent marks owner's claimed event processed.
	FinishStripeEvent(ctx context.Context, id, owner, accountID string) error
	// AbandonStripeEvent drops owner's claim so a retry can process it.
	AbandonStripeEvent(ctx context.Context, id, owner string) error

	// Reserve adds r.N to a usage counter if it stays within r.Limit
	// (tenant-scoped); false (and the current use) when it would not.
	Reserve(ctx context.Context, r Reservation) (ok bool, used int64, err error)
	// Release subtracts n from a usage counter, not below zero.
	Release(ctx context.Context, key string, n int64) error
	// Used reads a usage counter (0 when absent).
	Used(ctx context.Context, key string) (int64, error)
	// ReserveCampaign reserves all rs atomically and remembers the first
	// (the month's) for SettleCampaign; failed is the index of the
	// reservation that did not fit, or -1 (tenant-scoped).
	ReserveCampaign(ctx context.Context, campaignID string, rs []Reservation) (failed int, err error)
	// SettleCampaign releases what a campaign reserved beyond used; a
	// later call with less used (a cancel skipped more) releases the
	// difference. Each release happens once; it returns what it released
	// (tenant-scoped).
	SettleCampaign(ctx context.Context, campaignID string, used int64) (int64, error)
}

// UsageSource counts what an account has now (tenant-scoped).
type UsageSource interface {
	CountSessions(ctx context.Context) (int64, error)
	CountContacts(ctx context.Context) (int64, error)
	CountWebhookEndpoints(ctx context.Context) (int64, error)
}

// CampaignControl pauses and resumes an account's campaigns for billing
// (tenant-scoped).
type CampaignControl interface {
	// PauseForBilling pauses running and scheduled campaigns with reason
	// billing.
	PauseForBilling(ctx context.Context) (int, error)
	// ResumeAfterBilling resumes the campaigns paused for billing only.
	ResumeAfterBilling(ctx context.Context) (int, error)
}

// StatusChange is a billing.status_changed event.
type StatusChange struct {
	// ID is fixed per transition, so a repeat is delivered once.
	ID             string    `json:"-"`
	From           Status    `json:"from"`
	To             Status    `json:"to"`
	Plan           string    `json:"plan"`
	SubscriptionID string    `json:"subscription_id,omitempty"`
	SendingAllowed bool      `json:"sending_allowed"`
	At             time.Time `json:"at"`
}

// Notifier tells the account about status changes (customer webhooks;
// tenant-scoped).
type Notifier interface {
	StatusChanged(ctx context.Context, c StatusChange) error
}

// Event is a verified Stripe webhook event, reduced to what billing needs.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// ObjectID is data.object.id.
	ObjectID string
	// CustomerID is data.object.customer (the object id for customer
	// events).
	CustomerID string
	// AccountID is a checkout session's client_reference_id.
	AccountID string
}

// Event types handled.
const (
	EventCheckoutCompleted     = "checkout.session.completed"
	EventSubscriptionCreated   = "customer.subscription.created"
	EventSubscriptionUpdated   = "customer.subscription.updated"
	EventSubscriptionDeleted   = "customer.subscription.deleted"
	EventSubscriptionPaused    = "customer.subscription.paused"
	EventSubscriptionResumed   = "customer.subscription.resumed"
	EventSubscriptionTrialEnds = "customer.subscription.trial_will_end"
	EventInvoicePaid           = "invoice.paid"
	EventInvoicePaymentFailed  = "invoice.payment_failed"
	EventInvoiceActionRequired = "invoice.payment_action_required"
	EventChargeRefunded        = "charge.refunded"
	EventCustomerDeleted       = "customer.deleted"
)

// HandledEvents lists the Stripe event types billing acts on.
var HandledEvents = []string{EventCheckoutCompleted, EventSubscriptionCreated, EventSubscriptionUpdated,
	EventSubscriptionDeleted, EventSubscriptionPaused, EventSubscriptionResumed, EventSubscriptionTrialEnds,
	EventInvoicePaid, EventInvoicePaymentFailed, EventInvoiceActionRequired, EventChargeRefunded, EventCustomerDeleted}

// Outcome is what HandleEvent did with an event.
type Outcome string

// Outcomes.
const (
	OutcomeProcessed  Outcome = "processed"
	OutcomeDuplicate  Outcome = "duplicate"
	OutcomeIgnored    Outcome = "ignored"
	OutcomeInProgress Outcome = "in_progress"
)
