package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/tenant"
)

const (
	whsecOld = "whsec_old_secret_for_tests"
	whsecNew = "whsec_new_secret_for_tests"
)

// billingEnv is a local stack whose Stripe is stripe-mock behind the
// override proxy; two webhook secrets are configured (a roll).
func billingEnv(t *testing.T, extra map[string]string) (*apitest.Env, *localtest.StripeMock) {
	t.Helper()
	sm := localtest.MustStripeMock(t)
	env := map[string]string{"CHATSEND_STAGE": "local", "CHATSEND_STRIPE_SECRET_KEY": "sk_test_123",
		"CHATSEND_STRIPE_API_URL": sm.URL, "CHATSEND_STRIPE_WEBHOOK_SECRETS": whsecOld + "," + whsecNew,
		"CHATSEND_STRIPE_PRICE_STARTER": "price_starter", "CHATSEND_STRIPE_PRICE_PRO": "price_pro"}
	maps.Copy(env, extra)
	return apitest.New(t, app.Tuning{}, env), sm
}

// stripeEvent is the JSON of a Stripe event about obj.
func stripeEvent(id, typ string, obj map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"type": typ, "livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": obj}})
	return b
}

func signed(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// postStripe posts payload to /stripe/webhook with a signature header
// ("" sends none).
func postStripe(e *apitest.Env, payload []byte, header string) apitest.Response {
	c := e.Client()
	if header != "" {
		c.Header.Set("Stripe-Signature", header)
	}
	return c.Do("POST", "/stripe/webhook", payload)
}

// subscription sets the proxy's current subscription for a customer.
func subscription(sm *localtest.StripeMock, id, customer, status, price string) {
	now := time.Now().Unix()
	sm.SetObject(id, map[string]any{"customer": customer, "status": status, "cancel_at_period_end": false,
		"current_period_start": now - 86400, "current_period_end": now + 29*86400, "created": now - 86400,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_" + id, "object": "subscription_item",
			"price": map[string]any{"id": price, "object": "price"}}}}})
}

// customerOf makes (through checkout) and returns the tenant's customer.
func customerOf(t *testing.T, e *apitest.Env, ten apitest.Tenant) string {
	t.Helper()
	r := ten.API.Must(200, "POST", "/v1/billing/checkout", map[string]any{"plan": "starter"})
	if !strings.HasPrefix(r.Str("url"), "https://") {
		t.Fatalf("checkout url: %s", r.Raw)
	}
	st, err := e.Deps.DB.FindBillingState(tenant.With(context.Background(), ten.AccountID))
	if err != nil || st.CustomerID == "" {
		t.Fatalf("billing state after checkout: %+v, %v", st, err)
	}
	return st.CustomerID
}

func billingState(t *testing.T, e *apitest.Env, acct string) billing.State {
	t.Helper()
	st, err := e.Deps.DB.FindBillingState(tenant.With(context.Background(), acct))
	if err != nil {
		t.Fatalf("billing state: %v", err)
	}
	return st
}

func eventStored(t *testing.T, e *apitest.Env, id string) bool {
	t.Helper()
	res, err := e.Clients.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.Deps.DB.Table()),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "STRIPEEVT#" + id},
			"sk": &types.AttributeValueMemberS{Value: "EVENT"}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item != nil
}

