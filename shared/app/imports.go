package app

import (
	"context"
	"log/slog"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/objects"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// buildContacts wires the contacts service: the table, the imports bucket
// for uploaded CSV files and the imports queue for their jobs.
func buildContacts(cfg config.Config, c awsclient.Clients, db *dynamo.DB, log *slog.Logger, t Tuning, quota contacts.Quota) *contacts.Service {
	q, _ := cfg.Resources.QueueByID(resources.QueueImports)
	bucket := ""
	for _, b := range cfg.Resources.Buckets {
		if b.ID == resources.BucketImports {
			bucket = b.Name
		}
	}
	evq, _ := cfg.Resources.QueueByID(resources.QueueEvents)
	return contacts.NewService(contacts.Options{Store: db, Objects: objects.New(c.S3, bucket),
		Imports: queue.ImportJobs{Q: queue.New(c.SQS, q.Name)}, Events: queue.EventPublisher{Q: queue.New(c.SQS, evq.Name)},
		Logger: log, Now: t.Now, Quota: quota})
}

// ImportsHandler is the functions/imports handler: each record names one
// import job, which runs from its checkpoint. A record that fails is
// retried alone (and lands in the dead-letter queue after five tries);
// its job resumes where it stopped.
func (d *Deps) ImportsHandler() SQSHandler {
	return func(ctx context.Context, ev awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		var resp awsevents.SQSEventResponse
		for _, rec := range ev.Records {
			if err := d.Contacts.HandleImportMessage(ctx, rec.Body); err != nil {
				d.Log.WarnContext(ctx, "import not finished; will retry", "message_id", rec.MessageId, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, awsevents.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
		}
		return resp, nil
	}
}
