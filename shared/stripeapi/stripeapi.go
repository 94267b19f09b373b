// Package stripeapi is ChatSend's adapter over stripe-go v76 (Stripe API
// version 2023-10-16): it implements billing.Provider on a client.API whose
// backend URL can point at stripe-mock, and verifies webhook signatures
// (webhook.go). No Stripe type leaves this package.
package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/logging"
)

// Client implements billing.Provider.
type Client struct {
	api *client.API
	log *slog.Logger
}

var _ billing.Provider = (*Client)(nil)

// New returns a client with the secret API key. baseURL overrides the API
// address (stripe-mock in tests and make dev); empty means api.stripe.com.
func New(apiKey, baseURL string, log *slog.Logger) *Client {
	if log == nil {
		log = logging.Discard()
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		// stripe-go's own logging would print request details; errors are
		// returned and logged by the caller instead.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if baseURL != "" {
		cfg.URL = stripe.String(baseURL)
	}
	api := &client.API{}
	api.Init(apiKey, &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	})
	return &Client{api: api, log: log}
}

// missing maps Stripe's "no such object" to billing.ErrNoSuchObject.
func missing(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && (se.Code == stripe.ErrorCodeResourceMissing || se.HTTPStatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: %v", billing.ErrNoSuchObject, err)
	}
	return err
}

func unix(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(t, 0).UTC()
}

// CreateCustomer implements billing.Provider.
func (c *Client) CreateCustomer(ctx context.Context, accountID, idempotencyKey string) (string, error) {
	p := &stripe.CustomerParams{}
	p.Context = ctx
	p.SetIdempotencyKey(idempotencyKey)
	p.AddMetadata("account_id", accountID)
	cus, err := c.api.Customers.New(p)
	if err != nil {
		return "", err
	}
	return cus.ID, nil
}

// CreateCheckoutSession implements billing.Provider.
func (c *Client) CreateCheckoutSession(ctx context.Context, r billing.CheckoutRequest) (string, error) {
	p := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(r.CustomerID),
		ClientReferenceID: stripe.String(r.AccountID),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(r.PriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(r.SuccessURL),
		CancelURL:         stripe.String(r.CancelURL),
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"account_id": r.AccountID},
		},
	}
	p.Context = ctx
	p.SetIdempotencyKey(r.IdempotencyKey)
	s, err := c.api.CheckoutSessions.New(p)
	if err != nil {
		return "", err
	}
	return s.URL, nil
}

// CreatePortalSession implements billing.Provider.
func (c *Client) CreatePortalSession(ctx context.Context, customerID, returnURL string) (string, error) {
	p := &stripe.BillingPortalSessionParams{Customer: stripe.String(customerID), ReturnURL: stripe.String(returnURL)}
	p.Context = ctx
	s, err := c.api.BillingPortalSessions.New(p)
	if err != nil {
		return "", err
	}
	return s.URL, nil
}

// subscription converts a Stripe subscription.
func subscription(s *stripe.Subscription) billing.Subscription {
	out := billing.Subscription{ID: s.ID, Status: billing.Status(s.Status), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		CurrentPeriodStart: unix(s.CurrentPeriodStart), CurrentPeriodEnd: unix(s.CurrentPeriodEnd), Created: unix(s.Created)}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
	}
	if s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
		out.PriceID = s.Items.Data[0].Price.ID
	}
	return out
}

// CustomerSubscriptions implements billing.Provider.
func (c *Client) CustomerSubscriptions(ctx context.Context, customerID string) ([]billing.Subscription, error) {
	p := &stripe.SubscriptionListParams{Customer: stripe.String(customerID), Status: stripe.String("all")}
	p.Context = ctx
	p.Limit = stripe.Int64(100)
	var out []billing.Subscription
	it := c.api.Subscriptions.List(p)
	for it.Next() {
		out = append(out, subscription(it.Subscription()))
	}
	if err := it.Err(); err != nil {
		return nil, missing(err)
	}
	return out, nil
}

// GetCustomer implements billing.Provider.
func (c *Client) GetCustomer(ctx context.Context, id string) (billing.Customer, error) {
	p := &stripe.CustomerParams{}
	p.Context = ctx
	cus, err := c.api.Customers.Get(id, p)
	if err != nil {
		return billing.Customer{}, missing(err)
	}
	return billing.Customer{ID: cus.ID, Deleted: cus.Deleted}, nil
}

// GetInvoice implements billing.Provider.
func (c *Client) GetInvoice(ctx context.Context, id string) (billing.Invoice, error) {
	p := &stripe.InvoiceParams{}
	p.Context = ctx
	inv, err := c.api.Invoices.Get(id, p)
	if err != nil {
		return billing.Invoice{}, missing(err)
	}
	out := billing.Invoice{ID: inv.ID, Number: inv.Number, Status: string(inv.Status), Currency: string(inv.Currency),
		AmountDue: inv.AmountDue, AmountPaid: inv.AmountPaid, PeriodStart: unix(inv.PeriodStart), PeriodEnd: unix(inv.PeriodEnd),
		Created: unix(inv.Created)}
	if inv.Customer != nil {
		out.CustomerID = inv.Customer.ID
	}
	return out, nil
}

// GetCharge implements billing.Provider.
func (c *Client) GetCharge(ctx context.Context, id string) (billing.Charge, error) {
	p := &stripe.ChargeParams{}
	p.Context = ctx
	ch, err := c.api.Charges.Get(id, p)
	if err != nil {
		return billing.Charge{}, missing(err)
	}
	out := billing.Charge{ID: ch.ID, AmountRefunded: ch.AmountRefunded}
	if ch.Customer != nil {
		out.CustomerID = ch.Customer.ID
	}
	if ch.Invoice != nil {
		out.InvoiceID = ch.Invoice.ID
	}
	return out, nil
}

// DeleteCustomer implements billing.Provider.
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	p := &stripe.CustomerParams{}
	p.Context = ctx
	if _, err := c.api.Customers.Del(id, p); err != nil {
		return missing(err)
	}
	return nil
}