func TestBillingWebhookSignatures(t *testing.T) {
	e, sm := billingEnv(t, nil)
	ten := e.SignUp("sig@example.com")
	cus := customerOf(t, e, ten)
	subscription(sm, "sub_sig", cus, "active", "price_starter")
	obj := map[string]any{"id": "sub_sig", "object": "subscription", "customer": cus, "status": "active"}
	now := time.Now()
	otherVersion, _ := json.Marshal(map[string]any{"id": "evt_version", "object": "event", "api_version": "2020-08-27",
		"created": now.Unix(), "type": "customer.subscription.updated", "data": map[string]any{"object": obj}})
	tests := []struct {
		name   string
		body   func(id string) []byte
		header func(body []byte) string
		status int
	}{
		{"valid, current secret", nil, func(b []byte) string { return signed(b, whsecNew, now) }, 200},
		{"valid, rolled-out secret", nil, func(b []byte) string { return signed(b, whsecOld, now) }, 200},
		{"several v1 signatures, one valid", nil, func(b []byte) string {
			good := signed(b, whsecNew, now)
			bad := signed(b, "whsec_unknown", now)
			return bad + ",v1=" + good[strings.Index(good, "v1=")+3:]
		}, 200},
		{"tampered body", nil, func(b []byte) string {
			return signed([]byte(strings.Replace(string(b), "active", "canceled", 1)), whsecNew, now)
		}, 400},
		{"wrong secret", nil, func(b []byte) string { return signed(b, "whsec_wrong", now) }, 400},
		{"stale timestamp", nil, func(b []byte) string { return signed(b, whsecNew, now.Add(-301*time.Second)) }, 400},
		{"future timestamp", nil, func(b []byte) string { return signed(b, whsecNew, now.Add(301*time.Second)) }, 400},
		{"missing header", nil, func([]byte) string { return "" }, 400},
		{"garbage header", nil, func([]byte) string { return "nonsense" }, 400},
		{"other api version", func(string) []byte { return otherVersion }, func(b []byte) string { return signed(b, whsecNew, now) }, 400},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("evt_sig_%d", i)
			body := stripeEvent(id, "customer.subscription.updated", obj)
			if tc.body != nil {
				body = tc.body(id)
			}
			before := sm.Requests("GET", "/v1/subscriptions")
			r := postStripe(e, body, tc.header(body))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if tc.status == 400 {
				// Nothing written, nothing fetched.
				if eventStored(t, e, id) || sm.Requests("GET", "/v1/subscriptions") != before {
					t.Errorf("a rejected event left traces")
				}
			}
		})
	}
	if !strings.Contains(e.Logs.String(), "stripe event refused: api version differs") {
		t.Errorf("no clear log line for the API version mismatch")
	}
	if strings.Contains(e.Logs.String(), whsecNew) {
		t.Errorf("a signing secret was logged")
	}
}

// TestBillingWebhookBase64Body sends the event as API Gateway does for
// binary-looking bodies: base64 in the v2 payload, decoded before the
// signature check.
func TestBillingWebhookBase64Body(t *testing.T) {
	e, sm := billingEnv(t, nil)
	ten := e.SignUp("b64@example.com")
	cus := customerOf(t, e, ten)
	subscription(sm, "sub_b64", cus, "active", "price_starter")
	body := stripeEvent("evt_b64", "customer.subscription.created", map[string]any{"id": "sub_b64", "object": "subscription", "customer": cus})
	proxy := httpadapter.NewV2(e.Deps.StripeWebhook())
	res, err := proxy.ProxyWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /stripe/webhook", RawPath: "/stripe/webhook", IsBase64Encoded: true,
		Body:    base64.StdEncoding.EncodeToString(body),
		Headers: map[string]string{"content-type": "application/json", "stripe-signature": signed(body, whsecNew, time.Now())},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method: "POST", Path: "/stripe/webhook", SourceIP: "203.0.113.7"}},
	})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, %v: %s", res.StatusCode, err, res.Body)
	}
	if st := billingState(t, e, ten.AccountID); st.Status != billing.StatusActive || st.PlanID != "starter" {
		t.Fatalf("state %+v", st)
	}
}

func TestBillingWebhookDedupe(t *testing.T) {
	e, sm := billingEnv(t, nil)
	ten := e.SignUp("dedupe@example.com")
	cus := customerOf(t, e, ten)
	subscription(sm, "sub_dup", cus, "active", "price_starter")
	obj := map[string]any{"id": "sub_dup", "object": "subscription", "customer": cus}

	// The same event 100 times in a row: processed once.
	body := stripeEvent("evt_seq", "customer.subscription.created", obj)
	before := sm.Requests("GET", "/v1/subscriptions")
	outcomes := map[string]int{}
	for range 100 {
		r := postStripe(e, body, signed(body, whsecNew, time.Now()))
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Raw)
		}
		outcomes[r.Str("outcome")]++
	}
	if outcomes["processed"] != 1 || outcomes["duplicate"] != 99 {
		t.Fatalf("sequential outcomes %v", outcomes)
	}
	if n := sm.Requests("GET", "/v1/subscriptions") - before; n != 1 {
		t.Fatalf("%d re-fetches for one event", n)
	}
	st := billingState(t, e, ten.AccountID)
	if st.Status != billing.StatusActive || st.Transitions != 1 {
		t.Fatalf("state %+v", st)
	}

	// Another event 100 times at once: one state change; the others are
	// duplicates or told to retry (409), never processed twice.
	subscription(sm, "sub_dup", cus, "past_due", "price_starter")
	body = stripeEvent("evt_par", "customer.subscription.updated", obj)
	header := signed(body, whsecNew, time.Now())
	before = sm.Requests("GET", "/v1/subscriptions")
	var mu sync.Mutex
	outcomes = map[string]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			r := postStripe(e, body, header)
			key := r.Str("outcome")
			if r.Status == 409 {
				key = "retry"
			} else if r.Status != 200 {
				key = fmt.Sprintf("status %d: %s", r.Status, r.Raw)
			}
			mu.Lock()
			outcomes[key]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if outcomes["processed"] != 1 || outcomes["processed"]+outcomes["duplicate"]+outcomes["retry"] != 100 {
		t.Fatalf("concurrent outcomes %v", outcomes)
	}
	if n := sm.Requests("GET", "/v1/subscriptions") - before; n != 1 {
		t.Fatalf("%d re-fetches for one event", n)
	}
	st = billingState(t, e, ten.AccountID)
	if st.Status != billing.StatusPastDue || st.Transitions != 2 {
		t.Fatalf("state %+v", st)
	}
}

