package queue

import (
	"context"

	"github.com/chatsend/chatsend/shared/contacts"
)

// ImportJobs hands contact import jobs to functions/imports through the
// imports queue. A job may be queued twice (a retried upload, a
// continuation); the job's checkpoint makes the second run a no-op.
type ImportJobs struct{ Q *Queue }

var _ contacts.ImportQueue = ImportJobs{}

// EnqueueImport implements contacts.ImportQueue.
func (j ImportJobs) EnqueueImport(ctx context.Context, ref contacts.ImportRef) error {
	return j.Q.SendJSON(ctx, ref, "", "")
}
