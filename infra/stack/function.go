package stack

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// logLevel is CHATSEND_LOG_LEVEL for deployed functions.
const logLevel = "info"

// goFunction builds the Go Lambda functions/<name>: the linux/arm64
// bootstrap binary in FunctionsDir/<name>, a role that may only write its own
// log group and send traces, and the environment package config reads.
// Callers add data grants (table, queues) on top.
func (b *builder) goFunction(name string, timeout time.Duration) awslambda.Function {
	id := pascal(name)
	logs := awslogs.NewLogGroup(b.stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: b.removal,
	})
	// An explicit role instead of CDK's default one, which would attach the
	// AWSLambdaBasicExecutionRole managed policy (logs on every log group).
	role := awsiam.NewRole(b.stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("ChatSend " + b.set.Stage + " " + name + " function"),
	})
	logs.GrantWrite(role)

	env := map[string]*string{
		"CHATSEND_STAGE":      jsii.String(b.set.Stage),
		"CHATSEND_TABLE_MAIN": b.table.TableName(),
		"CHATSEND_LOG_LEVEL":  jsii.String(logLevel),
	}
	for k, v := range b.bucketEnv {
		env[k] = v
	}
	fn := awslambda.NewFunction(b.stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(b.props.FunctionsDir, name)), nil),
		MemorySize:    jsii.Number(512),
		Timeout:       awscdk.Duration_Millis(jsii.Number(float64(timeout.Milliseconds()))),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Tracing:       awslambda.Tracing_ACTIVE,
		Environment:   &env,
		Description:   jsii.String("ChatSend functions/" + name),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Resource::* is only on xray:PutTraceSegments and xray:PutTelemetryRecords " +
			"(added by active tracing); X-Ray does not support resource-level permissions"),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
	return fn
}

// grantReadWriteTable lets fn read and write the main table and its indexes.
func (b *builder) grantReadWriteTable(fn awslambda.Function) { b.grantTable(fn, fn.Role()) }

// grantTable lets grantee read and write the main table and its indexes;
// role is the grantee's role, which carries the policy and the suppression.
func (b *builder) grantTable(grantee awsiam.IGrantable, role constructs.IConstruct) {
	b.table.GrantReadWriteData(grantee)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("<main table ARN>/index/* lets the role query the main table's own " +
			"global secondary indexes (by_account, gsi1), nothing else"),
		AppliesTo: &[]any{cdknag.RegexAppliesTo{Regex: jsii.String(
			`/^Resource::<` + construct("table", b.set.Main.ID) + `[0-9A-F]*\.Arn>\/index\/\*$/`)}},
	}}, jsii.Bool(true))
}

// grantSend lets fn send to the queues with the given resources ids and
// passes their names as CHATSEND_QUEUE_<ID>.
func (b *builder) grantSend(fn awslambda.Function, queueIDs ...string) {
	for _, id := range queueIDs {
		q := b.queue(id)
		q.GrantSendMessages(fn)
		fn.AddEnvironment(jsii.String("CHATSEND_QUEUE_"+envKey(id)), q.QueueName(), nil)
	}
}

// queue returns the queue with the given resources id.
func (b *builder) queue(id string) awssqs.Queue {
	q, ok := b.queues[id]
	if !ok {
		panic(fmt.Sprintf("stack: unknown queue %q", id))
	}
	return q
}

// consume makes fn the consumer of a queue: an event source mapping that
// reports partial batch failures, so only failed records are retried.
func (b *builder) consume(fn awslambda.Function, queueID string, batch int) {
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(b.queue(queueID), &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(batch),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
}