func TestBillingOutOfOrder(t *testing.T) {
	e, sm := billingEnv(t, nil)
	ten := e.SignUp("order@example.com")
	cus := customerOf(t, e, ten)
	send := func(id, typ string, obj map[string]any) {
		t.Helper()
		body := stripeEvent(id, typ, obj)
		if r := postStripe(e, body, signed(body, whsecNew, time.Now())); r.Status != 200 {
			t.Fatalf("%s: %d %s", id, r.Status, r.Raw)
		}
	}
	// Stripe's current truth: active. The events' payloads are stale
	// snapshots; reading them instead of re-fetching would fail this test.
	subscription(sm, "sub_ooo", cus, "active", "price_starter")
	send("evt_upd", "customer.subscription.updated", map[string]any{"id": "sub_ooo", "object": "subscription", "customer": cus, "status": "active"})
	send("evt_cre", "customer.subscription.created", map[string]any{"id": "sub_ooo", "object": "subscription", "customer": cus, "status": "incomplete"})
	if st := billingState(t, e, ten.AccountID); st.Status != billing.StatusActive {
		t.Fatalf("updated(active) then created(incomplete): %s", st.Status)
	}
	r := ten.API.Must(200, "GET", "/v1/billing", nil)
	if r.Str("plan") != "starter" || r.Str("status") != "active" {
		t.Fatalf("billing: %s", r.Raw)
	}

	// invoice.paid, then a stale past_due update: still active.
	sm.SetObject("in_ooo", map[string]any{"customer": cus, "status": "paid", "number": "CS-0001", "amount_paid": 2900,
		"amount_due": 2900, "currency": "eur", "created": time.Now().Unix()})
	send("evt_paid", "invoice.paid", map[string]any{"id": "in_ooo", "object": "invoice", "customer": cus})
	send("evt_stale", "customer.subscription.updated", map[string]any{"id": "sub_ooo", "object": "subscription", "customer": cus, "status": "past_due"})
	if st := billingState(t, e, ten.AccountID); st.Status != billing.StatusActive {
		t.Fatalf("stale past_due after invoice.paid: %s", st.Status)
	}

	// Newer wins in the store: an older snapshot cannot overwrite.
	ctx := tenant.With(context.Background(), ten.AccountID)
	cur := billingState(t, e, ten.AccountID)
	old := cur
	old.Status, old.Version = billing.StatusCanceled, cur.Version-1
	if saved, err := e.Deps.DB.SaveBillingState(ctx, old); err != nil || saved {
		t.Fatalf("older snapshot saved=%v err=%v", saved, err)
	}
	if st := billingState(t, e, ten.AccountID); st.Status != billing.StatusActive {
		t.Fatalf("after an older write: %s", st.Status)
	}

	// The invoice is a billing record; export lists it, erasure keeps it.
	exp, err := e.Deps.Billing.ExportBilling(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if recs := exp["billing_records"].([]billing.Record); len(recs) != 1 || recs[0].Number != "CS-0001" || recs[0].AmountPaid != 2900 {
		t.Fatalf("export: %+v", exp)
	}
	for range 2 { // safe to repeat
		kept, err := e.Deps.Billing.EraseBilling(ctx)
		if err != nil || len(kept) != 1 || !strings.Contains(kept[0], "10 years") {
			t.Fatalf("erase: %v %v", kept, err)
		}
	}
	if n := sm.Requests("DELETE", "/v1/customers/"+cus); n < 1 {
		t.Fatalf("the Stripe customer was not deleted")
	}
	if _, err := e.Deps.DB.FindBillingState(ctx); err == nil {
		t.Fatalf("billing state survived erasure")
	}
	if _, err := e.Deps.DB.AccountByCustomer(ctx, cus); err == nil {
		t.Fatalf("customer mapping survived erasure")
	}
	if recs, _ := e.Deps.DB.ListBillingRecords(ctx); len(recs) != 1 {
		t.Fatalf("billing records after erasure: %d", len(recs))
	}
}

func TestBillingCheckoutAndPortal(t *testing.T) {
	e, sm := billingEnv(t, nil)
	a := e.SignUp("tenant-a@example.com")
	b := e.SignUp("tenant-b@example.com")

	// Concurrent first checkouts: one customer per account.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { a.API.Do("POST", "/v1/billing/checkout", map[string]any{"plan": "starter"}) })
	}
	wg.Wait()
	cusA := billingState(t, e, a.AccountID).CustomerID
	for _, p := range sm.Posts("/v1/customers") {
		if p.IdempotencyKey != "chatsend-customer-"+a.AccountID {
			t.Errorf("customer creation with idempotency key %q", p.IdempotencyKey)
		}
	}
	a.API.Must(200, "POST", "/v1/billing/checkout", map[string]any{"plan": "pro"})
	if got := billingState(t, e, a.AccountID).CustomerID; got != cusA {
		t.Fatalf("customer changed %s → %s", cusA, got)
	}
	posts := sm.Posts("/v1/checkout/sessions")
	last := posts[len(posts)-1]
	f := last.Form
	if f.Get("mode") != "subscription" || f.Get("customer") != cusA || f.Get("client_reference_id") != a.AccountID ||
		f.Get("subscription_data[metadata][account_id]") != a.AccountID || f.Get("line_items[0][price]") != "price_pro" {
		t.Fatalf("checkout session form: %v", f)
	}
	if last.IdempotencyKey == "" || last.IdempotencyKey == "chatsend-customer-"+a.AccountID {
		t.Fatalf("checkout idempotency key %q", last.IdempotencyKey)
	}
	r := a.API.Do("POST", "/v1/billing/checkout", map[string]any{"plan": "gold"})
	if r.Status != 422 {
		t.Fatalf("unknown plan: %d %s", r.Status, r.Raw)
	}

	// Portals: each tenant only ever gets its own customer.
	a.API.Must(200, "POST", "/v1/billing/portal", nil)
	b.API.Must(200, "POST", "/v1/billing/portal", nil)
	cusB := billingState(t, e, b.AccountID).CustomerID
	portals := sm.Posts("/v1/billing_portal/sessions")
	if len(portals) != 2 || portals[0].Form.Get("customer") != cusA || portals[1].Form.Get("customer") != cusB || cusA == cusB {
		t.Fatalf("portal customers: %v (A %s, B %s)", portals, cusA, cusB)
	}
	// A read-only key cannot open the portal.
	ro := a.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "ro", "scope": "read"}).Str("secret")
	if r := e.WithKey(ro).Do("POST", "/v1/billing/portal", nil); r.Status != 403 {
		t.Fatalf("read-only portal: %d", r.Status)
	}
}

