package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/privacy"
)

// TestSQSEvents drives the handler the Lambda runs with the sample event:
// a run that cannot finish is reported for retry; the next run completes
// the request; a redelivery changes nothing.
func TestSQSEvents(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("lambda-privacy@example.com")
	id := ten.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "object"}).Str("id")
	body := strings.NewReplacer("ACCOUNT_ID", ten.AccountID, "REQUEST_ID", id).Replace(`{"request_id":"REQUEST_ID","account_id":"ACCOUNT_ID"}`)
	h := e.Deps.PrivacyHandler()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := h(cancelled, apitest.MustSQSEvent(t, "testdata/sqs-event.json", body)); err != nil || len(res.BatchItemFailures) != 1 {
		t.Fatalf("cancelled run: %v %+v", err, res)
	}
	for i := 0; i < 2; i++ { // the run, then a redelivery
		if res, err := h(context.Background(), apitest.MustSQSEvent(t, "testdata/sqs-event.json", body)); err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
	}
	r := ten.API.Must(200, "GET", "/v1/privacy/requests/"+id, nil)
	if r.Str("status") != "completed" {
		t.Fatalf("request after the event: %s", r.Raw)
	}
	a := ten.API.Must(200, "GET", "/v1/account", nil)
	if a.JSON["objected_at"] == nil || a.JSON["communications"].(map[string]any)["marketing_emails"] != false {
		t.Fatalf("account after object: %s", a.Raw)
	}
}

// TestDeadLetteredRequestFails: a job that fails on its last receive goes
// to the dead-letter queue and its request ends failed, so a customer is
// never left with a request "running" forever.
func TestDeadLetteredRequestFails(t *testing.T) {
	e := apitest.New(t, app.Tuning{PrivacyAfterPhase: func(privacy.Request, string) error { return errors.New("simulated outage") }},
		map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("lambda-privacy-dead@example.com")
	id := ten.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "restrict"}).Str("id")
	body := strings.NewReplacer("ACCOUNT_ID", ten.AccountID, "REQUEST_ID", id).Replace(`{"request_id":"REQUEST_ID","account_id":"ACCOUNT_ID"}`)
	ev := apitest.MustSQSEvent(t, "testdata/sqs-event.json", body)
	ev.Records[0].Attributes["ApproximateReceiveCount"] = "5"
	if res, err := e.Deps.PrivacyHandler()(context.Background(), ev); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("last receive: %v %+v (want acknowledged into the DLQ)", err, res)
	}
	r := ten.API.Must(200, "GET", "/v1/privacy/requests/"+id, nil)
	if r.Str("status") != "failed" || !strings.Contains(r.Str("failure"), "make it again") {
		t.Fatalf("request after dead-lettering: %s", r.Raw)
	}
	ten.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "restrict"}) // can be made again
}
