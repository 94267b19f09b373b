package billing

import (
	"fmt"
	"time"
)

// Status is a subscription's status as Stripe names it, or StatusNone for
// an account without a subscription.
type Status string

// Subscription statuses (Stripe API 2023-10-16).
const (
	StatusNone              Status = "none"
	StatusTrialing          Status = "trialing"
	StatusActive            Status = "active"
	StatusPastDue           Status = "past_due"
	StatusIncomplete        Status = "incomplete"
	StatusIncompleteExpired Status = "incomplete_expired"
	StatusUnpaid            Status = "unpaid"
	StatusCanceled          Status = "canceled"
	StatusPaused            Status = "paused"
)

// Statuses lists every status, for table tests and documentation.
var Statuses = []Status{StatusNone, StatusTrialing, StatusActive, StatusPastDue, StatusIncomplete,
	StatusIncompleteExpired, StatusUnpaid, StatusCanceled, StatusPaused}

// State is an account's stored billing state: the latest snapshot of its
// Stripe customer and subscription.
type State struct {
	AccountID      string
	CustomerID     string
	SubscriptionID string
	Status         Status
	// PlanID is the plan of the subscription's price ("" without one).
	PlanID             string
	PriceID            string
	CurrentPeriodStart time.Time
	CurrentPeriodEnd   time.Time
	CancelAtPeriodEnd  bool
	// PastDueSince is when the subscription was first seen past_due in
	// its current run of past_due (zero otherwise); the grace period
	// counts from it.
	PastDueSince time.Time
	// Version orders snapshots: the time (µs) the snapshot was read from
	// Stripe. A write succeeds only over an older version (newer wins).
	Version int64
	// Transitions counts the status changes applied so far.
	Transitions int64
	UpdatedAt   time.Time
}

// Access is what an account may do now.
type Access struct {
	// Status is the subscription status the access derives from.
	Status Status
	// Subscribed is the plan the customer pays for (free without one).
	Subscribed Plan
	// Plan is the plan whose limits apply now.
	Plan Plan
	// SendingAllowed is false when sending is suspended (past due after
	// the grace period).
	SendingAllowed bool
	// Restricted means running campaigns are paused with reason billing.
	Restricted bool
	// GraceEndsAt is the end of the past-due grace period (zero if none).
	GraceEndsAt time.Time
	// Warning tells the customer what to do, when something is wrong.
	Warning string
}

// Evaluate decides an account's access from its billing state:
// trialing/active get the plan's limits; past_due keeps them for the grace
// period (with a warning), then sending is suspended; incomplete,
// incomplete_expired, unpaid, canceled and paused fall back to the free
// plan's limits and pause running campaigns. An unknown plan or status
// also falls back to free, failing safe.
func Evaluate(st State, plans Catalog, grace time.Duration, now time.Time) Access {
	free := plans.Free()
	status := st.Status
	if status == "" {
		status = StatusNone
	}
	a := Access{Status: status, Subscribed: free, Plan: free, SendingAllowed: true}
	paid, known := plans.Plan(st.PlanID)
	switch status {
	case StatusNone:
	case StatusTrialing, StatusActive:
		if known {
			a.Subscribed, a.Plan = paid, paid
		}
		if st.CancelAtPeriodEnd && !st.CurrentPeriodEnd.IsZero() {
			a.Warning = fmt.Sprintf("the subscription ends on %s; the free plan applies after that", st.CurrentPeriodEnd.UTC().Format(time.DateOnly))
		}
	case StatusPastDue:
		if known {
			a.Subscribed, a.Plan = paid, paid
		}
		since := st.PastDueSince
		if since.IsZero() {
			since = now
		}
		a.GraceEndsAt = since.Add(grace)
		if now.Before(a.GraceEndsAt) {
			a.Warning = fmt.Sprintf("the last payment failed; update the payment method (POST /v1/billing/portal) before %s or sending will be suspended",
				a.GraceEndsAt.UTC().Format(time.RFC3339))
		} else {
			a.SendingAllowed, a.Restricted = false, true
			a.Warning = "sending is suspended because the subscription is past due; update the payment method (POST /v1/billing/portal)"
		}
	default: // incomplete, incomplete_expired, unpaid, canceled, paused, unknown
		a.Restricted = true
		if known {
			a.Subscribed = paid
		}
		a.Warning = fmt.Sprintf("the subscription is %s: the free plan's limits apply and campaigns are paused until it is active again", status)
	}
	return a
}
