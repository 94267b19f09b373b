package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

// TestSQSEvents drives the handler the Lambda runs with the sample event:
// a job runs to completion; a malformed message is dropped; a record whose
// run fails is reported alone for retry.
func TestSQSEvents(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("lambda@example.com")
	c := e.WithKey(ten.Key)
	c.Header.Set("Content-Type", "text/csv")
	job := c.Must(202, "POST", "/v1/contacts/imports", "phone,name\n+4915112345678,Ana\nbad,Bob\n").Str("id")
	sample := apitest.MustSQSEvent(t, "testdata/sqs-event.json", "")
	body := strings.NewReplacer("ACCOUNT_ID", ten.AccountID, "IMPORT_ID", job).Replace(`{"account_id":"ACCOUNT_ID","import_id":"IMPORT_ID"}`)
	h := e.Deps.ImportsHandler()

	// A run that cannot finish (here: its context is gone) is retried alone.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ev := apitest.MustSQSEvent(t, "testdata/sqs-event.json", body)
	ev.Records = append(ev.Records, sample.Records[0])
	ev.Records[1].MessageId, ev.Records[1].Body = "malformed", "not json"
	res, err := h(cancelled, ev)
	if err != nil || len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId {
		t.Fatalf("cancelled run: %v %+v", err, res)
	}

	res, err = h(context.Background(), apitest.MustSQSEvent(t, "testdata/sqs-event.json", body))
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("run: %v %+v", err, res)
	}
	r := e.WithKey(ten.Key).Must(200, "GET", "/v1/contacts/imports/"+job, nil)
	if r.Str("status") != "completed" || r.JSON["created"] != 1.0 || r.JSON["rejected"] != 1.0 {
		t.Fatalf("job after the event: %s", r.Raw)
	}
	// A redelivery of the same message does nothing.
	if res, err := h(context.Background(), apitest.MustSQSEvent(t, "testdata/sqs-event.json", body)); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("redelivery: %v %+v", err, res)
	}
	if again := e.WithKey(ten.Key).Must(200, "GET", "/v1/contacts/imports/"+job, nil); again.JSON["processed"] != 2.0 {
		t.Fatalf("redelivery changed the job: %s", again.Raw)
	}
}
