package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

// connectedSession creates a session for ten and links it on the simulator.
func connectedSession(t *testing.T, c *apitest.Client) string {
	t.Helper()
	id := c.Must(201, "POST", "/v1/sessions", map[string]any{"label": "sender"}).Str("id")
	c.WaitStatus(id, "waiting_for_qr", 10*time.Second)
	c.Must(204, "POST", "/v1/simulator/sessions/"+id+"/scan", nil)
	c.WaitStatus(id, "connected", 10*time.Second)
	return id
}

func waitMessage(t *testing.T, c *apitest.Client, id, status string) apitest.Response {
	t.Helper()
	var last apitest.Response
	apitest.Eventually(t, 15*time.Second, func() string {
		last = c.Must(200, "GET", "/v1/messages/"+id, nil)
		if last.Str("status") == status {
			return ""
		}
		return fmt.Sprintf("message %s is %s (%s), want %s", id, last.Str("status"), last.Str("reason"), status)
	})
	return last
}

func TestSingleMessageLifecycle(t *testing.T) {
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, apitest.Simulator(t))
	e.StartHost(apitest.FastHost())
	e.StartEventsConsumer()
	ten := e.SignUp("sender@example.com")
	api := ten.API
	ses := connectedSession(t, api)

	r := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+49 151 23456789", "text": "Hello Ana"})
	id := r.Str("id")
	if r.Str("status") != "queued" || r.Str("to") != "+4915123456789" {
		t.Fatalf("queued message: %s", r.Raw)
	}
	m := waitMessage(t, api, id, "read")
	var statuses []string
	for _, h := range m.JSON["history"].([]any) {
		statuses = append(statuses, h.(map[string]any)["status"].(string))
	}
	if got := strings.Join(statuses, ">"); got != "queued>sending>sent>delivered>read" {
		t.Fatalf("history %s", got)
	}
	if m.Str("text") != "Hello Ana" {
		t.Fatalf("body: %s", m.Raw)
	}

	// Not on WhatsApp: fails with a reason, never retried into a duplicate.
	f := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123459999", "text": "hi"})
	if m := waitMessage(t, api, f.Str("id"), "failed"); m.Str("reason") != "not_on_whatsapp" {
		t.Fatalf("failed reason: %s", m.Raw)
	}

	// Lists filter by status and recipient; newest first.
	l := api.Must(200, "GET", "/v1/messages?status=failed", nil)
	if data := l.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != f.Str("id") {
		t.Fatalf("list failed: %s", l.Raw)
	}
	l = api.Must(200, "GET", "/v1/messages?to=%2B4915123456789&session_id="+ses, nil)
	if data := l.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("list by recipient: %s", l.Raw)
	}
	l = api.Must(200, "GET", "/v1/messages?limit=1", nil)
	if data := l.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != f.Str("id") || l.JSON["next_cursor"] == nil {
		t.Fatalf("page 1: %s", l.Raw)
	}
	l2 := api.Must(200, "GET", "/v1/messages?limit=1&cursor="+l.JSON["next_cursor"].(string), nil)
	if data := l2.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("page 2: %s", l2.Raw)
	}

	// Body retention is the account's choice (0–400 days); with 0 the text
	// is gone as soon as the message is sent, while the metadata stays.
	if r := api.Must(200, "GET", "/v1/account", nil); r.JSON["message_body_retention_days"] != 30.0 {
		t.Fatalf("default body retention: %s", r.Raw)
	}
	api.Must(422, "PATCH", "/v1/account", map[string]any{"message_body_retention_days": 401})
	api.Must(422, "PATCH", "/v1/account", map[string]any{"message_body_retention_days": -1})
	api.Must(200, "PATCH", "/v1/account", map[string]any{"message_body_retention_days": 0})
	z := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456788", "text": "gone once sent"})
	if m := waitMessage(t, api, z.Str("id"), "read"); m.Str("text") != "" || m.Str("to") != "+4915123456788" {
		t.Fatalf("body kept with retention 0: %s", m.Raw)
	}

	// Another tenant sees none of it.
	other := e.SignUp("other@example.com")
	other.API.Must(404, "GET", "/v1/messages/"+id, nil)
	if l := other.API.Must(200, "GET", "/v1/messages", nil); len(l.JSON["data"].([]any)) != 0 {
		t.Fatalf("other tenant lists messages: %s", l.Raw)
	}
	other.API.Must(404, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789", "text": "x"})
}

