// Package webhooks is ChatSend's outbound webhooks domain: customer
// endpoints, the event envelope, the delivery records and the rules of
// signing (Standard Webhooks 1.0), retrying and disabling. It imports no AWS
// types: storage (Store) and the delivery queue (Jobs) are small interfaces
// implemented by shared/dynamo and shared/queue.
package webhooks

import (
	"context"
	"encoding/json"
	"time"
)

// Event types a customer can subscribe to. Their names are part of the API.
const (
	MessageQueued           = "message.queued"
	MessageSent             = "message.sent"
	MessageDelivered        = "message.delivered"
	MessageRead             = "message.read"
	MessageFailed           = "message.failed"
	MessageSkipped          = "message.skipped"
	MessageReceived         = "message.received"
	SessionStatus           = "session.status"
	CampaignCompleted       = "campaign.completed"
	ContactOptedOut         = "contact.opted_out"
	ContactOptedIn          = "contact.opted_in"
	ContactsImportCompleted = "contacts.import.completed"
	BillingStatusChanged    = "billing.status_changed"
	Ping                    = "ping"
	// AllEvents subscribes an endpoint to every type, present and future.
	AllEvents = "*"
)

// EventTypes lists every event type, in documentation order.
var EventTypes = []string{MessageQueued, MessageSent, MessageDelivered, MessageRead, MessageFailed, MessageSkipped,
	MessageReceived, SessionStatus, CampaignCompleted, ContactOptedOut, ContactOptedIn, ContactsImportCompleted, BillingStatusChanged, Ping}

// Status is a delivery's state.
type Status string

// Delivery statuses: pending (an attempt is queued or scheduled), delivered
// (a 2xx answer), failed (not attempted: the endpoint was disabled or
// deleted), dead (every scheduled attempt failed).
const (
	StatusPending   Status = "pending"
	StatusDelivered Status = "delivered"
	StatusFailed    Status = "failed"
	StatusDead      Status = "dead"
)

// Secret is one signing secret of an endpoint, stored sealed (encrypted):
// it must be usable to sign, so it cannot be hashed.
type Secret struct {
	// Sealed is the AES-GCM ciphertext of the "whsec_…" string.
	Sealed []byte
	// CreatedAt is when the secret was made.
	CreatedAt time.Time
	// ExpiresAt is zero for the current secret; a rotated-out secret keeps
	// signing alongside the new one until then.
	ExpiresAt time.Time
}

// Endpoint is a customer URL that receives events.
type Endpoint struct {
	ID          string
	AccountID   string
	URL         string
	Events      []string
	SessionIDs  []string
	Description string
	Enabled     bool
	// DisabledReason says why ChatSend disabled the endpoint (empty when it
	// is enabled, or disabled by the customer).
	DisabledReason string
	// Secrets holds the current secret first, then rotated-out ones.
	Secrets []Secret
	// FailureStreak counts consecutive dead deliveries.
	FailureStreak int
	// FailingSince is the first failed attempt since the last success.
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Rev is the stored revision, for optimistic locking.
	Rev int64
}

// Subscribed reports whether the endpoint wants events of type typ from
// sessionID. Events that belong to no session (contacts, imports) ignore
// the session filter.
func (e Endpoint) Subscribed(typ, sessionID string) bool {
	if !e.Enabled {
		return false
	}
	match := false
	for _, t := range e.Events {
		if t == typ || t == AllEvents {
			match = true
			break
		}
	}
	if !match || len(e.SessionIDs) == 0 || sessionID == "" {
		return match
	}
	for _, s := range e.SessionIDs {
		if s == sessionID {
			return true
		}
	}
	return false
}

// Envelope is the JSON body of every webhook.
type Envelope struct {
	// ID is stable per event: every delivery and retry of the event carries
	// it as webhook-id, so receivers can drop duplicates.
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	AccountID string          `json:"account_id"`
	Data      json.RawMessage `json:"data"`
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	At         time.Time `json:"at" dynamodbav:"at"`
	StatusCode int       `json:"status_code,omitempty" dynamodbav:"status_code,omitempty"`
	LatencyMS  int64     `json:"latency_ms" dynamodbav:"latency_ms"`
	Error      string    `json:"error,omitempty" dynamodbav:"error,omitempty"`
}

// Delivery is one event bound for one endpoint, with its attempts.
type Delivery struct {
	ID         string
	AccountID  string
	EndpointID string
	EventID    string
	EventType  string
	// Payload is the exact body sent (and signed).
	Payload  []byte
	Attempts []Attempt
	Status   Status
	// Reason says why a delivery failed without an attempt.
	Reason      string
	NextRetryAt time.Time
	// ScheduleFrom is the index in Attempts where the current retry
	// schedule began (a replay restarts it).
	ScheduleFrom int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Rev is the stored revision, for optimistic locking.
	Rev int64
}

// Job is the webhooks queue message: attempt a delivery.
type Job struct {
	AccountID  string `json:"account_id"`
	DeliveryID string `json:"delivery_id"`
	// Attempt is len(Attempts) when the job was queued; a job whose
	// delivery has moved on (a duplicate, a superseded retry) is dropped.
	Attempt int `json:"attempt"`
	// NotBefore chains delays beyond SQS's 15-minute limit.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// Store persists endpoints and deliveries, scoped to the tenant in ctx.
// Update methods are conditional on the value's Rev and store Rev+1; a
// concurrent change is errs.Conflict.
type Store interface {
	CreateWebhookEndpoint(ctx context.Context, e Endpoint) error
	FindWebhookEndpoint(ctx context.Context, id string) (Endpoint, error)
	FindWebhookEndpoints(ctx context.Context) ([]Endpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, e Endpoint) error
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	// CreateWebhookDelivery stores d unless its id exists; created is false
	// (and the stored delivery returned) when it did.
	CreateWebhookDelivery(ctx context.Context, d Delivery) (stored Delivery, created bool, err error)
	FindWebhookDelivery(ctx context.Context, id string) (Delivery, error)
	UpdateWebhookDelivery(ctx context.Context, d Delivery) error
	// FindWebhookDeliveries lists up to limit of an endpoint's deliveries,
	// newest first, after cursor (opaque; empty = from the newest), and
	// the cursor of the next page ("" at the end).
	FindWebhookDeliveries(ctx context.Context, endpointID, cursor string, limit int) ([]Delivery, string, error)
}

// Jobs queues delivery jobs (at most 15 minutes ahead).
type Jobs interface {
	EnqueueDelivery(ctx context.Context, j Job, delay time.Duration) error
}
