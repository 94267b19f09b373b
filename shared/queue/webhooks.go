package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatsend/chatsend/shared/webhooks"
)

// WebhookJobs queues webhook delivery jobs on the webhooks queue for
// functions/webhooks.
type WebhookJobs struct{ Q *Queue }

var _ webhooks.Jobs = WebhookJobs{}

// EnqueueDelivery implements webhooks.Jobs.
func (j WebhookJobs) EnqueueDelivery(ctx context.Context, job webhooks.Job, delay time.Duration) error {
	b, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode webhook job: %w", err)
	}
	return j.Q.SendDelayed(ctx, b, delay)
}