func TestMessageIdempotencyAndBadInput(t *testing.T) {
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, apitest.Simulator(t))
	e.StartHost(apitest.FastHost())
	ten := e.SignUp("idem@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	body := map[string]any{"session_id": ses, "to": "+4915123456789", "text": "only once"}

	api.Header.Set("Idempotency-Key", "order-1234")
	// Concurrent retries with the same key and body: one message.
	ids := make([]string, 5)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := api.Do("POST", "/v1/messages", body)
			if r.Status == 202 {
				ids[i] = r.Str("id")
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("idempotent retries gave %v", ids)
		}
	}
	r := api.Must(409, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789", "text": "something else"})
	if !strings.Contains(r.Str("detail"), "Idempotency-Key") {
		t.Fatalf("409 detail: %s", r.Raw)
	}
	api.Header.Del("Idempotency-Key")
	if l := api.Must(200, "GET", "/v1/messages", nil); len(l.JSON["data"].([]any)) != 1 {
		t.Fatalf("idempotent sends made %d messages", len(l.JSON["data"].([]any)))
	}

	// A session that is not connected: a clear 409.
	idle := api.Must(201, "POST", "/v1/sessions", map[string]any{"label": "idle"}).Str("id")
	r = api.Must(409, "POST", "/v1/messages", map[string]any{"session_id": idle, "to": "+4915123456789", "text": "x"})
	if !strings.Contains(r.Str("detail"), "connected") {
		t.Fatalf("not connected detail: %s", r.Raw)
	}
	for _, tc := range []struct {
		body     map[string]any
		status   int
		location string
	}{
		{map[string]any{"session_id": ses, "to": "12", "text": "x"}, 422, "body.to"},
		{map[string]any{"session_id": ses, "to": "+4915123456789"}, 422, "body.text"},
		{map[string]any{"session_id": ses, "to": "+4915123456789", "text": strings.Repeat("x", 4097)}, 422, "body.text"},
		{map[string]any{"session_id": "nope", "to": "+4915123456789", "text": "x"}, 422, "body.session_id"},
		{map[string]any{"session_id": "ses_01m89kngna0ma3mbfxyye997j1", "to": "+4915123456789", "text": "x"}, 404, ""},
		{map[string]any{"session_id": ses, "to": "+4915123456789", "media": map[string]any{"type": "gif", "url": "https://x.example/a.gif"}}, 422, "body.media.type"},
		{map[string]any{"session_id": ses, "to": "+4915123456789", "media": map[string]any{"type": "image", "url": "ftp://x.example/a.png"}}, 422, "body.media.url"},
	} {
		r := api.Do("POST", "/v1/messages", tc.body)
		if r.Status != tc.status || (tc.location != "" && !strings.Contains(string(r.Raw), `"location":"`+tc.location)) {
			t.Errorf("%v: %d %s", tc.body, r.Status, r.Raw)
		}
	}
	// A national number uses the account's default region.
	api.Must(200, "PATCH", "/v1/account", map[string]any{"default_region": "DE"})
	if r := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "0151 23456789", "text": "x"}); r.Str("to") != "+4915123456789" {
		t.Fatalf("national number: %s", r.Raw)
	}
	// A read key cannot send.
	ro := e.WithKey(ten.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "ro", "scope": "read"}).Str("secret"))
	ro.Must(403, "POST", "/v1/messages", body)
}

func TestMediaMessages(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2048)...)
	var fetched atomic.Int64
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cat.png" {
			http.NotFound(w, r)
			return
		}
		fetched.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	}))
	defer media.Close()
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, apitest.Simulator(t))
	e.StartHost(apitest.FastHost())
	e.StartEventsConsumer()
	api := e.SignUp("media@example.com").API
	ses := connectedSession(t, api)

	ok := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789",
		"media": map[string]any{"type": "image", "url": media.URL + "/cat.png", "caption": "a cat"}})
	waitMessage(t, api, ok.Str("id"), "read")
	if fetched.Load() != 1 {
		t.Fatalf("media fetched %d times", fetched.Load())
	}
	gone := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789",
		"media": map[string]any{"type": "document", "url": media.URL + "/missing.pdf", "filename": "missing.pdf"}})
	if m := waitMessage(t, api, gone.Str("id"), "failed"); m.Str("reason") != "media_unavailable" {
		t.Fatalf("missing media: %s", m.Raw)
	}
	for _, u := range []string{"https://10.0.0.1/x.png", "https://169.254.169.254/latest/meta-data", "https://[::ffff:10.0.0.1]/a.png"} {
		r := api.Must(422, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789",
			"media": map[string]any{"type": "image", "url": u}})
		if !strings.Contains(string(r.Raw), `"location":"body.media.url"`) {
			t.Fatalf("%s: %s", u, r.Raw)
		}
	}
}
