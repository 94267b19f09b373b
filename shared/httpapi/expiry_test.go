package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/tenant"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// expire sets ttl = now − 1 s on every item of the account whose type is in
// typs (and, with keep, for which keep is false), as if DynamoDB's TTL sweep
// had not yet caught up with them. It returns how many items it changed per
// type.
func expire(t *testing.T, e *apitest.Env, acct string, keep func(item map[string]types.AttributeValue) bool, typs ...string) map[string]int {
	t.Helper()
	ctx := context.Background()
	table := e.Deps.Config.Resources.Main.Name
	changed := map[string]int{}
	var start map[string]types.AttributeValue
	for {
		res, err := e.Clients.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			a, _ := it["acct"].(*types.AttributeValueMemberS)
			typ, _ := it["type"].(*types.AttributeValueMemberS)
			if a == nil || a.Value != acct || typ == nil || !slices.Contains(typs, typ.Value) || (keep != nil && keep(it)) {
				continue
			}
			if _, err := e.Clients.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}, UpdateExpression: aws.String("SET #t = :t"),
				ExpressionAttributeNames:  map[string]string{"#t": "ttl"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Unix() - 1)}}}); err != nil {
				t.Fatal(err)
			}
			changed[typ.Value]++
		}
		if res.LastEvaluatedKey == nil {
			return changed
		}
		start = res.LastEvaluatedKey
	}
}

func emptyList(t *testing.T, c *apitest.Client, path string) {
	t.Helper()
	if r := c.Must(200, "GET", path, nil); len(r.JSON["data"].([]any)) != 0 {
		t.Errorf("GET %s lists expired items: %s", path, r.Raw)
	}
}

// TestExpiredItemsAreInvisible: an item whose ttl has passed is absent from
// every API read — gets, lists, index queries and authentication — even
// though DynamoDB has not deleted it yet.
func TestExpiredItemsAreInvisible(t *testing.T) {
	env := apitest.Simulator(t)
	env["CHATSEND_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
	e := campaignEnvWith(t, env)
	ten := e.SignUp("expiry@example.com")
	api := ten.API
	ses := connectedSession(t, api)
	pending := api.Must(201, "POST", "/v1/sessions", map[string]any{"label": "pairing"}).Str("id")
	api.WaitStatus(pending, "waiting_for_qr", 10*time.Second)
	api.Must(200, "GET", "/v1/sessions/"+pending+"/qr", nil)
	api.Must(200, "POST", "/v1/sessions/"+ses+"/check-numbers", map[string]any{"phones": []string{"+4915123456789"}})
	seed := seedContacts(t, e, ten.AccountID, "vip", 3, 0)
	api.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "+4915100000001"})
	imp := csvClient(e, ten.Key).Must(202, "POST", "/v1/contacts/imports", "phone,name\n+4915100000002,Ann\n").Str("id")
	cmp := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Exp", "session_id": ses, "template": "Hi {{name}}",
		"audience": map[string]any{"tags": []string{"vip"}}}).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+cmp+"/start", nil)
	waitCampaign(t, api, cmp, 20*time.Second, func(r apitest.Response) bool { return counts(r)["read"] == 3 })
	api.Header.Set("Idempotency-Key", "exp-1")
	msg := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789", "text": "once"}).Str("id")
	api.Header.Del("Idempotency-Key")
	waitMessage(t, api, msg, "read")
	whe := api.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"contact.opted_out"}}).Str("id")
	env0 := webhooks.Envelope{ID: "evt_expiry", Type: "contact.opted_out", CreatedAt: time.Now(), Data: []byte(`{"message_id":"msg_x"}`)}
	if err := e.Deps.Webhooks.Emit(tenant.With(context.Background(), ten.AccountID), env0, ses); err != nil {
		t.Fatal(err)
	}
	deliveries(t, api, whe, 1)
	second := api.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "second", "scope": "full"}).Str("secret")
	ten.Session.Must(200, "GET", "/v1/account", nil)

	// Short-lived data first, while its parents still exist: the index
	// queries (campaign messages, deliveries) must hide it too.
	n := expire(t, e, ten.AccountID, nil, "message", "message_body", "message_recipient", "idempotency_key", "webhook_delivery", "session_qr", "session_rpc", "import_job", "import_errors", "login_session")
	if n["message"] != 4 || n["webhook_delivery"] != 1 || n["idempotency_key"] != 1 || n["import_job"] != 1 || n["login_session"] != 1 {
		t.Fatalf("expired %v", n)
	}
	api.Must(404, "GET", "/v1/messages/"+msg, nil)
	emptyList(t, api, "/v1/messages")
	emptyList(t, api, "/v1/messages?to=%2B4915123456789")
	emptyList(t, api, "/v1/campaigns/"+cmp+"/messages")
	emptyList(t, api, "/v1/webhook-endpoints/"+whe+"/deliveries")
	api.Must(404, "GET", "/v1/contacts/imports/"+imp, nil)
	if r := api.Must(409, "GET", "/v1/sessions/"+pending+"/qr", nil); r.Str("code") != "" || r.Str("qr") != "" {
		t.Errorf("expired QR code shown: %s", r.Raw) // 409: the next code is on its way
	}
	ten.Session.Must(401, "GET", "/v1/account", nil)
	api.Header.Set("Idempotency-Key", "exp-1") // an expired key no longer replays
	if again := api.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915123456789", "text": "once"}); again.Str("id") == msg {
		t.Fatalf("expired idempotency key replayed %s", msg)
	}
	api.Header.Del("Idempotency-Key")

	// Then everything else but the caller's own key.
	mine := func(it map[string]types.AttributeValue) bool {
		h, ok := it["hash"].(*types.AttributeValueMemberS)
		return ok && h.Value == accounts.HashSecret(ten.Key)
	}
	n = expire(t, e, ten.AccountID, mine, "session", "contact", "contact_phone", "contact_tag", "suppression", "campaign", "webhook_endpoint", "api_key", "api_key_hash")
	if n["session"] != 2 || n["contact"] != 3 || n["campaign"] != 1 || n["webhook_endpoint"] != 1 || n["api_key"] != 1 || n["api_key_hash"] != 1 {
		t.Fatalf("expired %v", n)
	}
	emptyList(t, api, "/v1/sessions")
	api.Must(404, "GET", "/v1/sessions/"+ses, nil)
	emptyList(t, api, "/v1/contacts")
	emptyList(t, api, "/v1/contacts?tag=vip")
	api.Must(404, "GET", "/v1/contacts/"+seed[0].ID, nil)
	emptyList(t, api, "/v1/suppressions")
	emptyList(t, api, "/v1/campaigns")
	api.Must(404, "GET", "/v1/campaigns/"+cmp, nil)
	emptyList(t, api, "/v1/webhook-endpoints")
	api.Must(404, "GET", "/v1/webhook-endpoints/"+whe, nil)
	if r := api.Must(200, "GET", "/v1/api-keys", nil); len(r.JSON["data"].([]any)) != 1 {
		t.Errorf("expired API key listed: %s", r.Raw)
	}
	e.WithKey(second).Must(401, "GET", "/v1/account", nil)
}
