package localtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/infra/local/localtest"
)

// TestAuditTableFindsViolations: the retention audit that runs after every
// test reports each kind of bad item, and passes good ones.
func TestAuditTableFindsViolations(t *testing.T) {
	c, set := localtest.MustResources(t)
	ctx := context.Background()
	now := time.Now()
	secs := func(d time.Duration) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(d).Unix())}
	}
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	put := func(sk, typ string, ttl types.AttributeValue, acct string) {
		item := map[string]types.AttributeValue{"pk": S("A#acct_1"), "sk": S(sk), "type": S(typ)}
		if ttl != nil {
			item["ttl"] = ttl
		}
		if acct != "" {
			item["acct"] = S(acct)
		}
		if _, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(set.Main.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	bad := func() {
		put("1", "mystery", nil, "acct_1")                                                                  // no class
		put("2", "message_body", secs(500*24*time.Hour), "acct_1")                                          // past the class bound
		put("3", "session_qr", nil, "acct_1")                                                               // TTL class without ttl
		put("4", "message", S("soon"), "acct_1")                                                            // ttl not a Number
		put("5", "session_rpc", &types.AttributeValueMemberN{Value: fmt.Sprint(now.UnixMilli())}, "acct_1") // milliseconds
		put("6", "contact", nil, "")                                                                        // no acct
		put("7", "campaign", secs(time.Hour), "acct_1")                                                     // lifetime item with a future ttl
	}
	bad()
	put("8", "message", secs(400*24*time.Hour), "acct_1") // fine
	put("9", "account", nil, "acct_1")                    // fine
	problems, err := localtest.AuditTable(ctx, c.DynamoDB, set.Main.Name, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"mystery", "message_body", "session_qr", "message", "session_rpc", "contact", "campaign"} {
		found := false
		for _, p := range problems {
			found = found || strings.HasPrefix(p, fmt.Sprintf("type %q", typ))
		}
		if !found {
			t.Errorf("no problem reported for the bad %s item; got %q", typ, problems)
		}
	}
	if len(problems) != 7 {
		t.Errorf("want 7 problems, got %d: %q", len(problems), problems)
	}
	// Remove the bad items so this test's own cleanup audit passes.
	for _, sk := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		if _, err := c.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(set.Main.Name),
			Key: map[string]types.AttributeValue{"pk": S("A#acct_1"), "sk": S(sk)}}); err != nil {
			t.Fatal(err)
		}
	}
}
