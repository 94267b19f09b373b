package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/objects"
	"github.com/chatsend/chatsend/shared/privacy"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// buildPrivacy wires the data-rights service: the table, every bucket
// (exports holds bundles; all are emptied of an erased account's objects),
// the privacy queue, and billing (export summary, Stripe customer erasure;
// Tuning.Billing replaces it in tests).
func buildPrivacy(cfg config.Config, c awsclient.Clients, d *Deps, log *slog.Logger, t Tuning) *privacy.Service {
	q, _ := cfg.Resources.QueueByID(resources.QueuePrivacy)
	o := privacy.Options{Store: d.DB, Accounts: d.Accounts, Sessions: d.Sessions, Campaigns: d.Campaigns,
		Recipients: privacy.RecipientData{Store: d.DB, Now: t.Now}, Jobs: queue.PrivacyJobs{Q: queue.New(c.SQS, q.Name)}, Billing: t.Billing,
		Logger: log, SessionWait: t.PrivacySessionWait, AfterPhase: t.PrivacyAfterPhase, Now: t.Now}
	if o.Billing == nil && d.Billing != nil {
		o.Billing = d.Billing
	}
	for _, b := range cfg.Resources.Buckets {
		bucket := objects.New(c.S3, b.Name)
		o.Buckets = append(o.Buckets, bucket)
		if b.ID == resources.BucketExports {
			o.Exports = bucket
		}
	}
	return privacy.NewService(o)
}

// PrivacyHandler is the functions/privacy handler: each record is one
// privacy job, run from its request's checkpoint. Jobs run one at a time
// (an erase is heavy); a failed one is retried alone and, after five
// receives, lands in the dead-letter queue with its reason.
func (d *Deps) PrivacyHandler() SQSHandler {
	return d.batchHandlerDead(resources.QueuePrivacy, false, func(ctx context.Context, body string) error {
		var j privacy.Job
		if err := json.Unmarshal([]byte(body), &j); err != nil || j.RequestID == "" || j.AccountID == "" {
			return fmt.Errorf("malformed privacy job")
		}
		return d.Privacy.Handle(ctx, j)
	}, func(ctx context.Context, body, _ string) {
		var j privacy.Job
		if json.Unmarshal([]byte(body), &j) != nil || j.RequestID == "" {
			return
		}
		if err := d.Privacy.GiveUp(ctx, j); err != nil {
			d.Log.ErrorContext(ctx, "could not mark a dead-lettered privacy request failed", "request_id", j.RequestID, "error", err.Error())
		}
	})
}