func TestBillingNotConfigured(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("free@example.com")
	r := ten.API.Must(200, "GET", "/v1/billing", nil)
	if r.Str("plan") != "free" || r.Str("status") != "none" || r.JSON["billing_configured"] != false {
		t.Fatalf("billing: %s", r.Raw)
	}
	if len(r.JSON["usage"].([]any)) != len(billing.AllLimits) {
		t.Fatalf("usage: %s", r.Raw)
	}
	for _, path := range []string{"/v1/billing/checkout", "/v1/billing/portal"} {
		r := ten.API.Do("POST", path, map[string]any{"plan": "starter"})
		if r.Status != 503 || !strings.Contains(r.Str("detail"), "billing is not configured") {
			t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := e.Client().Do("POST", "/stripe/webhook", "{}"); r.Status != 503 {
		t.Fatalf("webhook without secrets: %d", r.Status)
	}
}

// TestBillingPlanLimits checks the 402 problem shape at the places where
// work is accepted: sessions, contacts, webhook endpoints.
func TestBillingPlanLimits(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local", "CHATSEND_WEBHOOKS_ALLOW_LOOPBACK": "true",
		"CHATSEND_PLAN_LIMITS_FREE": "sessions=1,contacts=2,webhook_endpoints=1,messages_per_month=5,campaign_recipients_per_day=5"})
	ten := e.SignUp("limits@example.com")
	api := ten.API
	api.Must(201, "POST", "/v1/sessions", map[string]any{"label": "one"})
	check := func(r apitest.Response, limit string, usage, allowed float64) {
		t.Helper()
		if r.Status != 402 || r.Str("type") != "https://chatsend.app/problems/plan-limit" || r.Str("limit") != limit ||
			r.JSON["usage"] != usage || r.JSON["allowed"] != allowed || !strings.HasSuffix(r.Str("upgrade_url"), "/v1/billing/checkout") {
			t.Fatalf("%s: %d %s", limit, r.Status, r.Raw)
		}
	}
	check(api.Do("POST", "/v1/sessions", map[string]any{"label": "two"}), "sessions", 1, 1)
	api.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915100000001"})
	api.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915100000002"})
	check(api.Do("POST", "/v1/contacts", map[string]any{"phone": "+4915100000003"}), "contacts", 2, 2)
	api.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"*"}})
	check(api.Do("POST", "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hook2", "events": []string{"*"}}), "webhook_endpoints", 1, 1)
	r := api.Must(200, "GET", "/v1/billing", nil)
	for _, u := range r.JSON["usage"].([]any) {
		m := u.(map[string]any)
		if m["limit"] == "contacts" && (m["used"] != 2.0 || m["allowed"] != 2.0) {
			t.Fatalf("usage: %s", r.Raw)
		}
	}
}

