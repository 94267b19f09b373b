package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/tenant"
)

// campaignEnv is a local stack with a host whose campaign pacing is
// compressed (8–20 s become 4–10 ms), plus the events and fan-out workers.
func campaignEnv(t *testing.T) *apitest.Env { return campaignEnvWith(t, apitest.Simulator(t)) }

// campaignEnvWith is campaignEnv with a given environment.
func campaignEnvWith(t *testing.T, env map[string]string) *apitest.Env {
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, env)
	tune := apitest.FastHost()
	tune.CampaignIntervalScale = 0.0005
	e.StartHost(tune)
	e.StartEventsConsumer()
	e.StartFanout()
	return e
}

// phoneSeq keeps seeded phone numbers unique across calls.
var phoneSeq atomic.Int64

// seedContacts stores n contacts tagged tag; phones ending 9999 are "not
// on WhatsApp" for the simulator.
func seedContacts(t *testing.T, e *apitest.Env, acct, tag string, n, notOnWA int) []contacts.Contact {
	t.Helper()
	ctx := tenant.With(context.Background(), acct)
	var out []contacts.Contact
	for i := 0; i < n; i++ {
		phone := fmt.Sprintf("+49151%08d", 10_000_000+phoneSeq.Add(1))
		if i < notOnWA {
			phone = fmt.Sprintf("+4915%04d9999", 1000+i)
		}
		now := time.Now().UTC()
		c := contacts.Contact{ID: ids.New(ids.Contact), AccountID: acct, Phone: phone, Name: fmt.Sprintf("Person %d", i),
			FirstName: fmt.Sprintf("P%d", i), Tags: []string{tag}, CreatedAt: now, UpdatedAt: now}
		if err := e.Deps.DB.CreateContact(ctx, c); err != nil {
			t.Fatalf("seed contact %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out
}

func waitCampaign(t *testing.T, c *apitest.Client, id string, timeout time.Duration, ok func(r apitest.Response) bool) apitest.Response {
	t.Helper()
	var last apitest.Response
	apitest.Eventually(t, timeout, func() string {
		last = c.Must(200, "GET", "/v1/campaigns/"+id, nil)
		if ok(last) {
			return ""
		}
		return "campaign: " + string(last.Raw)
	})
	return last
}

func counts(r apitest.Response) map[string]int {
	out := map[string]int{}
	for k, v := range r.JSON["counts"].(map[string]any) {
		out[k] = int(v.(float64))
	}
	return out
}

func TestCampaignThousandRecipients(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000-recipient campaign")
	}
	e := campaignEnv(t)
	ten := e.SignUp("bulk@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	people := seedContacts(t, e, ten.AccountID, "vip", 1000, 5)
	sctx := tenant.With(context.Background(), ten.AccountID)
	for _, p := range people[100:110] {
		if _, _, err := e.Deps.DB.AddSuppression(sctx, contacts.Suppression{Phone: p.Phone, Reason: contacts.ReasonOptedOut, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	c := api.Must(201, "POST", "/v1/campaigns", map[string]any{
		"name": "Launch", "session_id": ses, "template": "Hi {{first_name|there}}, we launched!",
		"audience": map[string]any{"tags": []string{"vip"}},
		"pacing":   map[string]any{"min_interval_s": 8, "max_interval_s": 20, "daily_cap": 5000, "warm_up": false},
	})
	id := c.Str("id")
	if c.Str("status") != "draft" {
		t.Fatalf("created: %s", c.Raw)
	}
	started := time.Now()
	api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil)
	// Generous: under -race on two shared cores this is the slowest test.
	r := waitCampaign(t, api, id, 8*time.Minute, func(r apitest.Response) bool {
		n := counts(r)
		return r.Str("status") == "completed" && n["read"] == 985
	})
	t.Logf("1,000-recipient campaign sent and read in %s", time.Since(started))
	n := counts(r)
	want := map[string]int{"total": 1000, "read": 985, "failed": 5, "skipped": 10, "queued": 0, "sending": 0, "sent": 0, "delivered": 0}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("counts[%s] = %d, want %d (all: %v)", k, n[k], v, n)
		}
	}
	if r.JSON["progress"].(float64) != 1 {
		t.Errorf("progress %v", r.JSON["progress"])
	}

	// Every recipient has exactly one message, personalised.
	seen := map[string]int{}
	cursor := ""
	for {
		path := "/v1/campaigns/" + id + "/messages?limit=500"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := api.Must(200, "GET", path, nil)
		for _, m := range page.JSON["data"].([]any) {
			mm := m.(map[string]any)
			seen[mm["to"].(string)]++
			if mm["status"] == "skipped" && mm["reason"] != "suppressed" {
				t.Errorf("skipped for %v", mm["reason"])
			}
		}
		next, _ := page.JSON["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 1000 {
		t.Fatalf("%d recipients have messages, want 1000", len(seen))
	}
	for phone, k := range seen {
		if k != 1 {
			t.Fatalf("%s got %d messages", phone, k)
		}
	}
	one := api.Must(200, "GET", "/v1/messages?campaign_id="+id+"&to="+strings.Replace(people[500].Phone, "+", "%2B", 1), nil)
	if txt := one.JSON["data"].([]any)[0].(map[string]any)["text"]; txt != nil && txt != "Hi P500, we launched!" {
		t.Fatalf("rendered text %v", txt)
	}
	full := api.Must(200, "GET", "/v1/messages/"+one.JSON["data"].([]any)[0].(map[string]any)["id"].(string), nil)
	if full.Str("text") != "Hi P500, we launched!" {
		t.Fatalf("rendered text %q", full.Str("text"))
	}
}

func TestCampaignPauseResumeCancel(t *testing.T) {
	e := campaignEnv(t)
	ten := e.SignUp("pause@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	seedContacts(t, e, ten.AccountID, "all", 60, 0)
	body := map[string]any{"name": "Slow", "session_id": ses, "template": "Hello {{name}}", "audience": map[string]any{"tags": []string{"all"}},
		"pacing": map[string]any{"min_interval_s": 100, "max_interval_s": 100, "daily_cap": 1000, "warm_up": false}} // 50 ms apart here
	id := api.Must(201, "POST", "/v1/campaigns", body).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil)
	waitCampaign(t, api, id, 20*time.Second, func(r apitest.Response) bool { return counts(r)["sent"]+counts(r)["delivered"]+counts(r)["read"] >= 5 })

	p := api.Must(200, "POST", "/v1/campaigns/"+id+"/pause", nil)
	if p.Str("status") != "paused" {
		t.Fatalf("pause: %s", p.Raw)
	}
	time.Sleep(150 * time.Millisecond) // at most one interval in flight
	before := counts(api.Must(200, "GET", "/v1/campaigns/"+id, nil))
	time.Sleep(time.Second) // twenty intervals: nothing more may go out
	after := counts(api.Must(200, "GET", "/v1/campaigns/"+id, nil))
	if after["queued"] != before["queued"] || after["queued"] == 0 {
		t.Fatalf("sends continued while paused: %v → %v", before, after)
	}
	api.Must(409, "POST", "/v1/campaigns/"+id+"/pause", nil)
	api.Must(200, "POST", "/v1/campaigns/"+id+"/resume", nil)
	waitCampaign(t, api, id, 20*time.Second, func(r apitest.Response) bool { return counts(r)["queued"] < after["queued"] })

	c := api.Must(200, "POST", "/v1/campaigns/"+id+"/cancel", nil)
	if c.Str("status") != "cancelled" {
		t.Fatalf("cancel: %s", c.Raw)
	}
	r := waitCampaign(t, api, id, 20*time.Second, func(r apitest.Response) bool { n := counts(r); return n["queued"] == 0 && n["sending"] == 0 })
	n := counts(r)
	if n["skipped"] == 0 || n["total"] != 60 || n["skipped"]+n["sent"]+n["delivered"]+n["read"] != 60 {
		t.Fatalf("after cancel: %v", n)
	}
	api.Must(409, "POST", "/v1/campaigns/"+id+"/resume", nil)
	api.Must(409, "POST", "/v1/campaigns/"+id+"/start", nil)
}

func TestCampaignBadInput(t *testing.T) {
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second}, apitest.Simulator(t))
	e.StartHost(apitest.FastHost())
	a := e.SignUp("ca@example.com")
	b := e.SignUp("cb@example.com")
	ses := connectedSession(t, a.API)
	idle := a.API.Must(201, "POST", "/v1/sessions", map[string]any{"label": "idle"}).Str("id")
	bContacts := seedContacts(t, e, b.AccountID, "x", 2, 0)
	aContacts := seedContacts(t, e, a.AccountID, "x", 2, 0)
	base := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "C", "session_id": ses, "template": "Hi {{first_name}}", "audience": map[string]any{"tags": []string{"x"}}}
		mod(m)
		return m
	}
	for _, tc := range []struct {
		name     string
		body     map[string]any
		status   int
		location string
	}{
		{"unknown placeholder", base(func(m map[string]any) { m["template"] = "Hi {{nickname}}" }), 422, "body.template"},
		{"unbalanced braces", base(func(m map[string]any) { m["template"] = "Hi {{first_name" }), 422, "body.template"},
		{"no audience", base(func(m map[string]any) { m["audience"] = map[string]any{} }), 422, "body.audience"},
		{"both audiences", base(func(m map[string]any) {
			m["audience"] = map[string]any{"tags": []string{"x"}, "contact_ids": []string{aContacts[0].ID}}
		}), 422, "body.audience"},
		{"other tenant's contacts", base(func(m map[string]any) {
			m["audience"] = map[string]any{"contact_ids": []string{aContacts[0].ID, bContacts[0].ID}}
		}), 422, "body.audience.contact_ids[1]"},
		{"other tenant's session", base(func(m map[string]any) { m["session_id"] = "ses_01m89kngna0ma3mbfxyye997j1" }), 404, ""},
		{"bad pacing", base(func(m map[string]any) {
			m["pacing"] = map[string]any{"min_interval_s": 10, "max_interval_s": 5, "daily_cap": 10}
		}), 422, "body.pacing"},
		{"past schedule", base(func(m map[string]any) { m["schedule_at"] = "2020-01-01T00:00:00Z" }), 422, "body.schedule_at"},
	} {
		r := a.API.Do("POST", "/v1/campaigns", tc.body)
		if r.Status != tc.status || (tc.location != "" && !strings.Contains(string(r.Raw), `"location":"`+tc.location)) {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
	// B cannot see, start or list A's campaign.
	id := a.API.Must(201, "POST", "/v1/campaigns", base(func(map[string]any) {})).Str("id")
	for _, p := range []string{"/v1/campaigns/" + id, "/v1/campaigns/" + id + "/messages"} {
		b.API.Must(404, "GET", p, nil)
	}
	b.API.Must(404, "POST", "/v1/campaigns/"+id+"/start", nil)
	if l := b.API.Must(200, "GET", "/v1/campaigns", nil); len(l.JSON["data"].([]any)) != 0 {
		t.Fatalf("B lists A's campaigns: %s", l.Raw)
	}
	// Starting on a session that is not connected: a clear 409.
	idleID := a.API.Must(201, "POST", "/v1/campaigns", base(func(m map[string]any) { m["session_id"] = idle })).Str("id")
	if r := a.API.Must(409, "POST", "/v1/campaigns/"+idleID+"/start", nil); !strings.Contains(r.Str("detail"), "connect") {
		t.Fatalf("start on idle session: %s", r.Raw)
	}
}

func TestCampaignDailyCapAndQuietHours(t *testing.T) {
	e := campaignEnv(t)
	ten := e.SignUp("cap@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	seedContacts(t, e, ten.AccountID, "cap", 12, 0)
	seedContacts(t, e, ten.AccountID, "quiet", 3, 0)

	capped := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Capped", "session_id": ses, "template": "x",
		"audience": map[string]any{"tags": []string{"cap"}},
		"pacing":   map[string]any{"min_interval_s": 8, "max_interval_s": 10, "daily_cap": 5, "warm_up": false}}).Str("id")
	now := time.Now().UTC()
	quiet := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Quiet", "session_id": ses, "template": "x",
		"audience": map[string]any{"tags": []string{"quiet"}},
		"pacing": map[string]any{"min_interval_s": 8, "max_interval_s": 10, "daily_cap": 100, "warm_up": false,
			"quiet_start": now.Add(-time.Hour).Format("15:04"), "quiet_end": now.Add(time.Hour).Format("15:04")}}).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+capped+"/start", nil)
	api.Must(200, "POST", "/v1/campaigns/"+quiet+"/start", nil)
	waitCampaign(t, api, capped, 20*time.Second, func(r apitest.Response) bool { n := counts(r); return n["total"] == 12 && n["queued"] == 7 })
	time.Sleep(time.Second) // many intervals: the cap must hold
	if n := counts(api.Must(200, "GET", "/v1/campaigns/"+capped, nil)); n["queued"] != 7 {
		t.Fatalf("daily cap of 5 exceeded: %v", n)
	}
	if n := counts(api.Must(200, "GET", "/v1/campaigns/"+quiet, nil)); n["total"] != 3 || n["queued"] != 3 {
		t.Fatalf("sent during quiet hours: %v", n)
	}
}

