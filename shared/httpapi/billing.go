package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/stripeapi"
)

// BillingJSON is GET /v1/billing.
type BillingJSON struct {
	Plan               string          `json:"plan" doc:"The plan whose limits apply now." example:"starter"`
	SubscribedPlan     string          `json:"subscribed_plan" doc:"The plan of the subscription (free without one)."`
	Status             string          `json:"status" enum:"none,trialing,active,past_due,incomplete,incomplete_expired,unpaid,canceled,paused"`
	CurrentPeriodStart *time.Time      `json:"current_period_start"`
	CurrentPeriodEnd   *time.Time      `json:"current_period_end"`
	CancelAtPeriodEnd  bool            `json:"cancel_at_period_end"`
	SendingAllowed     bool            `json:"sending_allowed" doc:"false when sending is suspended (past due after the grace period)."`
	GraceEndsAt        *time.Time      `json:"grace_ends_at" doc:"End of the past-due grace period."`
	Warning            string          `json:"warning,omitempty" doc:"What needs the customer's attention."`
	BillingConfigured  bool            `json:"billing_configured" doc:"false when this deployment has no Stripe keys: the free plan applies."`
	Usage              []billing.Usage `json:"usage" doc:"Usage against every limit of the plan."`
}

type (
	billingOutput struct{ Body BillingJSON }
	checkoutInput struct {
		Body struct {
			Plan string `json:"plan" maxLength:"40" example:"starter" doc:"The plan to subscribe to."`
		}
	}
	urlOutput struct {
		Body struct {
			URL string `json:"url" doc:"Where to send the customer's browser."`
		}
	}
)

func (s *Server) billingRoutes() {
	tags := []string{"Billing"}
	svc := s.billing
	register(s, huma.Operation{OperationID: "get-billing", Method: "GET", Path: "/v1/billing", Summary: "Plan, subscription and usage",
		Description: "The plan whose limits apply, the subscription's status and period, a warning when payment needs attention, and usage against every limit.",
		Tags:        tags}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*billingOutput, error) {
			o, err := svc.Overview(ctx)
			if err != nil {
				return nil, err
			}
			a, st := o.Access, o.State
			return &billingOutput{Body: BillingJSON{Plan: a.Plan.ID, SubscribedPlan: a.Subscribed.ID, Status: string(a.Status),
				CurrentPeriodStart: optTime(st.CurrentPeriodStart), CurrentPeriodEnd: optTime(st.CurrentPeriodEnd),
				CancelAtPeriodEnd: st.CancelAtPeriodEnd, SendingAllowed: a.SendingAllowed, GraceEndsAt: optTime(a.GraceEndsAt),
				Warning: a.Warning, BillingConfigured: svc.Configured(), Usage: o.Usage}}, nil
		})
	register(s, huma.Operation{OperationID: "create-checkout", Method: "POST", Path: "/v1/billing/checkout", Summary: "Subscribe to a plan",
		Description: "Creates a Stripe Checkout Session (subscription mode) for the account's Stripe customer and returns its URL. " +
			"503 unavailable when billing is not configured on the deployment; 409 when a subscription is already active (use the portal).",
		Tags: tags, Errors: []int{409, 503}}, accounts.ScopeFull,
		func(ctx context.Context, in *checkoutInput) (*urlOutput, error) {
			url, err := svc.Checkout(ctx, in.Body.Plan)
			if err != nil {
				return nil, err
			}
			out := &urlOutput{}
			out.Body.URL = url
			return out, nil
		})
	register(s, huma.Operation{OperationID: "create-portal", Method: "POST", Path: "/v1/billing/portal", Summary: "Open the customer portal",
		Description: "Returns a Stripe Customer Portal URL for the caller's own customer (payment method, invoices, plan changes). " +
			"503 unavailable when billing is not configured.",
		Tags: tags, Errors: []int{503}}, accounts.ScopeFull,
		func(ctx context.Context, _ *struct{}) (*urlOutput, error) {
			url, err := svc.Portal(ctx)
			if err != nil {
				return nil, err
			}
			out := &urlOutput{}
			out.Body.URL = url
			return out, nil
		})
	if s.stripeWebhook != nil {
		s.mux.Handle("POST /stripe/webhook", s.stripeWebhook)
	}
}

// maxStripeEvent bounds a Stripe webhook body (Stripe's events are far
// smaller).
const maxStripeEvent = 512 << 10

// StripeWebhook is the POST /stripe/webhook handler: it verifies the
// Stripe-Signature against the exact body bytes, then hands the event to
// billing. Bad or missing signatures get 400 and nothing is written;
// unknown event types 200; a processing failure 500, so Stripe retries.
type StripeWebhook struct {
	Verifier *stripeapi.Verifier // nil: billing is not configured
	Billing  *billing.Service
	Log      *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *StripeWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := logging.Or(ctx, h.Log)
	if h.Verifier == nil {
		writeProblem(w, r, fromError(ctx, errs.E(errs.Unavailable, "billing is not configured on this deployment")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxStripeEvent+1))
	if err != nil || len(body) > maxStripeEvent {
		writeProblem(w, r, newProblem(400, "", "the body could not be read or is too large"))
		return
	}
	// The Lambda proxy adapter splits comma-separated header values
	// ("t=…,v1=…") into several values: join them back.
	ev, err := h.Verifier.Verify(body, strings.Join(r.Header.Values("Stripe-Signature"), ","))
	switch {
	case errors.Is(err, stripeapi.ErrAPIVersion):
		log.ErrorContext(ctx, "stripe event refused: api version differs; set the webhook endpoint's API version",
			"expected_api_version", stripeapi.APIVersion, "error", err.Error())
		writeProblem(w, r, newProblem(400, "", "the event's API version is not "+stripeapi.APIVersion))
		return
	case err != nil:
		log.WarnContext(ctx, "stripe webhook signature rejected", "error", err.Error())
		writeProblem(w, r, newProblem(400, "", "invalid Stripe-Signature"))
		return
	}
	outcome, err := h.Billing.HandleEvent(ctx, ev)
	if err != nil {
		writeProblem(w, r, fromError(ctx, err))
		return
	}
	if outcome == billing.OutcomeInProgress {
		writeProblem(w, r, newProblem(409, "", "this event is being processed by another delivery; retry later"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = jsonEncode(w, map[string]any{"received": true, "outcome": outcome})
}
