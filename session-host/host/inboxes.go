package host

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/chatsend/chatsend/shared/queue"
)

// SQSInboxes keeps host inboxes as SQS queues.
type SQSInboxes struct{ Client *sqs.Client }

var _ Inboxes = SQSInboxes{}

// inboxRetention: hints older than this are stale anyway (resync covers).
const inboxRetention = time.Hour

// Create implements Inboxes.
func (s SQSInboxes) Create(ctx context.Context, name string) (Queue, string, error) {
	q, err := queue.Create(ctx, s.Client, name, inboxRetention)
	if err != nil {
		return nil, "", err
	}
	url, err := q.URL(ctx)
	return q, url, err
}

// Open implements Inboxes.
func (s SQSInboxes) Open(url string) Queue { return queue.FromURL(s.Client, url) }

// Remove implements Inboxes.
func (s SQSInboxes) Remove(ctx context.Context, url string) error {
	return queue.FromURL(s.Client, url).Remove(ctx)
}
