package httpapi_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

// A campaign's message events, the session's status and an inbound
// message reach the customer's endpoint, signed (verified with the
// Standard Webhooks reference library), each message's events orderable by
// sequence, each event delivered once.
func TestCampaignEventsReachWebhook(t *testing.T) {
	env := apitest.Simulator(t)
	env["CHATSEND_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
	e := campaignEnvWith(t, env)
	e.StartWebhooksWorker()
	rcv := newReceiver(t, 0)
	ten := e.SignUp("hooks@example.com")
	api := ten.API
	ep := api.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL + "/hook", "events": []string{"*"}})
	wh, err := standardwebhooks.NewWebhook(ep.Str("secret"))
	if err != nil {
		t.Fatal(err)
	}
	ses := connectedSession(t, api)
	seedContacts(t, e, ten.AccountID, "hooks", 5, 1) // one is not on WhatsApp
	id := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Hooks", "session_id": ses, "template": "Hi {{first_name}}",
		"audience": map[string]any{"tags": []string{"hooks"}},
		"pacing":   map[string]any{"min_interval_s": 8, "max_interval_s": 10, "daily_cap": 100, "warm_up": false}}).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil)
	api.Must(204, "POST", "/v1/simulator/sessions/"+ses+"/inbound", map[string]any{"from": "+4915123456789", "text": "hello"})

	type envelope struct {
		ID, Type  string
		AccountID string `json:"account_id"`
		Data      struct {
			MessageID  string `json:"message_id"`
			CampaignID string `json:"campaign_id"`
			Status     string
			Sequence   int
			Text       string
		}
	}
	var got []envelope
	apitest.Eventually(t, 30*time.Second, func() string {
		got = got[:0]
		types := map[string]int{}
		for _, r := range rcv.requests() {
			if err := wh.Verify(r.body, r.header); err != nil {
				return "signature does not verify: " + err.Error()
			}
			var env envelope
			if err := json.Unmarshal(r.body, &env); err != nil {
				return err.Error()
			}
			if env.ID != r.header.Get("webhook-id") || env.AccountID != ten.AccountID {
				return fmt.Sprintf("envelope %s vs header %s", env.ID, r.header.Get("webhook-id"))
			}
			got = append(got, env)
			types[env.Type]++
		}
		// 5 queued, 4 sent + delivered + read, 1 failed, the campaign, the inbound message.
		if types["message.queued"] != 5 || types["message.read"] != 4 || types["message.failed"] != 1 ||
			types["campaign.completed"] != 1 || types["message.received"] != 1 || types["session.status"] == 0 {
			return fmt.Sprintf("webhook types so far: %v", types)
		}
		return ""
	})
	seen := map[string]bool{}
	perMessage := map[string][]envelope{}
	for _, g := range got {
		if seen[g.ID] {
			t.Fatalf("event %s (%s) delivered twice", g.ID, g.Type)
		}
		seen[g.ID] = true
		if g.Data.MessageID != "" {
			perMessage[g.Data.MessageID] = append(perMessage[g.Data.MessageID], g)
		}
	}
	for msg, evs := range perMessage {
		sort.Slice(evs, func(i, j int) bool { return evs[i].Data.Sequence < evs[j].Data.Sequence })
		var order []string
		for _, ev := range evs {
			order = append(order, ev.Data.Status)
		}
		if s := fmt.Sprint(order); s != "[queued sent delivered read]" && s != "[queued failed]" {
			t.Errorf("message %s events by sequence: %v", msg, order)
		}
	}
}

func TestImportCompletedWebhook(t *testing.T) {
	e := webhookEnv(t, app.Tuning{}, true)
	e.StartEventsConsumer()
	e.StartImportsWorker()
	rcv := newReceiver(t, 0)
	api := e.SignUp("imports-hook@example.com").API
	api.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL, "events": []string{"contacts.import.completed"}})
	api.Header.Set("Content-Type", "text/csv")
	imp := api.Must(202, "POST", "/v1/contacts/imports", "phone,first_name\n+4915123456701,Ana\nnot-a-phone,Bo\n").Str("id")
	api.Header.Del("Content-Type")
	apitest.Eventually(t, 20*time.Second, func() string {
		for _, r := range rcv.requests() {
			var env struct {
				Type string
				Data struct {
					ImportID string `json:"import_id"`
					Created  int
					Rejected int
				}
			}
			if json.Unmarshal(r.body, &env) == nil && env.Type == "contacts.import.completed" {
				if env.Data.ImportID != imp || env.Data.Created != 1 || env.Data.Rejected != 1 {
					return fmt.Sprintf("import webhook data: %s", r.body)
				}
				return ""
			}
		}
		return fmt.Sprintf("%d requests, no contacts.import.completed yet", len(rcv.requests()))
	})
}

// The OpenAPI document describes every webhook event with an example.
func TestOpenAPIWebhooks(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	spec := e.Client().Must(200, "GET", "/openapi.json", nil)
	hooks, _ := spec.JSON["webhooks"].(map[string]any)
	for _, typ := range []string{"message.queued", "message.sent", "message.delivered", "message.read", "message.failed", "message.skipped",
		"message.received", "session.status", "campaign.completed", "contact.opted_out", "contact.opted_in", "contacts.import.completed", "ping"} {
		item, _ := hooks[typ].(map[string]any)
		post, _ := item["post"].(map[string]any)
		body, _ := post["requestBody"].(map[string]any)
		content, _ := body["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		ex, _ := media["example"].(map[string]any)
		if ex["type"] != typ || ex["data"] == nil {
			t.Errorf("webhook %s: no example envelope in the OpenAPI document", typ)
		}
	}
}
