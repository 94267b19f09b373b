package queue

import (
	"context"

	"github.com/chatsend/chatsend/shared/privacy"
)

// PrivacyJobs hands privacy jobs to functions/privacy through the privacy
// queue. A job may arrive twice; the request's checkpoint makes the second
// run resume or do nothing.
type PrivacyJobs struct{ Q *Queue }

var _ privacy.Jobs = PrivacyJobs{}

// EnqueuePrivacy implements privacy.Jobs.
func (j PrivacyJobs) EnqueuePrivacy(ctx context.Context, job privacy.Job) error {
	return j.Q.SendJSON(ctx, job, "", "")
}