// TestBillingCampaignQuota: a campaign that would exceed the month's
// remaining messages is refused at start (nothing queued); one that fits
// reserves its audience and gives back the suppressed recipients.
func TestBillingCampaignQuota(t *testing.T) {
	env := apitest.Simulator(t)
	env["CHATSEND_PLAN_LIMITS_FREE"] = "sessions=1,messages_per_month=10,campaign_recipients_per_day=100"
	e := campaignEnvWith(t, env)
	ten := e.SignUp("quota@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	for i := range 4 { // 4 of 10 used by single sends
		api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": fmt.Sprintf("+49151222000%02d", i), "text": "hi"})
	}
	seedContacts(t, e, ten.AccountID, "big", 7, 0)
	c := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Too big", "session_id": ses, "template": "Hi",
		"audience": map[string]any{"tags": []string{"big"}}})
	r := api.Do("POST", "/v1/campaigns/"+c.Str("id")+"/start", nil)
	if r.Status != 402 || r.Str("limit") != "messages_per_month" || r.JSON["usage"] != 4.0 || r.JSON["allowed"] != 10.0 ||
		!strings.Contains(r.Str("detail"), "7 recipients do not fit") {
		t.Fatalf("start over quota: %d %s", r.Status, r.Raw)
	}
	got := api.Must(200, "GET", "/v1/campaigns/"+c.Str("id"), nil)
	if got.Str("status") != "draft" || counts(got)["total"] != 0 {
		t.Fatalf("refused campaign: %s", got.Raw)
	}

	// 3 recipients, one suppressed: 3 reserved, 1 given back at fan-out end.
	people := seedContacts(t, e, ten.AccountID, "small", 3, 0)
	sctx := tenant.With(context.Background(), ten.AccountID)
	if _, _, err := e.Deps.DB.AddSuppression(sctx, contacts.Suppression{Phone: people[0].Phone, Reason: contacts.ReasonOptedOut, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c2 := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Fits", "session_id": ses, "template": "Hi",
		"audience": map[string]any{"tags": []string{"small"}}})
	api.Must(200, "POST", "/v1/campaigns/"+c2.Str("id")+"/start", nil)
	apitest.Eventually(t, 60*time.Second, func() string {
		r := api.Must(200, "GET", "/v1/billing", nil)
		for _, u := range r.JSON["usage"].([]any) {
			if m := u.(map[string]any); m["limit"] == "messages_per_month" && m["used"] == 6.0 {
				return ""
			}
		}
		return "usage: " + string(r.Raw)
	})

	// A cancel gives back what it skipped: 4 reserved, the unsent ones
	// return to the month's quota, exactly once.
	seedContacts(t, e, ten.AccountID, "slow", 4, 0)
	c3 := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Slow", "session_id": ses, "template": "Hi",
		"audience": map[string]any{"tags": []string{"slow"}}, "pacing": map[string]any{"min_interval_s": 3600, "max_interval_s": 3600, "daily_cap": 100, "warm_up": false}}).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+c3+"/start", nil)
	waitCampaign(t, api, c3, 30*time.Second, func(r apitest.Response) bool { return counts(r)["total"] == 4 })
	api.Must(200, "POST", "/v1/campaigns/"+c3+"/cancel", nil)
	done := waitCampaign(t, api, c3, 30*time.Second, func(r apitest.Response) bool { n := counts(r); return n["queued"] == 0 && n["sending"] == 0 })
	n := counts(done)
	if n["skipped"] == 0 {
		t.Fatalf("the cancel skipped nothing (pacing too fast for this test): %v", n)
	}
	want := 6.0 + float64(4-n["skipped"])
	apitest.Eventually(t, 30*time.Second, func() string {
		r := api.Must(200, "GET", "/v1/billing", nil)
		for _, u := range r.JSON["usage"].([]any) {
			if m := u.(map[string]any); m["limit"] == "messages_per_month" && m["used"] == want {
				return ""
			}
		}
		return fmt.Sprintf("usage after cancel (want %v used): %s", want, r.Raw)
	})
	// A repeated cancel job releases nothing more.
	if err := e.Deps.Campaigns.Fanout(sctx, c3, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r = api.Must(200, "GET", "/v1/billing", nil)
	for _, u := range r.JSON["usage"].([]any) {
		if m := u.(map[string]any); m["limit"] == "messages_per_month" && m["used"] != want {
			t.Fatalf("a repeated settlement released again: %s", r.Raw)
		}
	}
}

