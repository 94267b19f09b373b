package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/httpapi"
	"github.com/chatsend/chatsend/shared/stripeapi"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// buildBilling wires the billing service. Without a Stripe API key there
// is no provider: the free plan applies and checkout answers 503.
func buildBilling(cfg config.Config, db *dynamo.DB, deps *Deps, log *slog.Logger, t Tuning) (*billing.Service, error) {
	limits := map[string]billing.Limits{}
	for id, l := range billing.DefaultLimits {
		var err error
		if limits[id], err = l.Override(cfg.Stripe.PlanLimits[id]); err != nil {
			return nil, err
		}
	}
	plans, err := billing.NewCatalog(limits, cfg.Stripe.Prices)
	if err != nil {
		return nil, err
	}
	var provider billing.Provider
	if cfg.Stripe.SecretKey != "" {
		provider = stripeapi.New(cfg.Stripe.SecretKey, cfg.Stripe.APIURL, log)
	}
	return billing.NewService(billing.Options{Store: db, Provider: provider, Plans: plans, Usage: db,
		Campaigns: billingCampaigns{deps: deps}, Notifier: billingNotifier{deps: deps}, Grace: cfg.Stripe.Grace,
		BaseURL: cfg.PublicBaseURL, Logger: log, Now: t.Now}), nil
}

// StripeWebhook returns the POST /stripe/webhook handler (functions/stripe-webhook
// and the local API server).
func (d *Deps) StripeWebhook() http.Handler {
	h := &httpapi.StripeWebhook{Billing: d.Billing, Log: d.Log}
	if len(d.Config.Stripe.WebhookSecrets) > 0 && d.Billing.Configured() {
		h.Verifier = stripeapi.NewVerifier(d.Config.Stripe.WebhookSecrets)
	}
	return h
}

// billingCampaigns pauses and resumes campaigns for billing.
type billingCampaigns struct{ deps *Deps }

var _ billing.CampaignControl = billingCampaigns{}

// PauseForBilling implements billing.CampaignControl.
func (b billingCampaigns) PauseForBilling(ctx context.Context) (int, error) {
	return b.deps.Campaigns.PauseAll(ctx, campaigns.ReasonBilling)
}

// ResumeAfterBilling implements billing.CampaignControl: only campaigns
// paused for billing, never those the customer paused.
func (b billingCampaigns) ResumeAfterBilling(ctx context.Context) (int, error) {
	return b.deps.Campaigns.ResumeAll(ctx, campaigns.ReasonBilling)
}

// billingNotifier sends billing.status_changed webhooks.
type billingNotifier struct{ deps *Deps }

var _ billing.Notifier = billingNotifier{}

// StatusChanged implements billing.Notifier.
func (b billingNotifier) StatusChanged(ctx context.Context, c billing.StatusChange) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode status change: %w", err)
	}
	return b.deps.Webhooks.Emit(ctx, webhooks.Envelope{ID: c.ID, Type: webhooks.BillingStatusChanged, CreatedAt: c.At, Data: data}, "")
}
