// Package local runs ChatSend's AWS resources on the embedded kumo emulator:
// it starts the emulator, points the standard AWS environment at it, and
// creates every table, queue and bucket from package resources — the same
// definition the CDK stack deploys. make dev and the tests both use it.
package local

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sivchari/kumo"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/resources"
)

// Emulator is a running kumo server.
type Emulator struct {
	// URL is the endpoint clients use.
	URL   string
	srv   *kumo.Server
	proxy *http.Server
}

// StartEmulator starts kumo. With addr "" it is reached at its own random
// loopback port; with an address such as 127.0.0.1:4566 a proxy serves it
// there too, so tools like the AWS CLI can be pointed at a fixed URL.
// KUMO_DATA_DIR, read by kumo when the process starts, makes state persist.
func StartEmulator(addr string) (*Emulator, error) {
	srv := kumo.NewServer()
	e := &Emulator{URL: srv.URL, srv: srv}
	if addr == "" {
		return e, nil
	}
	target, err := url.Parse(srv.URL)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("kumo url: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("listen %s for the AWS emulator: %w", addr, err)
	}
	e.proxy = &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.proxy.Serve(ln) }()
	e.URL = "http://" + ln.Addr().String()
	return e, nil
}

// Close stops the emulator. kumo flushes persisted state every second, so
// callers that persist wait that long before closing (see FlushDelay).
func (e *Emulator) Close() {
	if e.proxy != nil {
		_ = e.proxy.Close()
	}
	e.srv.Close()
}

// FlushDelay is how long kumo may take to write dirty state to KUMO_DATA_DIR.
const FlushDelay = 1500 * time.Millisecond

// UseEnv points the standard AWS environment of this process at the
// emulator, with fixed dummy credentials (kumo does not check them).
func (e *Emulator) UseEnv() {
	os.Setenv("AWS_ENDPOINT_URL", e.URL)
	os.Setenv("AWS_REGION", "us-east-1")
	os.Setenv("AWS_ACCESS_KEY_ID", "local")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Provision creates every resource of set that does not exist yet. It is
// idempotent, so make dev runs it on every start.
func Provision(ctx context.Context, c awsclient.Clients, set resources.Set) error {
	if err := createTable(ctx, c.DynamoDB, set.Main); err != nil {
		return err
	}
	for _, q := range set.Queues {
		if err := createQueue(ctx, c.SQS, q); err != nil {
			return err
		}
	}
	for _, b := range set.Buckets {
		_, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b.Name})
		if err != nil && !awsclient.HasCode(err, "BucketAlreadyOwnedByYou", "BucketAlreadyExists") {
			return fmt.Errorf("create bucket %s: %w", b.Name, err)
		}
		// Versioned like the deployed buckets, so erasure is tested against
		// noncurrent versions and delete markers too.
		if _, err := c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b.Name,
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return fmt.Errorf("version bucket %s: %w", b.Name, err)
		}
	}
	return nil
}

func createTable(ctx context.Context, db *dynamodb.Client, t resources.Table) error {
	attrs := map[string]bool{t.PartitionKey: true, t.SortKey: true}
	in := &dynamodb.CreateTableInput{
		TableName:   &t.Name,
		BillingMode: dbtypes.BillingModePayPerRequest,
		KeySchema: []dbtypes.KeySchemaElement{
			{AttributeName: &t.PartitionKey, KeyType: dbtypes.KeyTypeHash},
			{AttributeName: &t.SortKey, KeyType: dbtypes.KeyTypeRange},
		},
	}
	for _, ix := range t.Indexes {
		attrs[ix.PartitionKey], attrs[ix.SortKey] = true, true
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, dbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []dbtypes.KeySchemaElement{
				{AttributeName: aws.String(ix.PartitionKey), KeyType: dbtypes.KeyTypeHash},
				{AttributeName: aws.String(ix.SortKey), KeyType: dbtypes.KeyTypeRange},
			},
			Projection: &dbtypes.Projection{ProjectionType: dbtypes.ProjectionType(ix.Projection)},
		})
	}
	for a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dbtypes.AttributeDefinition{
			AttributeName: aws.String(a), AttributeType: dbtypes.ScalarAttributeTypeS})
	}
	_, err := db.CreateTable(ctx, in)
	if err != nil && !awsclient.HasCode(err, "ResourceInUseException") {
		return fmt.Errorf("create table %s: %w", t.Name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &t.Name,
		TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{AttributeName: &t.TTLAttribute, Enabled: aws.Bool(true)}})
	if err != nil && !awsclient.HasCode(err, "ValidationException") { // already enabled
		return fmt.Errorf("enable ttl on %s: %w", t.Name, err)
	}
	return nil
}

func createQueue(ctx context.Context, c *sqs.Client, q resources.Queue) error {
	base := map[string]string{
		"MessageRetentionPeriod": strconv.Itoa(int(q.Retention / time.Second)),
	}
	if q.FIFO {
		base["FifoQueue"] = "true"
	}
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &q.DLQName, Attributes: base})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", q.DLQName, err)
	}
	arn, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("queue arn %s: %w", q.DLQName, err)
	}
	attrs := map[string]string{
		"VisibilityTimeout": strconv.Itoa(int(q.VisibilityTimeout / time.Second)),
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, arn.Attributes["QueueArn"], q.MaxReceiveCount),
	}
	for k, v := range base {
		attrs[k] = v
	}
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &q.Name, Attributes: attrs}); err != nil {
		return fmt.Errorf("create queue %s: %w", q.Name, err)
	}
	return nil
}

// WaitForFlush waits until kumo has written its state to KUMO_DATA_DIR.
func WaitForFlush() { time.Sleep(FlushDelay) }

// GenerousPlanLimits is a CHATSEND_PLAN_LIMITS_FREE value for tests and
// benchmarks that exercise other things than plan limits: the free plan's
// real limits (one session, 500 messages a month) would stop them.
const GenerousPlanLimits = "sessions=1000,messages_per_month=100000000,contacts=100000000,webhook_endpoints=100,campaign_recipients_per_day=100000000"
