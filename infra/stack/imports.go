package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/chatsend/chatsend/shared/resources"
)

// importsTimeout bounds one run of an import job. The imports queue's
// visibility timeout (15 min) is six times this, as AWS advises for SQS
// event sources; a run stops 20 s before its timeout and queues its own
// continuation from the job's checkpoint, so any file finishes in slices.
const importsTimeout = 150 * time.Second

// addImports adds the contact import worker (functions/imports) on the
// imports queue, one job per invocation. The api uploads CSV files to the
// imports bucket and queues their jobs; the worker reads the files (ranged
// reads from a checkpoint) and deletes each when its job ends.
func (b *builder) addImports(api awslambda.Function) {
	fn := b.goFunction("imports", importsTimeout)
	b.grantReadWriteTable(fn)
	b.grantSend(fn, resources.QueueImports, resources.QueueEvents) // continuations; contacts.import.completed
	b.consume(fn, resources.QueueImports, 1)
	b.grantImportObjects(fn, "s3:GetObject", "s3:DeleteObject")

	b.grantSend(api, resources.QueueImports)
	b.grantImportObjects(api, "s3:PutObject")
}

// grantImportObjects allows exactly actions on the objects of the imports
// bucket (no bucket-level or wildcard actions, unlike the CDK's grant
// helpers).
func (b *builder) grantImportObjects(fn awslambda.Function, actions ...string) {
	b.grantObjects(fn, resources.BucketImports, "the uploaded CSV files, keyed <account id>/<import id>.csv", actions...)
}

// grantObjects allows exactly actions on the objects of one bucket; what
// says which objects those are, for the cdk-nag suppression.
func (b *builder) grantObjects(fn awslambda.Function, bucketID, what string, actions ...string) {
	bucket, ok := b.buckets[bucketID]
	if !ok {
		panic("stack: no bucket " + bucketID)
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*bucket.ArnForObjects(jsii.String("*"))),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("<" + bucketID + " bucket ARN>/* covers " + what +
			" at runtime; only object-level actions are allowed, on this bucket alone"),
		AppliesTo: &[]any{cdknag.RegexAppliesTo{Regex: jsii.String(
			`/^Resource::<` + construct("bucket", bucketID) + `[0-9A-F]*\.Arn>\/\*$/`)}},
	}}, jsii.Bool(true))
}