// TestBillingStatusChangedWebhook: a status transition becomes a
// billing.status_changed delivery to subscribed endpoints, and running
// campaigns are paused for billing on a restricted status.
func TestBillingStatusChangedWebhook(t *testing.T) {
	e, sm := billingEnv(t, map[string]string{"CHATSEND_WEBHOOKS_ALLOW_LOOPBACK": "true"})
	ten := e.SignUp("notify@example.com")
	cus := customerOf(t, e, ten)
	whe := ten.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hook",
		"events": []string{"billing.status_changed"}}).Str("id")
	subscription(sm, "sub_n", cus, "canceled", "price_starter")
	body := stripeEvent("evt_n", "customer.subscription.deleted", map[string]any{"id": "sub_n", "object": "subscription", "customer": cus})
	if r := postStripe(e, body, signed(body, whsecNew, time.Now())); r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	r := ten.API.Must(200, "GET", "/v1/webhook-endpoints/"+whe+"/deliveries", nil)
	if data := r.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["event_type"] != "billing.status_changed" {
		t.Fatalf("deliveries: %s", r.Raw)
	}
	b := ten.API.Must(200, "GET", "/v1/billing", nil)
	if b.Str("status") != "canceled" || b.Str("plan") != "free" || b.Str("warning") == "" {
		t.Fatalf("billing: %s", b.Raw)
	}
	if doc := e.Client().Must(200, "GET", "/openapi.json", nil); !strings.Contains(string(doc.Raw), "billing.status_changed") {
		t.Fatalf("billing.status_changed is not documented")
	}
}

// TestBillingReconcile: a change Stripe made while no webhook arrived is
// picked up by the reconciliation, which is idempotent.
func TestBillingReconcile(t *testing.T) {
	e, sm := billingEnv(t, nil)
	ten := e.SignUp("reconcile@example.com")
	cus := customerOf(t, e, ten)
	subscription(sm, "sub_r", cus, "trialing", "price_pro")
	for range 2 {
		if n, err := e.Deps.Billing.Reconcile(context.Background()); err != nil || n != 1 {
			t.Fatalf("reconcile: %d %v", n, err)
		}
	}
	st := billingState(t, e, ten.AccountID)
	if st.Status != billing.StatusTrialing || st.PlanID != "pro" || st.Transitions != 1 || st.CurrentPeriodEnd.IsZero() {
		t.Fatalf("state after reconcile: %+v", st)
	}
}
