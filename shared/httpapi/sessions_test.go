package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func TestSessionLifecycleWithSimulator(t *testing.T) {
	env := apitest.Simulator(t)
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, env)
	h := e.StartHost(apitest.FastHost())
	ten := e.SignUp("wa@example.com")
	api := ten.API

	r := api.Must(201, "POST", "/v1/sessions", map[string]any{"label": "Support line"})
	id := r.Str("id")
	if r.Str("status") != "pending" || r.Str("backend") != "simulator" || r.Str("label") != "Support line" {
		t.Fatalf("create: %s", r.Raw)
	}
	api.WaitStatus(id, "waiting_for_qr", 10*time.Second)

	// QR as JSON and as PNG.
	qr := api.Must(200, "GET", "/v1/sessions/"+id+"/qr", nil)
	if !strings.HasPrefix(qr.Str("code"), "SIMULATOR-QR:"+id) {
		t.Fatalf("qr code: %s", qr.Raw)
	}
	png, err := base64.StdEncoding.DecodeString(qr.Str("png_base64"))
	if err != nil || !bytes.HasPrefix(png, pngMagic) {
		t.Fatalf("png_base64 is not a PNG: %v", err)
	}
	if exp, err := time.Parse(time.RFC3339, qr.Str("expires_at")); err != nil || !exp.After(time.Now()) {
		t.Fatalf("qr expires_at: %s", qr.Str("expires_at"))
	}
	api.Header.Set("Accept", "image/png")
	img := api.Must(200, "GET", "/v1/sessions/"+id+"/qr", nil)
	api.Header.Del("Accept")
	if img.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(img.Raw, pngMagic) {
		t.Fatalf("Accept: image/png gave %s", img.Header.Get("Content-Type"))
	}

	// Pairing by phone: validated, then a code from the backend.
	bad := api.Must(422, "POST", "/v1/sessions/"+id+"/pair-code", map[string]any{"phone": "12345"})
	if !strings.Contains(string(bad.Raw), `"location":"body.phone"`) {
		t.Fatalf("pair-code bad phone: %s", bad.Raw)
	}
	pc := api.Must(200, "POST", "/v1/sessions/"+id+"/pair-code", map[string]any{"phone": "+49 151 23456789"})
	if len(pc.Str("code")) != 9 || pc.Str("code")[4] != '-' {
		t.Fatalf("pair code: %s", pc.Raw)
	}

	// Scan: the simulator links a made-up number.
	api.Must(204, "POST", "/v1/simulator/sessions/"+id+"/scan", nil)
	r = api.WaitStatus(id, "connected", 10*time.Second)
	if !strings.HasPrefix(r.Str("phone"), "+1555") || r.JSON["connected_since"] == nil || r.Str("push_name") == "" {
		t.Fatalf("connected session: %s", r.Raw)
	}
	if p := api.Must(409, "GET", "/v1/sessions/"+id+"/qr", nil); !strings.Contains(p.Str("detail"), "connected") {
		t.Fatalf("qr when connected: %s", p.Raw)
	}
	api.Must(409, "POST", "/v1/simulator/sessions/"+id+"/scan", nil)

	// Live queries through the host.
	g := api.Must(200, "GET", "/v1/sessions/"+id+"/groups", nil)
	if groups := g.JSON["data"].([]any); len(groups) != 2 {
		t.Fatalf("groups: %s", g.Raw)
	}
	cn := api.Must(200, "POST", "/v1/sessions/"+id+"/check-numbers", map[string]any{"phones": []string{"+4915123459999", "+4915123456789"}})
	data := cn.JSON["data"].([]any)
	if data[0].(map[string]any)["on_whatsapp"] != false || data[1].(map[string]any)["on_whatsapp"] != true {
		t.Fatalf("check-numbers: %s", cn.Raw)
	}
	api.Must(422, "POST", "/v1/sessions/"+id+"/check-numbers", map[string]any{"phones": []string{"+4915123456789", "nope"}})

	// Inbound: becomes a message.received event on the events queue.
	api.Must(204, "POST", "/v1/simulator/sessions/"+id+"/inbound", map[string]any{"from": "+4915123456789", "text": "hello there"})
	evq, _ := e.Deps.Config.Resources.QueueByID(resources.QueueEvents)
	q := queue.New(e.Clients.SQS, evq.Name)
	seen := map[string]bool{}
	apitest.Eventually(t, 10*time.Second, func() string {
		msgs, err := q.Receive(context.Background(), 10, 0)
		if err != nil {
			return err.Error()
		}
		for _, m := range msgs {
			var ev events.Event
			_ = json.Unmarshal([]byte(m.Body), &ev)
			if ev.SessionID == id && ev.AccountID == ten.AccountID {
				seen[ev.Type] = true
				if ev.Type == events.MessageReceived && !strings.Contains(string(ev.Data), "hello there") {
					return "inbound event without text: " + string(ev.Data)
				}
			}
		}
		if !seen[events.MessageReceived] || !seen[events.SessionStatus] {
			return "events seen: " + strings.Join(keys(seen), ",")
		}
		return ""
	})

	// Logout: unlinked, device keys gone, session kept.
	api.Must(202, "POST", "/v1/sessions/"+id+"/logout", nil)
	r = api.WaitStatus(id, "logged_out", 10*time.Second)
	if r.Str("status_reason") != "logged_out_by_user" || r.Str("phone") != "" {
		t.Fatalf("logged out: %s", r.Raw)
	}
	if _, err := os.Stat(filepath.Join(env["CHATSEND_DEVICE_DIR"], "simulator", id+".json")); !os.IsNotExist(err) {
		t.Fatalf("device store still exists after logout: %v", err)
	}
	// It stays logged out until restarted; restart pairs again.
	time.Sleep(2500 * time.Millisecond) // one resync
	api.Must(200, "GET", "/v1/sessions/"+id, nil)
	if s := api.Must(200, "GET", "/v1/sessions/"+id, nil).Str("status"); s != "logged_out" {
		t.Fatalf("logged-out session reconnected by itself: %s", s)
	}
	api.Must(202, "POST", "/v1/sessions/"+id+"/restart", nil)
	api.WaitStatus(id, "waiting_for_qr", 10*time.Second)

	// Delete: gone from the API at once, then from the host and storage.
	api.Must(204, "DELETE", "/v1/sessions/"+id, nil)
	api.Must(404, "GET", "/v1/sessions/"+id, nil)
	if l := api.Must(200, "GET", "/v1/sessions", nil); len(l.JSON["data"].([]any)) != 0 {
		t.Fatalf("deleted session listed: %s", l.Raw)
	}
	apitest.Eventually(t, 10*time.Second, func() string {
		if len(h.Held()) != 0 {
			return "host still holds the deleted session"
		}
		if _, err := e.Deps.DB.FindLease(context.Background(), id); err == nil {
			return "lease item still exists"
		}
		return ""
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSessionBadInputAndIsolation(t *testing.T) {
	e := apitest.New(t, app.Tuning{RPCTimeout: 5 * time.Second}, apitest.Simulator(t))
	e.StartHost(apitest.FastHost())
	a := e.SignUp("a@example.com")
	b := e.SignUp("b@example.com")
	id := a.API.Must(201, "POST", "/v1/sessions", map[string]any{"label": "A's line"}).Str("id")
	a.API.WaitStatus(id, "waiting_for_qr", 10*time.Second)

	unknown := "ses_01m89kngna0ma3mbfxyye997j1"
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/sessions/%s"}, {"GET", "/v1/sessions/%s/qr"}, {"DELETE", "/v1/sessions/%s"},
		{"POST", "/v1/sessions/%s/restart"}, {"POST", "/v1/sessions/%s/logout"}, {"GET", "/v1/sessions/%s/groups"},
		{"POST", "/v1/simulator/sessions/%s/scan"},
	} {
		for _, sid := range []string{id, unknown, "not-an-id"} {
			r := b.API.Do(tc.method, strings.Replace(tc.path, "%s", sid, 1), nil)
			if r.Status != 404 {
				t.Errorf("B %s %s: %d, want 404: %s", tc.method, tc.path, r.Status, r.Raw)
			}
		}
	}
	b.API.Must(404, "POST", "/v1/sessions/"+id+"/pair-code", map[string]any{"phone": "+4915123456789"})
	if l := b.API.Must(200, "GET", "/v1/sessions", nil); strings.Contains(string(l.Raw), id) {
		t.Fatalf("B lists A's session: %s", l.Raw)
	}
	// A's session was untouched by B's attempts.
	if s := a.API.Must(200, "GET", "/v1/sessions/"+id, nil).Str("status"); s != "waiting_for_qr" {
		t.Fatalf("A's session changed to %s", s)
	}

	a.API.Must(422, "POST", "/v1/sessions", map[string]any{"label": ""})
	a.API.Must(422, "POST", "/v1/sessions", map[string]any{"label": strings.Repeat("x", 101)})
	a.API.Must(409, "GET", "/v1/sessions/"+id+"/groups", nil) // not connected yet
	a.API.Must(409, "POST", "/v1/sessions/"+id+"/check-numbers", map[string]any{"phones": []string{"+4915123456789"}})
	a.API.Must(422, "POST", "/v1/sessions/"+id+"/check-numbers", map[string]any{"phones": []string{}})
	a.API.Must(422, "POST", "/v1/simulator/sessions/"+id+"/inbound", map[string]any{"from": "me", "text": "x"})

	// A read-only key can look but not act.
	ro := e.WithKey(a.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "ro", "scope": "read"}).Str("secret"))
	ro.Must(200, "GET", "/v1/sessions/"+id, nil)
	ro.Must(403, "POST", "/v1/sessions/"+id+"/logout", nil)
	ro.Must(403, "POST", "/v1/sessions", map[string]any{"label": "x"})
}

func TestSimulatorRoutesAbsentWithRealBackend(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("real@example.com")
	id := ten.API.Must(201, "POST", "/v1/sessions", map[string]any{"label": "real"}).Str("id")
	if r := ten.API.Must(201, "POST", "/v1/sessions", map[string]any{"label": "x"}); r.Str("backend") != "whatsmeow" {
		t.Fatalf("backend: %s", r.Raw)
	}
	ten.API.Must(404, "POST", "/v1/simulator/sessions/"+id+"/scan", nil)
	ten.API.Must(404, "POST", "/v1/simulator/sessions/"+id+"/inbound", map[string]any{"from": "+4915123456789", "text": "x"})
	spec := e.Client().Must(200, "GET", "/openapi.json", nil)
	if strings.Contains(string(spec.Raw), "/v1/simulator") {
		t.Fatal("simulator routes documented with the real backend")
	}
}
