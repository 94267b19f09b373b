package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

// TestSampleEvent drives the handler through the Lambda adapter with the
// sample API Gateway event: a base64 body, decoded before the signature
// check. The sample's customer is not ChatSend's, so the verified event
// is accepted and changes nothing; a wrong signature is a 400.
func TestSampleEvent(t *testing.T) {
	const secret = "whsec_sample"
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local", "CHATSEND_STRIPE_SECRET_KEY": "sk_test_sample",
		"CHATSEND_STRIPE_API_URL": "http://127.0.0.1:9", "CHATSEND_STRIPE_WEBHOOK_SECRETS": secret})
	raw, err := os.ReadFile("testdata/event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	body, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil || !ev.IsBase64Encoded {
		t.Fatalf("sample body: %v", err)
	}
	// Change the event's type to one billing ignores: no Stripe call.
	body = []byte(strings.Replace(string(body), "customer.subscription.updated", "customer.source.expiring", 1))
	ev.Body = base64.StdEncoding.EncodeToString(body)
	proxy := httpadapter.NewV2(handler(e.Deps)).ProxyWithContext

	ev.Headers["stripe-signature"] = webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: time.Now()}).Header
	res, err := proxy(context.Background(), ev)
	if err != nil || res.StatusCode != 200 || !strings.Contains(res.Body, `"ignored"`) {
		t.Fatalf("signed sample: %v %d %s", err, res.StatusCode, res.Body)
	}
	ev.Headers["stripe-signature"] = webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_other", Timestamp: time.Now()}).Header
	if res, err := proxy(context.Background(), ev); err != nil || res.StatusCode != 400 {
		t.Fatalf("wrong secret: %v %d %s", err, res.StatusCode, res.Body)
	}
}
