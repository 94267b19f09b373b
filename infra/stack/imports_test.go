package stack_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/resources"
)

// functionRole returns the logical ids of the function whose id starts
// with prefix and of its role.
func functionRole(t *testing.T, prefix string) (fn, role string) {
	t.Helper()
	for id, r := range resourceM {
		if r["Type"] == "AWS::Lambda::Function" && strings.HasPrefix(id, prefix) {
			props := r["Properties"].(map[string]any)
			return id, props["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		}
	}
	t.Fatalf("no function %s*", prefix)
	return "", ""
}

func TestImportsFunction(t *testing.T) {
	fnID, role := functionRole(t, "ImportsFunction")
	q, _ := set.QueueByID(resources.QueueImports)
	queueID := oneID(t, "AWS::SQS::Queue", "QueueName", q.Name)
	hasProps(t, "imports function", "AWS::Lambda::Function", map[string]any{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Timeout": 150,
		"Environment": map[string]any{"Variables": like(map[string]any{
			"CHATSEND_BUCKET_IMPORTS": like(map[string]any{"Ref": regexp("^ImportsBucket")}),
			"CHATSEND_QUEUE_IMPORTS":  like(map[string]any{"Fn::GetAtt": arrayWith("QueueName")}),
		})},
	})
	if float64(q.VisibilityTimeout.Seconds()) < 6*150 {
		t.Errorf("imports queue visibility %s is under six times the function timeout", q.VisibilityTimeout)
	}
	hasProps(t, "imports queue mapping: one job per invocation, partial batch failures", "AWS::Lambda::EventSourceMapping", map[string]any{
		"FunctionName":          ref(fnID),
		"EventSourceArn":        getAtt(queueID, "Arn"),
		"BatchSize":             1,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})

	var bucketID string
	for id, r := range resourceM {
		if r["Type"] == "AWS::S3::Bucket" && strings.HasPrefix(id, "ImportsBucket") {
			bucketID = id
		}
	}
	importObjects := fmt.Sprint(map[string]any{"Fn::Join": []any{"", []any{getAtt(bucketID, "Arn"), "/*"}}})
	check := func(who, role string, want ...string) {
		t.Helper()
		var actions []string
		for a, res := range roleActions(role) {
			if !strings.HasPrefix(a, "s3:") {
				continue
			}
			actions = append(actions, a)
			for _, r := range res {
				if r != importObjects {
					t.Errorf("%s: %s on %s, want only %s", who, a, r, importObjects)
				}
			}
		}
		slices.Sort(actions)
		slices.Sort(want)
		if !slices.Equal(actions, want) {
			t.Errorf("%s may %v on S3, want exactly %v", who, actions, want)
		}
	}
	check("imports role", role, "s3:DeleteObject", "s3:GetObject")
	_, apiRole := functionRole(t, "ApiFunction")
	check("api role", apiRole, "s3:PutObject")

	for _, a := range []string{"dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "sqs:ReceiveMessage", "sqs:SendMessage"} {
		if len(roleActions(role)[a]) == 0 {
			t.Errorf("imports role lacks %s", a)
		}
	}
	eventsQ, _ := set.QueueByID(resources.QueueEvents)
	want := []string{fmt.Sprint(getAtt(queueID, "Arn")), fmt.Sprint(getAtt(oneID(t, "AWS::SQS::Queue", "QueueName", eventsQ.Name), "Arn"))}
	got := roleActions(role)["sqs:SendMessage"]
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("imports role may send to %v, want only the imports and events queues %v", got, want)
	}
}
