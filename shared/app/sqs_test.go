package app_test

import (
	"context"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// A poison record is retried (reported as a batch failure) until its last
// allowed receive, then moved to the dead-letter queue with its reason.
func TestPoisonRecordsDeadLetterWithReason(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	h := e.Deps.FanoutHandler()
	rec := func(id, body, receives string) awsevents.SQSMessage {
		return awsevents.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": receives}}
	}
	ctx := context.Background()
	resp, err := h(ctx, awsevents.SQSEvent{Records: []awsevents.SQSMessage{rec("m1", "not json", "1"), rec("m2", `{"account_id":"acct_x","campaign_id":"cmp_missing"}`, "1")}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("first receive: %v %+v", err, resp)
	}
	q, _ := e.Deps.Config.Resources.QueueByID(resources.QueueCampaignJobs)
	resp, err = h(ctx, awsevents.SQSEvent{Records: []awsevents.SQSMessage{rec("m1", "not json", "5")}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("last receive should be acknowledged after dead-lettering: %v %+v", err, resp)
	}
	msgs, attrs, err := queue.New(e.Clients.SQS, q.DLQName).ReceiveWithAttributes(ctx, 10, 0)
	if err != nil || len(msgs) != 1 || msgs[0].Body != "not json" {
		t.Fatalf("dead-letter queue: %v %+v", err, msgs)
	}
	if !strings.Contains(attrs[0]["failure_reason"], "malformed campaign job") || attrs[0]["source_queue"] != q.Name {
		t.Fatalf("dead-letter attributes: %v", attrs[0])
	}
}
