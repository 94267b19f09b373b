// Package stack is ChatSend's AWS CDK stack: the main DynamoDB table, the SQS
// queues with their dead-letter queues, the S3 buckets, the Go Lambda
// functions, the HTTP API in front of them, and the session host (a Fargate
// service in its own VPC with an EFS device store). Tables, queues and
// buckets are built by iterating over resources.For(stage), so their names
// are written once, in package resources, and shared with the local
// emulated stack.
package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/chatsend/chatsend/shared/resources"
)

// Props configures one ChatSend stack.
type Props struct {
	// Stage names the deployment ("dev", "prod", …); it prefixes every
	// physical name through resources.For.
	Stage string
	// FunctionsDir holds one folder per Lambda function, each with the
	// function's linux/arm64 "bootstrap" binary (functionsDir/api/bootstrap).
	FunctionsDir string
	// SourceDir is the repository root, the Docker build context of the
	// session host image (built from session-host/Dockerfile). Empty means
	// ".", where `go run ./infra` and `cdk synth` run.
	SourceDir string
	// StripePrices maps plan ids to Stripe price ids (from
	// CHATSEND_STRIPE_PRICE_<PLAN> at synth time); the functions get them
	// as environment variables.
	StripePrices map[string]string
	awscdk.StackProps
}

// flags pins the CDK feature flags this stack depends on, so the template is
// the same whether it is synthesized by `cdk synth` (which passes cdk.json
// context), by `go run ./infra` or by the tests (which pass none).
var flags = map[string]any{
	// Grant S3 server access log delivery through a bucket policy instead of
	// the legacy LogDeliveryWrite ACL (ACLs are disabled on new buckets).
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
}

// builder carries what the parts of the stack share while it is built.
type builder struct {
	stack awscdk.Stack
	props Props
	set   resources.Set
	// removal is RETAIN everywhere but the "local" stage, so deleting a
	// deployed stack never deletes customer data.
	removal awscdk.RemovalPolicy
	table   awsdynamodb.Table
	queues  map[string]awssqs.Queue
	// bucketEnv maps CHATSEND_BUCKET_<ID> to each bucket's final name.
	bucketEnv map[string]*string
	// buckets maps resources bucket ids to their constructs.
	buckets map[string]awss3.Bucket
}

// New builds the ChatSend stack for props.Stage in scope. It panics (as CDK
// constructs do) on a definition that cannot be synthesized.
func New(scope constructs.Construct, id string, props Props) awscdk.Stack {
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	for k, v := range flags {
		st.Node().SetContext(jsii.String(k), v)
	}
	awscdk.Tags_Of(st).Add(jsii.String("project"), jsii.String("chatsend"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("stage"), jsii.String(props.Stage), nil)

	b := &builder{
		stack:     st,
		props:     props,
		set:       resources.For(props.Stage),
		removal:   awscdk.RemovalPolicy_RETAIN,
		queues:    map[string]awssqs.Queue{},
		bucketEnv: map[string]*string{},
		buckets:   map[string]awss3.Bucket{},
	}
	if props.Stage == "local" {
		b.removal = awscdk.RemovalPolicy_DESTROY
	}
	b.addTable()
	b.addQueues()
	b.addBuckets()

	api := b.goFunction("api", 29*time.Second) // API Gateway gives up after 30 s
	b.grantReadWriteTable(api)
	b.grantSend(api, resources.QueueCampaignJobs, resources.QueueControl, resources.QueueSend, resources.QueuePrivacy,
		resources.QueueWebhooks, resources.QueueEvents) // events: message.status of new messages
	httpAPI := b.addHTTPAPI(api)

	events := b.goFunction("events", time.Minute) // delivery tracking from the session host's events
	b.grantReadWriteTable(events)
	b.consume(events, resources.QueueEvents, 10)
	// Emit queues deliveries; opt-out confirmations are messages (send
	// wake-ups and their message.status events).
	b.grantSend(events, resources.QueueWebhooks, resources.QueueSend, resources.QueueEvents)

	// The fan-out stops 30 s before its timeout and enqueues its own
	// continuation, so any audience size finishes in 5-minute slices.
	fanout := b.goFunction("fanout", 5*time.Minute)
	b.grantReadWriteTable(fanout)
	b.grantSend(fanout, resources.QueueCampaignJobs, resources.QueueSend, resources.QueueEvents)
	b.consume(fanout, resources.QueueCampaignJobs, 1)

	b.addImports(api)
	b.addPrivacy()

	// Webhook deliveries: a 10 s HTTP timeout per attempt leaves room in
	// 30 s; retries are re-queued by the function itself (delayed sends).
	webhooks := b.goFunction("webhooks", 30*time.Second)
	b.grantReadWriteTable(webhooks)
	b.grantSend(webhooks, resources.QueueWebhooks)
	b.consume(webhooks, resources.QueueWebhooks, 10)

	b.addSecretsKey(api, events, webhooks)
	b.addBilling(httpAPI, api)

	b.addSessionHost()
	return st
}
