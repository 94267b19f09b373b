package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/tenant"
)

// TestRecipientPhoneRetention: a message keeps its number in clear only
// while queued (for the sender) and in its recipient item for 90 days;
// after that the metadata holds only the hash, which still filters.
func TestRecipientPhoneRetention(t *testing.T) {
	c, set := localtest.MustResources(t)
	db := dynamo.New(c.DynamoDB, set.Main.Name, nil)
	ctx := tenant.With(context.Background(), ids.New(ids.Account))
	now := time.Now().UTC().Truncate(time.Second)
	const to = "+4915123456789"
	m := messages.Message{ID: ids.New(ids.Message), SessionID: ids.New(ids.Session), To: to, Text: "hi",
		Status: messages.StatusQueued, History: []messages.Change{{Status: messages.StatusQueued, At: now}}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	raw := func() map[string]types.AttributeValue {
		t.Helper()
		res, err := c.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(set.Main.Name)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			if it["sk"].(*types.AttributeValueMemberS).Value == "MSG#"+m.ID {
				return it
			}
		}
		t.Fatal("message item not found")
		return nil
	}
	if _, ok := raw()["to"]; !ok {
		t.Fatal("a queued message must keep its number for the sender")
	}
	for _, st := range []messages.Status{messages.StatusSending, messages.StatusSent} {
		if _, err := db.Transition(ctx, m.ID, messages.Update{From: []messages.Status{messages.StatusQueued, messages.StatusSending}, To: st, At: now}); err != nil {
			t.Fatal(err)
		}
	}
	item := raw()
	if _, ok := item["to"]; ok {
		t.Fatal("a sent message's metadata still holds the number in clear")
	}
	if h := item["to_hash"].(*types.AttributeValueMemberS).Value; h != phone.Hash(to) {
		t.Fatalf("to_hash = %s", h)
	}
	got, err := db.FindMessage(ctx, m.ID)
	if err != nil || got.To != to {
		t.Fatalf("within 90 days the number shows: %q %v", got.To, err)
	}
	page, err := db.ListMessages(ctx, messages.Filter{To: to, Limit: 10})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].To != to {
		t.Fatalf("list by number: %+v %v", page, err)
	}

	db.SetClock(func() time.Time { return now.Add(91 * 24 * time.Hour) })
	got, err = db.FindMessage(ctx, m.ID)
	if err != nil || got.To != "" || got.Status != messages.StatusSent {
		t.Fatalf("after 90 days: to=%q status=%s err=%v", got.To, got.Status, err)
	}
	page, err = db.ListMessages(ctx, messages.Filter{To: to, Limit: 10})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].To != "" {
		t.Fatalf("after 90 days the hash still filters, without the number: %+v %v", page, err)
	}
	for k, v := range raw() {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, "15123456789") {
			t.Fatalf("attribute %s holds the number", k)
		}
	}
}
