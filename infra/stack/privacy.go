package stack

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/chatsend/chatsend/shared/resources"
)

// privacyTimeout bounds one run of a privacy job. An erase waits at most
// 2 minutes for the session host; the privacy queue's visibility timeout
// (15 min) is three times this. A job that runs out resumes from its
// checkpoint on the next delivery.
const privacyTimeout = 5 * time.Minute

// addPrivacy adds the data-rights worker (functions/privacy) on the privacy
// queue, one job per invocation. It reads and deletes every item of an
// account (table and by_account index), writes export bundles to the
// exports bucket and signs their download URLs, deletes an erased account's
// objects in every bucket, asks the session host to delete sessions
// (session-control) and resumes campaigns after an unrestrict
// (campaign-jobs, send).
func (b *builder) addPrivacy() {
	fn := b.goFunction("privacy", privacyTimeout)
	b.grantReadWriteTable(fn)
	b.grantSend(fn, resources.QueueControl, resources.QueueCampaignJobs, resources.QueueSend, resources.QueueEvents)
	b.consume(fn, resources.QueuePrivacy, 1)
	b.grantObjects(fn, resources.BucketExports, "export bundles, keyed <account id>/exports/<request id>.zip",
		"s3:PutObject", "s3:GetObject", "s3:DeleteObject")
	b.grantObjects(fn, resources.BucketImports, "uploaded CSV files, keyed <account id>/<import id>.csv", "s3:DeleteObject")
	for _, id := range []string{resources.BucketExports, resources.BucketImports} {
		// Listing an account's prefix is a bucket-level action.
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("s3:ListBucket"),
			Resources: jsii.Strings(*b.buckets[id].BucketArn()),
		}))
	}
}
