package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

func mustEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestLambdaEvents drives the API through the same adapter the Lambda uses,
// with API Gateway HTTP API (payload v2) sample events.
func TestLambdaEvents(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	proxy := httpadapter.NewV2(e.Deps.API()).ProxyWithContext
	ctx := context.Background()

	// A base64-encoded body, as API Gateway sends it.
	res, err := proxy(ctx, mustEvent(t, "signup.json"))
	if err != nil || res.StatusCode != 201 || !strings.Contains(res.Body, `"lambda@example.com"`) {
		t.Fatalf("signup: %v %d %s", err, res.StatusCode, res.Body)
	}

	ten := e.SignUp("owner@example.com")
	ev := mustEvent(t, "get-account.json")
	ev.Headers["authorization"] = "Bearer " + ten.Key
	res, err = proxy(ctx, ev)
	if err != nil || res.StatusCode != 200 || !strings.Contains(res.Body, ten.AccountID) {
		t.Fatalf("get account: %v %d %s", err, res.StatusCode, res.Body)
	}
	if res.Headers["X-Request-Id"] == "" {
		t.Fatalf("no request id header: %v", res.Headers)
	}

	ev.Headers["authorization"] = "Bearer nope"
	res, err = proxy(ctx, ev)
	if err != nil || res.StatusCode != 401 || res.Headers["Content-Type"] != "application/problem+json" {
		t.Fatalf("bad key: %v %d %v %s", err, res.StatusCode, res.Headers, res.Body)
	}
	// The client IP for rate limits comes from the request context.
	if !strings.Contains(e.Logs.String(), `"route":"GET /v1/account"`) {
		t.Fatal("access log lacks the route")
	}
}
