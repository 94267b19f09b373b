// Package queue is ChatSend's SQS adapter: send, receive, delete, and the
// short-lived per-host inbox queues of the session hosts. Queue URLs are
// looked up by name, so the same code runs on kumo, LocalStack and AWS.
package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/sessions"
)

// Queue is one SQS queue.
type Queue struct {
	client *sqs.Client
	name   string

	mu  sync.Mutex
	url string
}

// New returns the queue with the given name (its URL is looked up on first use).
func New(client *sqs.Client, name string) *Queue { return &Queue{client: client, name: name} }

// FromURL returns a queue known by its URL.
func FromURL(client *sqs.Client, url string) *Queue {
	return &Queue{client: client, name: url[strings.LastIndex(url, "/")+1:], url: url}
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// FIFO reports whether the queue is a FIFO queue.
func (q *Queue) FIFO() bool { return strings.HasSuffix(q.name, ".fifo") }

// URL returns the queue's URL.
func (q *Queue) URL(ctx context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.url != "" {
		return q.url, nil
	}
	res, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.name})
	if err != nil {
		return "", fmt.Errorf("queue url %s: %w", q.name, err)
	}
	q.url = aws.ToString(res.QueueUrl)
	return q.url, nil
}

// Message is a received message.
type Message struct {
	ID           string
	Body         string
	Receipt      string
	ReceiveCount int
}

// Send sends body. For FIFO queues group orders messages and dedup drops a
// repeat within five minutes (a random id when empty).
func (q *Queue) Send(ctx context.Context, body []byte, group, dedup string) error {
	url, err := q.URL(ctx)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(string(body))}
	if q.FIFO() {
		if dedup == "" {
			dedup = randomID()
		}
		in.MessageGroupId, in.MessageDeduplicationId = &group, &dedup
	}
	if _, err := q.client.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", q.name, err)
	}
	return nil
}

// SendDelayed sends body to a standard queue, invisible for delay (at most
// 15 minutes, SQS's limit).
func (q *Queue) SendDelayed(ctx context.Context, body []byte, delay time.Duration) error {
	url, err := q.URL(ctx)
	if err != nil {
		return err
	}
	secs := int32(min(max(delay, 0), 15*time.Minute) / time.Second)
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(string(body)), DelaySeconds: secs}); err != nil {
		return fmt.Errorf("send to %s: %w", q.name, err)
	}
	return nil
}

// SendWithAttributes sends body to a standard queue with string message
// attributes (a dead-lettered record's failure reason).
func (q *Queue) SendWithAttributes(ctx context.Context, body []byte, attrs map[string]string) error {
	url, err := q.URL(ctx)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(string(body)), MessageAttributes: map[string]types.MessageAttributeValue{}}
	for k, v := range attrs {
		if len(v) > 1024 {
			v = v[:1024]
		}
		in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if _, err := q.client.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", q.name, err)
	}
	return nil
}

// ReceiveWithAttributes is Receive returning the messages' string attributes too.
func (q *Queue) ReceiveWithAttributes(ctx context.Context, max int, wait time.Duration) ([]Message, []map[string]string, error) {
	url, err := q.URL(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: int32(max),
		WaitTimeSeconds: int32(wait / time.Second), MessageAttributeNames: []string{"All"}})
	if err != nil {
		return nil, nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	msgs := make([]Message, len(res.Messages))
	attrs := make([]map[string]string, len(res.Messages))
	for i, m := range res.Messages {
		msgs[i] = Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle)}
		attrs[i] = map[string]string{}
		for k, v := range m.MessageAttributes {
			attrs[i][k] = aws.ToString(v.StringValue)
		}
	}
	return msgs, attrs, nil
}

// SendJSON sends v encoded as JSON.
func (q *Queue) SendJSON(ctx context.Context, v any, group, dedup string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	return q.Send(ctx, b, group, dedup)
}

// Receive long-polls for up to max messages.
func (q *Queue) Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	url, err := q.URL(ctx)
	if err != nil {
		return nil, err
	}
	res, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: int32(max),
		WaitTimeSeconds:             int32(wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	out := make([]Message, len(res.Messages))
	for i, m := range res.Messages {
		n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		out[i] = Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle), ReceiveCount: n}
	}
	return out, nil
}

// Delete acknowledges a message.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	url, err := q.URL(ctx)
	if err != nil {
		return err
	}
	if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: &receipt}); err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	return nil
}

// Create creates a standard queue (idempotent) and returns it. Session
// hosts use it for their inboxes.
func Create(ctx context.Context, client *sqs.Client, name string, retention time.Duration) (*Queue, error) {
	res, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: map[string]string{
		"MessageRetentionPeriod": strconv.Itoa(int(retention / time.Second)),
		"VisibilityTimeout":      "30",
	}})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	return FromURL(client, aws.ToString(res.QueueUrl)), nil
}

// Remove deletes the queue itself; a queue that no longer exists is fine.
func (q *Queue) Remove(ctx context.Context) error {
	url, err := q.URL(ctx)
	if IsMissing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := q.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url}); err != nil && !IsMissing(err) {
		return fmt.Errorf("delete queue %s: %w", q.name, err)
	}
	return nil
}

// IsMissing reports an error about a queue that does not exist. Emulators
// differ in the typed error, so the code is matched.
func IsMissing(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	c := api.ErrorCode()
	return c == "AWS.SimpleQueueService.NonExistentQueue" || c == "QueueDoesNotExist" || strings.Contains(c, "NonExistentQueue")
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ControlNotifier sends session control hints to the session-control FIFO
// queue, grouped by session so one session's hints stay in order.
type ControlNotifier struct{ Q *Queue }

var _ sessions.Notifier = ControlNotifier{}

// Notify implements sessions.Notifier.
func (n ControlNotifier) Notify(ctx context.Context, c sessions.Control) error {
	return n.Q.SendJSON(ctx, c, c.SessionID, "")
}

// EventPublisher publishes domain events to the events queue.
type EventPublisher struct{ Q *Queue }

var _ events.Publisher = EventPublisher{}

// Publish implements events.Publisher.
func (p EventPublisher) Publish(ctx context.Context, e events.Event) error {
	return p.Q.SendJSON(ctx, e, "", "")
}

// SendDispatcher wakes the session host holding a session through the send
// FIFO queue (group = session, deduplicated per message).
type SendDispatcher struct{ Q *Queue }

var _ messages.Dispatcher = SendDispatcher{}

// Wake implements messages.Dispatcher.
func (d SendDispatcher) Wake(ctx context.Context, accountID, sessionID, messageID string) error {
	return d.Q.SendJSON(ctx, map[string]string{"session_id": sessionID, "account_id": accountID, "message_id": messageID, "kind": "send"},
		sessionID, messageID)
}

// CampaignJobs enqueues campaign fan-out jobs on the campaign-jobs queue.
type CampaignJobs struct{ Q *Queue }

var _ campaigns.Jobs = CampaignJobs{}

// CampaignJob is the body of a campaign-jobs message.
type CampaignJob struct {
	AccountID  string `json:"account_id"`
	CampaignID string `json:"campaign_id"`
}

// Enqueue implements campaigns.Jobs.
func (j CampaignJobs) Enqueue(ctx context.Context, accountID, campaignID string, delay time.Duration) error {
	b, err := json.Marshal(CampaignJob{AccountID: accountID, CampaignID: campaignID})
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	return j.Q.SendDelayed(ctx, b, delay)
}
