package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/tenant"
)

// SQSHandler is an SQS-triggered Lambda handler that reports partial
// batch failures, so only the failed records are retried.
type SQSHandler func(ctx context.Context, ev awsevents.SQSEvent) (awsevents.SQSEventResponse, error)

// EventsHandler is the functions/events handler: each record is one
// domain event. Records are independent (each effect is a conditional
// write), so a batch is handled concurrently.
func (d *Deps) EventsHandler() SQSHandler {
	return d.batchHandler(resources.QueueEvents, true, func(ctx context.Context, body string) error {
		var e events.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return fmt.Errorf("malformed event: %w", err)
		}
		return d.Tracking.Handle(ctx, e)
	})
}

// batchHandler turns a per-record function into an SQS handler that
// reports partial batch failures, so only failed records are retried. On a
// record's last allowed receive, a failure moves it to the queue's
// dead-letter queue with the reason as the failure_reason attribute (SQS's
// own redrive would drop the reason).
func (d *Deps) batchHandler(queueID string, concurrent bool, handle func(ctx context.Context, body string) error) SQSHandler {
	return d.batchHandlerDead(queueID, concurrent, handle, nil)
}

// batchHandlerDead is batchHandler with a hook run when a record is moved
// to the dead-letter queue, so the work it stood for can be marked failed
// where users see it.
func (d *Deps) batchHandlerDead(queueID string, concurrent bool, handle func(ctx context.Context, body string) error,
	dead func(ctx context.Context, body, reason string)) SQSHandler {
	q, _ := d.Config.Resources.QueueByID(queueID)
	dlq := queue.New(d.sqs, q.DLQName)
	return func(ctx context.Context, ev awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		var (
			resp awsevents.SQSEventResponse
			mu   sync.Mutex
			wg   sync.WaitGroup
		)
		one := func(rec awsevents.SQSMessage) {
			err := handle(ctx, rec.Body)
			if err == nil {
				return
			}
			log := d.Log.With("queue", q.Name, "message_id", rec.MessageId)
			if n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"]); n >= q.MaxReceiveCount {
				derr := dlq.SendWithAttributes(ctx, []byte(rec.Body), map[string]string{"failure_reason": err.Error(), "source_queue": q.Name})
				if derr == nil {
					log.ErrorContext(ctx, "record moved to the dead-letter queue", "receives", n, "error", err.Error())
					if dead != nil {
						dead(ctx, rec.Body, err.Error())
					}
					return // acknowledged: it now lives in the DLQ with its reason
				}
				log.ErrorContext(ctx, "dead-letter send failed", "error", derr.Error())
			}
			log.WarnContext(ctx, "record not handled; will retry", "error", err.Error())
			mu.Lock()
			resp.BatchItemFailures = append(resp.BatchItemFailures, awsevents.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			mu.Unlock()
		}
		for _, rec := range ev.Records {
			if !concurrent {
				one(rec)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				one(rec)
			}()
		}
		wg.Wait()
		return resp, nil
	}
}

// RunSQS runs h as the Lambda of an SQS event source mapping when started
// by the Lambda runtime; otherwise it polls the queue itself (make dev).
func RunSQS(ctx context.Context, cfg config.Config, c awsclient.Clients, queueID string, h SQSHandler, log *slog.Logger) error {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.StartWithOptions(h, lambda.WithContext(ctx))
		return nil
	}
	q, ok := cfg.Resources.QueueByID(queueID)
	if !ok {
		return fmt.Errorf("no queue %q", queueID)
	}
	PollSQS(ctx, queue.New(c.SQS, q.Name), h, 20*time.Second, log)
	return nil
}

// PollSQS feeds a queue's messages to h in Lambda's event shape until ctx
// ends, deleting the records h did not report as failed — what an event
// source mapping does, for local runs and tests.
func PollSQS(ctx context.Context, q *queue.Queue, h SQSHandler, wait time.Duration, log *slog.Logger) {
	for ctx.Err() == nil {
		msgs, err := q.Receive(ctx, 10, wait)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("queue receive failed", "queue", q.Name(), "error", err.Error())
				time.Sleep(time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		ev := awsevents.SQSEvent{Records: make([]awsevents.SQSMessage, len(msgs))}
		for i, m := range msgs {
			ev.Records[i] = awsevents.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: m.Body,
				Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(m.ReceiveCount)}}
		}
		resp, err := h(ctx, ev)
		if err != nil {
			log.Warn("queue handler failed; batch will be retried", "queue", q.Name(), "error", err.Error())
			continue
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range msgs {
			if !failed[m.ID] {
				if err := q.Delete(ctx, m.Receipt); err != nil && ctx.Err() == nil {
					log.Warn("queue delete failed", "queue", q.Name(), "error", err.Error())
				}
			}
		}
	}
}

// FanoutHandler is the functions/fanout handler: each record is a campaign
// job. A job stops before the Lambda's deadline and enqueues its own
// continuation, so a fan-out of any size finishes.
func (d *Deps) FanoutHandler() SQSHandler {
	return d.batchHandler(resources.QueueCampaignJobs, false, func(ctx context.Context, body string) error {
		deadline := time.Now().Add(10 * time.Minute)
		if dl, ok := ctx.Deadline(); ok {
			deadline = dl.Add(-30 * time.Second)
		}
		var job queue.CampaignJob
		if err := json.Unmarshal([]byte(body), &job); err != nil || job.AccountID == "" {
			return fmt.Errorf("malformed campaign job %q", body)
		}
		return d.Campaigns.Fanout(tenant.With(ctx, job.AccountID), job.CampaignID, deadline)
	})
}