func TestScheduledCampaignStartsOnTime(t *testing.T) {
	e := campaignEnv(t)
	ten := e.SignUp("sched@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	seedContacts(t, e, ten.AccountID, "later", 3, 0)
	at := time.Now().Add(3 * time.Second).UTC()
	id := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Later", "session_id": ses, "template": "x",
		"audience": map[string]any{"tags": []string{"later"}}, "schedule_at": at.Format(time.RFC3339Nano),
		"pacing": map[string]any{"min_interval_s": 8, "max_interval_s": 10, "daily_cap": 100, "warm_up": false}}).Str("id")
	if r := api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil); r.Str("status") != "scheduled" {
		t.Fatalf("start with schedule_at: %s", r.Raw)
	}
	time.Sleep(time.Until(at) - time.Second)
	if r := api.Must(200, "GET", "/v1/campaigns/"+id, nil); r.Str("status") != "scheduled" || counts(r)["total"] != 0 {
		t.Fatalf("ran before its time: %s", r.Raw)
	}
	r := waitCampaign(t, api, id, 20*time.Second, func(r apitest.Response) bool { return counts(r)["read"] == 3 })
	if started, _ := time.Parse(time.RFC3339Nano, r.Str("started_at")); started.IsZero() {
		t.Fatalf("no started_at: %s", r.Raw)
	}
	if r.Str("status") != "completed" {
		t.Fatalf("status %s", r.Str("status"))
	}
}
