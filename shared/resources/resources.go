// Package resources is the one definition of ChatSend's tables, queues and
// buckets. The CDK stack and the local emulated stack both build from it, and
// the config loader derives runtime names from it, so a name is written once.
package resources

import "time"

// Attribute names shared by every item of the main table.
const (
	// PK and SK are the main table's key attributes.
	PK = "pk"
	SK = "sk"
	// TTL is the retention attribute (Number, epoch seconds) that DynamoDB's
	// TTL sweep deletes by.
	TTL = "ttl"
	// Account holds the owning account id on every tenant item; the
	// ByAccount index lets erasure find all of an account's items.
	Account = "acct"
	// GSI1PK and GSI1SK key the general-purpose secondary index.
	GSI1PK = "gsi1pk"
	GSI1SK = "gsi1sk"
)

// Index names of the main table.
const (
	IndexByAccount = "by_account"
	IndexGSI1      = "gsi1"
)

// Projection says which attributes an index copies.
type Projection string

// Projections.
const (
	KeysOnly Projection = "KEYS_ONLY"
	All      Projection = "ALL"
)

// Index is a global secondary index (string keys).
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
	Projection   Projection
}

// Table is a DynamoDB table with string keys, on-demand billing.
type Table struct {
	// ID is the logical name ("main"); Name is the physical name.
	ID, Name     string
	PartitionKey string
	SortKey      string
	TTLAttribute string
	Indexes      []Index
}

// Queue is an SQS queue with its dead-letter queue.
type Queue struct {
	// ID is the logical name ("send"); Name is the physical name (with
	// ".fifo" for FIFO queues); DLQName is its dead-letter queue's.
	ID, Name, DLQName string
	FIFO              bool
	// VisibilityTimeout must exceed the consumer's processing time.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how often a message is tried before the DLQ.
	MaxReceiveCount int
	// Retention is how long SQS keeps an undelivered message.
	Retention time.Duration
	// Purpose is a one-line description for docs and the stack.
	Purpose string
}

// Bucket is an S3 bucket.
type Bucket struct {
	ID, Name string
	Purpose  string
}

// Set is every resource of one stage.
type Set struct {
	Stage   string
	Main    Table
	Queues  []Queue
	Buckets []Bucket
}

// Queue IDs.
const (
	QueueCampaignJobs = "campaign-jobs"
	QueueSend         = "send"
	QueueControl      = "session-control"
	QueueEvents       = "events"
	QueueWebhooks     = "webhooks"
	QueuePrivacy      = "privacy"
	QueueImports      = "imports"
)

// Bucket IDs.
const (
	BucketExports = "exports"
	BucketImports = "imports"
)

// For returns the resources of a stage ("local", "dev", "prod", …). Physical
// names are "chatsend-<stage>-<id>".
func For(stage string) Set {
	n := func(id string) string { return "chatsend-" + stage + "-" + id }
	q := func(id string, fifo bool, vis time.Duration, purpose string) Queue {
		name, dlq := n(id), n(id+"-dlq")
		if fifo {
			name += ".fifo"
			dlq += ".fifo"
		}
		return Queue{ID: id, Name: name, DLQName: dlq, FIFO: fifo, VisibilityTimeout: vis,
			MaxReceiveCount: 5, Retention: 14 * 24 * time.Hour, Purpose: purpose}
	}
	return Set{
		Stage: stage,
		Main: Table{
			ID: "main", Name: n("main"), PartitionKey: PK, SortKey: SK, TTLAttribute: TTL,
			Indexes: []Index{
				{Name: IndexByAccount, PartitionKey: Account, SortKey: PK, Projection: KeysOnly},
				{Name: IndexGSI1, PartitionKey: GSI1PK, SortKey: GSI1SK, Projection: All},
			},
		},
		Queues: []Queue{
			// Visibility timeouts are six times the consumer Lambda's timeout
			// (AWS's advice; infra/stack tests enforce at least equal).
			q(QueueCampaignJobs, false, 30*time.Minute, "campaign start/resume jobs for functions/fanout"),
			// FIFO: per-session order (MessageGroupId = session id) and
			// deduplication of redelivered sends.
			q(QueueSend, true, 2*time.Minute, "message refs to the session host, grouped by session"),
			q(QueueControl, true, time.Minute, "desired-state changes for WhatsApp sessions"),
			q(QueueEvents, false, 6*time.Minute, "receipts, inbound messages and session events from the host"),
			q(QueueWebhooks, false, 3*time.Minute, "webhook deliveries for functions/webhooks"),
			q(QueuePrivacy, false, 15*time.Minute, "data-rights jobs for functions/privacy"),
			q(QueueImports, false, 15*time.Minute, "contact CSV import jobs for functions/imports"),
		},
		Buckets: []Bucket{
			{ID: BucketExports, Name: n("exports"), Purpose: "data-rights export bundles"},
			{ID: BucketImports, Name: n("imports"), Purpose: "uploaded contact CSV files, kept until their import job ends (7 days at most)"},
		},
	}
}

// HostInboxPrefix starts the name of every session host's own inbox queue
// ("chatsend-<stage>-host-<host id>"); the CDK stack grants the hosts
// create/delete on exactly this prefix.
func HostInboxPrefix(stage string) string { return "chatsend-" + stage + "-host-" }

// QueueByID returns the queue with the given ID; ok is false if none.
func (s Set) QueueByID(id string) (Queue, bool) {
	for _, q := range s.Queues {
		if q.ID == id {
			return q, true
		}
	}
	return Queue{}, false
}
