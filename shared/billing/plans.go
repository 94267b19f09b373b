// Package billing is ChatSend's billing domain: plans and their limits,
// what a subscription's status allows (entitlements), quotas enforced where
// work is accepted, and the rules that keep the stored subscription state
// correct although Stripe delivers webhooks at least once and in any order.
// It imports no AWS or Stripe types: storage (Store) and the payment
// provider (Provider) are small interfaces implemented by shared/dynamo and
// shared/stripeapi.
package billing

import (
	"fmt"
	"sort"
	"time"
)

// Limit names one plan limit. The names are part of the API (GET
// /v1/billing and plan-limit problems).
type Limit string

// The limits of a plan.
const (
	LimitSessions                 Limit = "sessions"
	LimitMessagesPerMonth         Limit = "messages_per_month"
	LimitContacts                 Limit = "contacts"
	LimitWebhookEndpoints         Limit = "webhook_endpoints"
	LimitCampaignRecipientsPerDay Limit = "campaign_recipients_per_day"
)

// AllLimits lists every limit in documentation order.
var AllLimits = []Limit{LimitSessions, LimitMessagesPerMonth, LimitContacts, LimitWebhookEndpoints, LimitCampaignRecipientsPerDay}

// Rate reports whether exceeding the limit is a rate problem (429, retry
// later) rather than a plan problem (402, upgrade).
func (l Limit) Rate() bool { return l == LimitCampaignRecipientsPerDay }

// Limits are a plan's allowances.
type Limits struct {
	Sessions                 int64 `json:"sessions"`
	MessagesPerMonth         int64 `json:"messages_per_month"`
	Contacts                 int64 `json:"contacts"`
	WebhookEndpoints         int64 `json:"webhook_endpoints"`
	CampaignRecipientsPerDay int64 `json:"campaign_recipients_per_day"`
}

// Of returns the allowance of one limit.
func (l Limits) Of(k Limit) int64 {
	switch k {
	case LimitSessions:
		return l.Sessions
	case LimitMessagesPerMonth:
		return l.MessagesPerMonth
	case LimitContacts:
		return l.Contacts
	case LimitWebhookEndpoints:
		return l.WebhookEndpoints
	case LimitCampaignRecipientsPerDay:
		return l.CampaignRecipientsPerDay
	}
	return 0
}

// Plan is one plan a customer can be on.
type Plan struct {
	// ID is the plan's name in the API ("free", "starter", "pro").
	ID string `json:"id"`
	// PriceID is the Stripe price of the plan's subscription; empty for
	// free and for plans not configured on this deployment.
	PriceID string `json:"-"`
	// Rank orders plans from small to large.
	Rank   int    `json:"-"`
	Limits Limits `json:"limits"`
}

// Plan ids.
const (
	PlanFree    = "free"
	PlanStarter = "starter"
	PlanPro     = "pro"
)

// DefaultLimits are the limits of the built-in plans. Prices come from the
// environment (CHATSEND_STRIPE_PRICE_<PLAN>), limits from here.
var DefaultLimits = map[string]Limits{
	PlanFree:    {Sessions: 1, MessagesPerMonth: 500, Contacts: 500, WebhookEndpoints: 1, CampaignRecipientsPerDay: 100},
	PlanStarter: {Sessions: 3, MessagesPerMonth: 10_000, Contacts: 10_000, WebhookEndpoints: 5, CampaignRecipientsPerDay: 2_000},
	PlanPro:     {Sessions: 10, MessagesPerMonth: 100_000, Contacts: 100_000, WebhookEndpoints: 20, CampaignRecipientsPerDay: 20_000},
}

// Override returns limits with the named allowances replaced (plans as
// configuration: CHATSEND_PLAN_LIMITS_<PLAN>).
func (l Limits) Override(values map[string]int64) (Limits, error) {
	for k, v := range values {
		switch Limit(k) {
		case LimitSessions:
			l.Sessions = v
		case LimitMessagesPerMonth:
			l.MessagesPerMonth = v
		case LimitContacts:
			l.Contacts = v
		case LimitWebhookEndpoints:
			l.WebhookEndpoints = v
		case LimitCampaignRecipientsPerDay:
			l.CampaignRecipientsPerDay = v
		default:
			return l, fmt.Errorf("billing: unknown limit %q; use one of %v", k, AllLimits)
		}
	}
	return l, nil
}

// Catalog is the set of plans of a deployment.
type Catalog struct {
	plans map[string]Plan
}

// NewCatalog builds the plans from limits per plan id and the Stripe price
// ids per plan id (from the environment). The free plan must exist.
func NewCatalog(limits map[string]Limits, prices map[string]string) (Catalog, error) {
	if _, ok := limits[PlanFree]; !ok {
		return Catalog{}, fmt.Errorf("billing: the plans need a %q plan", PlanFree)
	}
	ids := make([]string, 0, len(limits))
	for id := range limits {
		ids = append(ids, id)
	}
	// Rank by message allowance: the larger plan is the upgrade.
	sort.Slice(ids, func(i, j int) bool { return limits[ids[i]].MessagesPerMonth < limits[ids[j]].MessagesPerMonth })
	c := Catalog{plans: map[string]Plan{}}
	for rank, id := range ids {
		c.plans[id] = Plan{ID: id, PriceID: prices[id], Rank: rank, Limits: limits[id]}
	}
	for id := range prices {
		if _, ok := c.plans[id]; !ok {
			return Catalog{}, fmt.Errorf("billing: a price is configured for unknown plan %q", id)
		}
	}
	return c, nil
}

// MustDefaultCatalog is the built-in plans with the given prices; it
// panics on a programming error.
func MustDefaultCatalog(prices map[string]string) Catalog {
	c, err := NewCatalog(DefaultLimits, prices)
	if err != nil {
		panic(err)
	}
	return c
}

// Free returns the free plan.
func (c Catalog) Free() Plan { return c.plans[PlanFree] }

// Plan returns a plan by id.
func (c Catalog) Plan(id string) (Plan, bool) {
	p, ok := c.plans[id]
	return p, ok
}

// ByPrice returns the plan sold at a Stripe price.
func (c Catalog) ByPrice(priceID string) (Plan, bool) {
	if priceID == "" {
		return Plan{}, false
	}
	for _, p := range c.plans {
		if p.PriceID == priceID {
			return p, true
		}
	}
	return Plan{}, false
}

// Purchasable lists the plans that have a price, smallest first.
func (c Catalog) Purchasable() []Plan {
	var out []Plan
	for _, p := range c.plans {
		if p.PriceID != "" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rank < out[j].Rank })
	return out
}

// DefaultGracePeriod is how long a past-due subscription keeps full access.
const DefaultGracePeriod = 7 * 24 * time.Hour
