package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/tenant"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// receiver is an httptest webhook endpoint that fails the first failFirst
// requests with 500 and records every request.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	failFirst int
	got       []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		fail := len(r.got) <= r.failFirst
		r.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func webhookEnv(t *testing.T, tune app.Tuning, allowLoopback bool) *apitest.Env {
	env := map[string]string{"CHATSEND_STAGE": "local"}
	if allowLoopback {
		env["CHATSEND_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
	}
	e := apitest.New(t, tune, env)
	e.StartWebhooksWorker()
	return e
}

func fastSchedule(n int) webhooks.Tuning {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = 20 * time.Millisecond
	}
	return webhooks.Tuning{Schedule: s}
}

func emit(t *testing.T, e *apitest.Env, acct, id, typ string) {
	t.Helper()
	env := webhooks.Envelope{ID: id, Type: typ, CreatedAt: time.Now(), Data: json.RawMessage(`{"message_id":"msg_x"}`)}
	if err := e.Deps.Webhooks.Emit(tenant.With(context.Background(), acct), env, "ses_x"); err != nil {
		t.Fatalf("emit: %v", err)
	}
}

func deliveries(t *testing.T, c *apitest.Client, endpointID string, want int) []map[string]any {
	t.Helper()
	var out []map[string]any
	apitest.Eventually(t, 10*time.Second, func() string {
		r := c.Must(200, "GET", "/v1/webhook-endpoints/"+endpointID+"/deliveries", nil)
		out = nil
		for _, d := range r.JSON["data"].([]any) {
			out = append(out, d.(map[string]any))
		}
		if len(out) != want {
			return fmt.Sprintf("%d deliveries, want %d: %s", len(out), want, r.Raw)
		}
		return ""
	})
	return out
}

func waitDelivery(t *testing.T, c *apitest.Client, endpointID, status string, attempts int) map[string]any {
	t.Helper()
	var d map[string]any
	apitest.Eventually(t, 15*time.Second, func() string {
		d = deliveries(t, c, endpointID, 1)[0]
		if d["status"] != status || len(d["attempts"].([]any)) != attempts {
			return fmt.Sprintf("delivery %v with %d attempts, want %s with %d", d["status"], len(d["attempts"].([]any)), status, attempts)
		}
		return ""
	})
	return d
}

