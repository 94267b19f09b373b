package awsclient_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
)

// The webhook secrets key is read from Secrets Manager at start and
// derived to 32 bytes; a missing secret is an error, not a silent default.
func TestSecretsKeyFromSecretsManager(t *testing.T) {
	c := localtest.MustClients(t)
	ctx := context.Background()
	out, err := c.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("chatsend-test-secrets-key"),
		SecretString: aws.String("q8ZrV7mN2xT4kL9pW3sY6bH1cJ5fD0gA7eR2uI8oP4")})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.SecretString(ctx, aws.ToString(out.ARN))
	if err != nil {
		t.Fatal(err)
	}
	key, err := config.DeriveSecretsKey(raw)
	if err != nil || len(key) != 32 {
		t.Fatalf("derived key: %v %d", err, len(key))
	}
	again, _ := config.DeriveSecretsKey(raw)
	if string(again) != string(key) {
		t.Fatal("derivation is not stable")
	}
	if _, err := config.DeriveSecretsKey("short"); err == nil {
		t.Fatal("short key material accepted")
	}
	if _, err := c.SecretString(ctx, "arn:aws:secretsmanager:us-east-1:000000000000:secret:missing"); err == nil {
		t.Fatal("missing secret read without error")
	}
	if !awsclient.HasCode(&fakeAPIError{code: "X"}, "Y", "X") || awsclient.HasCode(&fakeAPIError{code: "X"}, "Y") {
		t.Fatal("HasCode")
	}
}

type fakeAPIError struct{ code string }

func (e *fakeAPIError) Error() string                 { return e.code }
func (e *fakeAPIError) ErrorCode() string             { return e.code }
func (e *fakeAPIError) ErrorMessage() string          { return e.code }
func (e *fakeAPIError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }
