package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
)

// dlqRetentionDays is SQS's maximum, so a message that reached a dead-letter
// queue stays there as long as possible for inspection and redrive.
const dlqRetentionDays = 14

// addTable creates the main table and its indexes from resources.Set.Main.
func (b *builder) addTable() {
	t := b.set.Main
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	b.table = awsdynamodb.NewTable(b.stack, jsii.String(construct("table", t.ID)), &awsdynamodb.TableProps{
		TableName:           jsii.String(t.Name),
		PartitionKey:        str(t.PartitionKey),
		SortKey:             str(t.SortKey),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(t.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
			RecoveryPeriodInDays:       jsii.Number(35),
		},
		// The AWS-managed key encrypts at rest without a key policy to
		// maintain or kms:* grants on every function role.
		Encryption:    awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy: b.removal,
	})
	for _, ix := range t.Indexes {
		b.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   str(ix.PartitionKey),
			SortKey:        str(ix.SortKey),
			ProjectionType: projection(ix.Projection),
		})
	}
}

func projection(p resources.Projection) awsdynamodb.ProjectionType {
	switch p {
	case resources.KeysOnly:
		return awsdynamodb.ProjectionType_KEYS_ONLY
	case resources.All:
		return awsdynamodb.ProjectionType_ALL
	}
	panic(fmt.Sprintf("stack: unknown index projection %q", p))
}

// addQueues creates every queue of resources.Set.Queues with its dead-letter
// queue. FIFO queues keep content-based deduplication off: producers set a
// deduplication id (the message id) so a redelivered send is dropped.
func (b *builder) addQueues() {
	for _, q := range b.set.Queues {
		var fifo *bool
		if q.FIFO {
			fifo = jsii.Bool(true)
		}
		// cdk-nag's SQS3 (no dead-letter queue) recognizes a queue named in
		// a RedrivePolicy as a dead-letter queue, so no suppression is needed.
		dlq := awssqs.NewQueue(b.stack, jsii.String(construct("dlq", q.ID)), &awssqs.QueueProps{
			QueueName:       jsii.String(q.DLQName),
			Fifo:            fifo,
			RetentionPeriod: awscdk.Duration_Days(jsii.Number(dlqRetentionDays)),
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RemovalPolicy:   b.removal,
		})
		props := &awssqs.QueueProps{
			QueueName:         jsii.String(q.Name),
			Fifo:              fifo,
			VisibilityTimeout: seconds(q.VisibilityTimeout.Seconds()),
			RetentionPeriod:   seconds(q.Retention.Seconds()),
			DeadLetterQueue: &awssqs.DeadLetterQueue{
				Queue:           dlq,
				MaxReceiveCount: jsii.Number(float64(q.MaxReceiveCount)),
			},
			Encryption:    awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:    jsii.Bool(true),
			RemovalPolicy: b.removal,
		}
		if q.FIFO {
			props.ContentBasedDeduplication = jsii.Bool(false)
		}
		b.queues[q.ID] = awssqs.NewQueue(b.stack, jsii.String(construct("queue", q.ID)), props)
	}
}

// addBuckets creates the server access log bucket and every bucket of
// resources.Set.Buckets. Bucket names are global, so the physical name is the
// resource name plus account and region.
func (b *builder) addBuckets() {
	logs := awss3.NewBucket(b.stack, jsii.String("AccessLogsBucket"), &awss3.BucketProps{
		// Server access logging only delivers to SSE-S3 buckets.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		EnforceSSL:        jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("expire-access-logs"),
			// Request logs: the api_request_log retention class.
			Expiration:                          awscdk.Duration_Days(jsii.Number(retention.PolicyFor(retention.APIRequestLog).Period.Hours() / 24)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: b.removal,
	})
	// No nag suppression needed: cdk-nag's S1 (server access logs) accepts
	// a bucket that receives access logs, which must not log to itself.

	for _, bk := range b.set.Buckets {
		name := strings.Join([]string{bk.Name, *awscdk.Aws_ACCOUNT_ID(), *awscdk.Aws_REGION()}, "-")
		bucket := awss3.NewBucket(b.stack, jsii.String(construct("bucket", bk.ID)), &awss3.BucketProps{
			BucketName:             jsii.String(name),
			Encryption:             awss3.BucketEncryption_S3_MANAGED,
			BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
			ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			EnforceSSL:             jsii.Bool(true),
			Versioned:              jsii.Bool(true),
			ServerAccessLogsBucket: logs,
			ServerAccessLogsPrefix: jsii.String(bk.ID + "/"),
			// Objects are short-lived hand-offs (export bundles): versioning
			// guards against an accidental overwrite, the rules keep
			// nothing longer than needed.
			LifecycleRules: &[]*awss3.LifecycleRule{{
				Id:                                  jsii.String("expire"),
				Expiration:                          awscdk.Duration_Days(jsii.Number(retention.PolicyFor(retention.ExportFile).Period.Hours() / 24)),
				NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(1)),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
			}},
			RemovalPolicy: b.removal,
		})
		b.bucketEnv["CHATSEND_BUCKET_"+envKey(bk.ID)] = bucket.BucketName()
		b.buckets[bk.ID] = bucket
	}
}

func seconds(s float64) awscdk.Duration { return awscdk.Duration_Seconds(jsii.Number(s)) }

// construct turns a kind and a resource id ("queue", "campaign-jobs") into a
// construct id ("CampaignJobsQueue"), which CloudFormation logical ids derive from.
func construct(kind, id string) string {
	return pascal(id) + pascal(kind)
}

func pascal(s string) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		out.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return out.String()
}

// envKey turns a resource id ("campaign-jobs") into an env suffix
// ("CAMPAIGN_JOBS"), as package config reads it.
func envKey(id string) string {
	return strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}
