// Package awsclient builds AWS SDK clients from the standard environment.
// AWS_ENDPOINT_URL (read by the SDK itself) points every client at a local
// emulator, so the same binaries run against kumo, LocalStack or AWS.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// Clients are the AWS clients a process uses.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	S3       *s3.Client
	Secrets  *secretsmanager.Client
}

// Load reads the shared AWS configuration and builds the clients. extra
// options (such as request counters for benchmarks) apply to every client.
func Load(ctx context.Context, extra ...func(*aws.Config)) (Clients, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Clients{}, fmt.Errorf("load aws config: %w", err)
	}
	for _, f := range extra {
		f(&cfg)
	}
	emulated := os.Getenv("AWS_ENDPOINT_URL") != ""
	return Clients{
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			// Emulators send no CRC32 header; real DynamoDB keeps the check.
			o.DisableValidateResponseChecksum = emulated
		}),
		SQS:     sqs.NewFromConfig(cfg),
		Secrets: secretsmanager.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = emulated // emulators have no per-bucket DNS names
		}),
	}, nil
}

// HasCode reports whether err is an AWS API error with one of the codes.
// Codes are matched rather than typed errors because emulators differ in
// which typed errors they produce.
func HasCode(err error, codes ...string) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	return slices.Contains(codes, api.ErrorCode())
}

// SecretString reads a Secrets Manager secret's current value.
func (c Clients) SecretString(ctx context.Context, arn string) (string, error) {
	out, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no string value", arn)
	}
	return *out.SecretString, nil
}
