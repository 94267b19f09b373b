package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/apitest"
)

// An inbound "stop" suppresses the contact (with the account's
// confirmation sent back), the next campaign skips them, and START lets
// them receive again.
func TestOptOutKeywords(t *testing.T) {
	e := campaignEnv(t)
	ten := e.SignUp("optout@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	people := seedContacts(t, e, ten.AccountID, "news", 3, 0)
	stopper := people[1].Phone
	api.Must(200, "PATCH", "/v1/account", map[string]any{"opt_out_reply": "You will get no more messages. Reply START to undo."})

	api.Must(204, "POST", "/v1/simulator/sessions/"+ses+"/inbound", map[string]any{"from": stopper, "text": " Stop! "})
	apitest.Eventually(t, 10*time.Second, func() string {
		r := api.Must(200, "GET", "/v1/suppressions", nil)
		if !strings.Contains(string(r.Raw), stopper) {
			return "not suppressed yet: " + string(r.Raw)
		}
		return ""
	})
	// The confirmation went back to them, once.
	apitest.Eventually(t, 10*time.Second, func() string {
		r := api.Must(200, "GET", "/v1/messages?to="+strings.Replace(stopper, "+", "%2B", 1), nil)
		if n := len(r.JSON["data"].([]any)); n != 1 {
			return "confirmation messages: " + string(r.Raw)
		}
		return ""
	})
	// A message that merely contains the word is no opt-out.
	api.Must(204, "POST", "/v1/simulator/sessions/"+ses+"/inbound", map[string]any{"from": people[2].Phone, "text": "please don't stop"})

	run := func(name string) map[string]int {
		id := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": name, "session_id": ses, "template": "News for {{first_name}}",
			"audience": map[string]any{"tags": []string{"news"}},
			"pacing":   map[string]any{"min_interval_s": 8, "max_interval_s": 10, "daily_cap": 100, "warm_up": false}}).Str("id")
		api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil)
		r := waitCampaign(t, api, id, 20*time.Second, func(r apitest.Response) bool { return r.Str("status") == "completed" })
		return counts(r)
	}
	if n := run("after stop"); n["skipped"] != 1 || n["total"] != 3 {
		t.Fatalf("campaign after STOP: %v", n)
	}
	api.Must(204, "POST", "/v1/simulator/sessions/"+ses+"/inbound", map[string]any{"from": stopper, "text": "START"})
	apitest.Eventually(t, 10*time.Second, func() string {
		r := api.Must(200, "GET", "/v1/suppressions", nil)
		if strings.Contains(string(r.Raw), stopper) {
			return "still suppressed"
		}
		return ""
	})
	if n := run("after start"); n["skipped"] != 0 || n["total"] != 3 {
		t.Fatalf("campaign after START: %v", n)
	}
}
