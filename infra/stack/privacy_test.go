package stack_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/resources"
)

func TestPrivacyFunction(t *testing.T) {
	fnID, role := functionRole(t, "PrivacyFunction")
	q, _ := set.QueueByID(resources.QueuePrivacy)
	queueID := oneID(t, "AWS::SQS::Queue", "QueueName", q.Name)
	hasProps(t, "privacy function", "AWS::Lambda::Function", map[string]any{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Timeout": 300,
		"Environment": map[string]any{"Variables": like(map[string]any{
			"CHATSEND_BUCKET_EXPORTS":        like(map[string]any{"Ref": regexp("^ExportsBucket")}),
			"CHATSEND_QUEUE_SESSION_CONTROL": like(map[string]any{"Fn::GetAtt": arrayWith("QueueName")}),
		})},
	})
	if float64(q.VisibilityTimeout.Seconds()) < 3*300 {
		t.Errorf("privacy queue visibility %s is under three times the function timeout", q.VisibilityTimeout)
	}
	hasProps(t, "privacy queue mapping: one job per invocation, partial batch failures", "AWS::Lambda::EventSourceMapping", map[string]any{
		"FunctionName":          ref(fnID),
		"EventSourceArn":        getAtt(queueID, "Arn"),
		"BatchSize":             1,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})
	actions := roleActions(role)
	for _, a := range []string{"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "s3:PutObject", "s3:GetObject",
		"s3:DeleteObject", "s3:ListBucket", "sqs:ReceiveMessage", "sqs:SendMessage"} {
		if len(actions[a]) == 0 {
			t.Errorf("privacy role lacks %s", a)
		}
	}
}
