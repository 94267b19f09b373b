package localtest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/retention"
)

// auditSlack absorbs clock reads between writing an item and auditing it.
const auditSlack = 5 * time.Minute

// AuditTable scans every item of a test's table and checks the retention
// rules that erasure and the TTL sweep rely on: every item has a known
// `type` with a retention class; an item of a class with a period carries
// `ttl` as a Number of epoch seconds no later than now + the class's
// longest period; an item of a class without a period carries no future
// `ttl`; and an item in an account partition (`A#<acct>`) carries that
// account as `acct`. It returns one line per violating item type.
func AuditTable(ctx context.Context, client *dynamodb.Client, table string, now time.Time) ([]string, error) {
	classes := dynamo.ItemClasses()
	problems := map[string]string{} // type → first problem seen
	var start map[string]types.AttributeValue
	for {
		res, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range res.Items {
			typ := str(it["type"])
			if p := auditItem(it, typ, classes, now); p != "" {
				if _, seen := problems[typ]; !seen {
					problems[typ] = fmt.Sprintf("type %q (pk %s, sk %s): %s", typ, str(it["pk"]), str(it["sk"]), p)
				}
			}
		}
		if res.LastEvaluatedKey == nil {
			break
		}
		start = res.LastEvaluatedKey
	}
	out := make([]string, 0, len(problems))
	for _, p := range problems {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func auditItem(it map[string]types.AttributeValue, typ string, classes map[string]retention.Class, now time.Time) string {
	class, ok := classes[typ]
	if !ok {
		return "no retention class (add the type to shared/dynamo itemClasses)"
	}
	if pk := str(it["pk"]); strings.HasPrefix(pk, "A#") && str(it["acct"]) != strings.TrimPrefix(pk, "A#") {
		return "an account-partition item without its `acct`"
	}
	p := retention.PolicyFor(class)
	raw, has := it["ttl"]
	if !has {
		if p.Period != 0 {
			return fmt.Sprintf("class %s needs a ttl", class)
		}
		return ""
	}
	nv, isNum := raw.(*types.AttributeValueMemberN)
	if !isNum {
		return "ttl is not a Number"
	}
	ttl, err := strconv.ParseInt(nv.Value, 10, 64)
	if err != nil || ttl < 1_000_000_000 || ttl > 100_000_000_000 {
		return fmt.Sprintf("ttl %s is not epoch seconds", nv.Value)
	}
	limit := now.Add(p.Longest() + auditSlack)
	if time.Unix(ttl, 0).After(limit) {
		return fmt.Sprintf("ttl %s is past class %s's bound (%s)", time.Unix(ttl, 0).UTC().Format(time.RFC3339), class, p.Longest())
	}
	return ""
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// auditAtCleanup runs AuditTable when the test ends and fails it on any
// violation, so every item type any test writes is audited.
func auditAtCleanup(tb testing.TB, client *dynamodb.Client, table string, now func() time.Time) {
	tb.Cleanup(func() {
		problems, err := AuditTable(context.Background(), client, table, now())
		if err != nil {
			tb.Errorf("TTL audit: %v", err)
			return
		}
		for _, p := range problems {
			tb.Errorf("TTL audit: %s", p)
		}
	})
}