// A receiver failing three times gets the event on the fourth attempt,
// with the same webhook-id and a signature the reference library accepts;
// emitting the same event again changes nothing; replay attempts again.
func TestWebhookRetryIdempotencyReplay(t *testing.T) {
	e := webhookEnv(t, app.Tuning{Webhooks: fastSchedule(5)}, true)
	ten := e.SignUp("hooks@example.com")
	rcv := newReceiver(t, 3)
	r := ten.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL + "/hook", "events": []string{"message.delivered"}})
	id, secret := r.Str("id"), r.Str("secret")
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "whe_") {
		t.Fatalf("created: %s", r.Raw)
	}
	if g := ten.API.Must(200, "GET", "/v1/webhook-endpoints/"+id, nil); g.Str("secret") != "" || strings.Contains(string(g.Raw), "whsec_") {
		t.Fatalf("secret shown again: %s", g.Raw)
	}

	emit(t, e, ten.AccountID, "evt_retry1", webhooks.MessageDelivered)
	emit(t, e, ten.AccountID, "evt_retry1", webhooks.MessageDelivered) // idempotent
	emit(t, e, ten.AccountID, "evt_other", webhooks.MessageRead)       // not subscribed
	d := waitDelivery(t, ten.API, id, "delivered", 4)
	attempts := d["attempts"].([]any)
	for i, a := range attempts[:3] {
		if a.(map[string]any)["status_code"].(float64) != 500 {
			t.Errorf("attempt %d: %v", i, a)
		}
	}
	if d["event_id"] != "evt_retry1" || d["next_retry_at"] != nil {
		t.Fatalf("delivery: %v", d)
	}
	got := rcv.requests()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(got))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if g.header.Get("webhook-id") != "evt_retry1" {
			t.Errorf("request %d webhook-id %q", i, g.header.Get("webhook-id"))
		}
		if err := wh.Verify(g.body, g.header); err != nil {
			t.Errorf("request %d: reference verifier: %v", i, err)
		}
	}
	var env webhooks.Envelope
	if err := json.Unmarshal(got[3].body, &env); err != nil || env.Type != "message.delivered" || env.AccountID != ten.AccountID {
		t.Fatalf("envelope %s: %v", got[3].body, err)
	}

	// Replay makes one more attempt of the same event.
	ten.API.Must(202, "POST", "/v1/webhook-deliveries/"+d["id"].(string)+"/replay", nil)
	waitDelivery(t, ten.API, id, "delivered", 5)
	if got := rcv.requests(); len(got) != 5 || got[4].header.Get("webhook-id") != "evt_retry1" {
		t.Fatalf("replay: %d requests", len(got))
	}

	// Rotation: two signatures, each verifying with its own secret.
	rot := ten.API.Must(200, "POST", "/v1/webhook-endpoints/"+id+"/rotate-secret", nil)
	newSecret := rot.Str("secret")
	if newSecret == "" || newSecret == secret {
		t.Fatalf("rotate: %s", rot.Raw)
	}
	ping := ten.API.Must(202, "POST", "/v1/webhook-endpoints/"+id+"/test", nil)
	apitest.Eventually(t, 10*time.Second, func() string {
		if len(rcv.requests()) < 6 {
			return "ping not received"
		}
		return ""
	})
	last := rcv.requests()[5]
	sigs := strings.Fields(last.header.Get("webhook-signature"))
	if len(sigs) != 2 || !strings.Contains(string(last.body), `"type":"ping"`) || last.header.Get("webhook-id") != ping.Str("event_id") {
		t.Fatalf("ping: sigs %v, body %s", sigs, last.body)
	}
	for i, s := range []string{newSecret, secret} {
		h := last.header.Clone()
		h.Set("webhook-signature", sigs[i])
		w, _ := standardwebhooks.NewWebhook(s)
		if err := w.Verify(last.body, h); err != nil {
			t.Errorf("signature %d does not verify with its secret: %v", i, err)
		}
	}

	// Tenant isolation: another account sees none of it.
	other := e.SignUp("other@example.com")
	for _, req := range []struct{ method, path string }{
		{"GET", "/v1/webhook-endpoints/" + id}, {"PATCH", "/v1/webhook-endpoints/" + id}, {"DELETE", "/v1/webhook-endpoints/" + id},
		{"POST", "/v1/webhook-endpoints/" + id + "/rotate-secret"}, {"POST", "/v1/webhook-endpoints/" + id + "/test"},
		{"GET", "/v1/webhook-endpoints/" + id + "/deliveries"}, {"POST", "/v1/webhook-deliveries/" + d["id"].(string) + "/replay"},
	} {
		var body any
		if req.method == "PATCH" {
			body = map[string]any{"description": "mine"}
		}
		other.API.Must(404, req.method, req.path, body)
	}
	if l := other.API.Must(200, "GET", "/v1/webhook-endpoints", nil); len(l.JSON["data"].([]any)) != 0 {
		t.Fatalf("other tenant lists %s", l.Raw)
	}
	emit(t, e, other.AccountID, "evt_retry1", webhooks.MessageDelivered) // no endpoint there: nothing sent
	if l := ten.API.Must(200, "GET", "/v1/webhook-endpoints", nil); len(l.JSON["data"].([]any)) != 1 {
		t.Fatalf("list: %s", l.Raw)
	}
	ten.API.Must(204, "DELETE", "/v1/webhook-endpoints/"+id, nil)
	ten.API.Must(404, "GET", "/v1/webhook-endpoints/"+id, nil)
}

// An endpoint whose deliveries keep dying is disabled with a reason; a
// PATCH re-enables it and clears the streak.
func TestWebhookEndpointDisabledAfterSustainedFailure(t *testing.T) {
	tune := fastSchedule(1)
	tune.DisableAfterDead = 2
	e := webhookEnv(t, app.Tuning{Webhooks: tune}, true)
	ten := e.SignUp("failing@example.com")
	rcv := newReceiver(t, 1000)
	id := ten.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL, "events": []string{"*"}}).Str("id")
	for i := range 2 {
		emit(t, e, ten.AccountID, fmt.Sprintf("evt_dead%d", i), webhooks.MessageFailed)
		apitest.Eventually(t, 10*time.Second, func() string {
			for _, d := range deliveries(t, ten.API, id, i+1) {
				if d["status"] != "dead" {
					return fmt.Sprintf("delivery %v", d["status"])
				}
			}
			return ""
		})
	}
	var ep apitest.Response
	apitest.Eventually(t, 10*time.Second, func() string {
		ep = ten.API.Must(200, "GET", "/v1/webhook-endpoints/"+id, nil)
		if ep.JSON["enabled"] != false || !strings.Contains(ep.Str("disabled_reason"), "2 consecutive deliveries") {
			return "endpoint not disabled: " + string(ep.Raw)
		}
		return ""
	})
	before := len(rcv.requests())
	emit(t, e, ten.AccountID, "evt_after", webhooks.MessageFailed) // disabled: not delivered
	ten.API.Must(409, "POST", "/v1/webhook-endpoints/"+id+"/test", nil)
	ep = ten.API.Must(200, "PATCH", "/v1/webhook-endpoints/"+id, map[string]any{"enabled": true})
	if ep.JSON["enabled"] != true || ep.Str("disabled_reason") != "" || ep.JSON["failure_streak"].(float64) != 0 {
		t.Fatalf("re-enabled: %s", ep.Raw)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.requests()); n != before {
		t.Fatalf("disabled endpoint received %d more requests", n-before)
	}
	deliveries(t, ten.API, id, 2)
}

// Non-public destinations are refused at registration (422) and, for a
// name that resolves to loopback, at dial time: the receiver is never hit.
func TestWebhookSSRF(t *testing.T) {
	rcv := newReceiver(t, 0)
	rcvAddr := strings.TrimPrefix(rcv.URL, "http://")
	tune := app.Tuning{Webhooks: fastSchedule(1), WebhookDialRewrite: func(addr string) string {
		if addr == "rebind.example.test:443" {
			return rcvAddr // the name "resolves" to 127.0.0.1
		}
		return addr
	}}
	e := webhookEnv(t, tune, false)
	ten := e.SignUp("ssrf@example.com")
	for _, host := range []string{"127.0.0.1", "localhost", "localhost.", "[::1]", "10.0.0.1", "172.16.0.1", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "[::ffff:127.0.0.1]", "0.0.0.0", "app.localhost"} {
		for _, scheme := range []string{"https", "http"} {
			r := ten.API.Do("POST", "/v1/webhook-endpoints", map[string]any{"url": scheme + "://" + host + "/hook", "events": []string{"ping"}})
			if r.Status != 422 || !strings.Contains(string(r.Raw), "body.url") {
				t.Errorf("%s://%s: %d %s", scheme, host, r.Status, r.Raw)
			}
		}
	}
	ten.API.Must(422, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://example.com/", "events": []string{"nope"}})

	id := ten.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://rebind.example.test/hook", "events": []string{"ping"}}).Str("id")
	ten.API.Must(202, "POST", "/v1/webhook-endpoints/"+id+"/test", nil)
	d := waitDelivery(t, ten.API, id, "dead", 2)
	for _, a := range d["attempts"].([]any) {
		if msg, _ := a.(map[string]any)["error"].(string); !strings.Contains(msg, "blocked") {
			t.Errorf("attempt error %q, want blocked", msg)
		}
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver reached %d times", n)
	}
	if strings.Contains(e.Logs.String(), "whsec_") {
		t.Fatal("a secret was logged")
	}
}
