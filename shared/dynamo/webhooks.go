package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
	"github.com/chatsend/chatsend/shared/webhooks"
)

var _ webhooks.Store = (*DB)(nil)

const (
	skEndpointPfx = "WHE#"
	skDeliveryPfx = "WHD#"
	// pfxEndpointDeliveries keys gsi1 by account and endpoint; gsi1sk is
	// "<created ms, 13 digits>#<delivery id>", so a query sorts by creation.
	pfxEndpointDeliveries = "WHDL#"
)

type secretItem struct {
	Sealed    []byte     `dynamodbav:"sealed"`
	CreatedAt time.Time  `dynamodbav:"created_at"`
	ExpiresAt *time.Time `dynamodbav:"expires_at,omitempty"`
}

type webhookEndpointItem struct {
	header
	ID             string       `dynamodbav:"id"`
	URL            string       `dynamodbav:"url"`
	Events         []string     `dynamodbav:"events"`
	SessionIDs     []string     `dynamodbav:"session_ids"`
	Description    string       `dynamodbav:"description"`
	Enabled        bool         `dynamodbav:"enabled"`
	DisabledReason string       `dynamodbav:"disabled_reason"`
	Secrets        []secretItem `dynamodbav:"secrets"`
	FailureStreak  int          `dynamodbav:"failure_streak"`
	FailingSince   *time.Time   `dynamodbav:"failing_since,omitempty"`
	CreatedAt      time.Time    `dynamodbav:"created_at"`
	UpdatedAt      time.Time    `dynamodbav:"updated_at"`
	Rev            int64        `dynamodbav:"rev"`
}

func endpointItem(acct, pk string, e webhooks.Endpoint) webhookEndpointItem {
	it := webhookEndpointItem{header: header{PK: pk, SK: skEndpointPfx + e.ID, Type: "webhook_endpoint", Acct: acct},
		ID: e.ID, URL: e.URL, Events: e.Events, SessionIDs: e.SessionIDs, Description: e.Description, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, FailureStreak: e.FailureStreak, FailingSince: ref(e.FailingSince),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Rev: e.Rev}
	for _, s := range e.Secrets {
		it.Secrets = append(it.Secrets, secretItem{Sealed: s.Sealed, CreatedAt: s.CreatedAt, ExpiresAt: ref(s.ExpiresAt)})
	}
	return it
}

func (it webhookEndpointItem) domain() webhooks.Endpoint {
	e := webhooks.Endpoint{ID: it.ID, AccountID: it.Acct, URL: it.URL, Events: it.Events, SessionIDs: it.SessionIDs,
		Description: it.Description, Enabled: it.Enabled, DisabledReason: it.DisabledReason, FailureStreak: it.FailureStreak,
		FailingSince: deref(it.FailingSince), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Rev: it.Rev}
	for _, s := range it.Secrets {
		e.Secrets = append(e.Secrets, webhooks.Secret{Sealed: s.Sealed, CreatedAt: s.CreatedAt, ExpiresAt: deref(s.ExpiresAt)})
	}
	return e
}

// CreateWebhookEndpoint implements webhooks.Store.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := marshal(endpointItem(acct, pk, e))
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "webhook endpoint "+e.ID)
}

// FindWebhookEndpoint implements webhooks.Store.
func (db *DB) FindWebhookEndpoint(ctx context.Context, id string) (webhooks.Endpoint, error) {
	return findTenant[webhookEndpointItem, *webhookEndpointItem, webhooks.Endpoint](ctx, db, skEndpointPfx+id, fmt.Sprintf("no webhook endpoint %q", id))
}

// FindWebhookEndpoints implements webhooks.Store.
func (db *DB) FindWebhookEndpoints(ctx context.Context) ([]webhooks.Endpoint, error) {
	return listTenant[webhookEndpointItem, *webhookEndpointItem, webhooks.Endpoint](ctx, db, skEndpointPfx, nil)
}

// UpdateWebhookEndpoint implements webhooks.Store.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, e webhooks.Endpoint) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	it := endpointItem(acct, pk, e)
	it.Rev++
	return db.putRevision(ctx, it, e.Rev, "webhook endpoint "+e.ID)
}

// putRevision replaces an existing item if its rev is still prev.
func (db *DB) putRevision(ctx context.Context, v any, prev int64, what string) error {
	item, err := marshal(v)
	if err != nil {
		return err
	}
	_, err = db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression:       aws.String("attribute_exists(pk) AND rev = :rev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rev": n(prev)}})
	if conditionFailed(err) {
		return errs.E(errs.Conflict, "%s changed concurrently or was deleted", what)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", what, err)
	}
	return nil
}

// DeleteWebhookEndpoint implements webhooks.Store.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pk, skEndpointPfx+id)}); err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	return nil
}

type webhookDeliveryItem struct {
	header
	GSI1PK       string             `dynamodbav:"gsi1pk"`
	GSI1SK       string             `dynamodbav:"gsi1sk"`
	ID           string             `dynamodbav:"id"`
	EndpointID   string             `dynamodbav:"endpoint_id"`
	EventID      string             `dynamodbav:"event_id"`
	EventType    string             `dynamodbav:"event_type"`
	Payload      []byte             `dynamodbav:"payload"`
	Attempts     []webhooks.Attempt `dynamodbav:"attempts"`
	Status       string             `dynamodbav:"status"`
	Reason       string             `dynamodbav:"reason"`
	NextRetryAt  *time.Time         `dynamodbav:"next_retry_at,omitempty"`
	ScheduleFrom int                `dynamodbav:"schedule_from"`
	CreatedAt    time.Time          `dynamodbav:"created_at"`
	UpdatedAt    time.Time          `dynamodbav:"updated_at"`
	Rev          int64              `dynamodbav:"rev"`
}

func (db *DB) deliveryItem(acct, pk string, d webhooks.Delivery) webhookDeliveryItem {
	// The retention clock restarts with every write: a replayed delivery
	// stays visible for 30 days after its last attempt.
	ttl := ttlOf(retention.ExpiresAt(retention.WebhookLog, db.now()))
	return webhookDeliveryItem{header: header{PK: pk, SK: skDeliveryPfx + d.ID, Type: "webhook_delivery", Acct: acct, TTL: ttl},
		GSI1PK: pfxEndpointDeliveries + acct + "#" + d.EndpointID, GSI1SK: fmt.Sprintf("%013d#%s", d.CreatedAt.UnixMilli(), d.ID),
		ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Payload: d.Payload, Attempts: d.Attempts,
		Status: string(d.Status), Reason: d.Reason, NextRetryAt: ref(d.NextRetryAt), ScheduleFrom: d.ScheduleFrom,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Rev: d.Rev}
}

func (it webhookDeliveryItem) domain() webhooks.Delivery {
	return webhooks.Delivery{ID: it.ID, AccountID: it.Acct, EndpointID: it.EndpointID, EventID: it.EventID, EventType: it.EventType,
		Payload: it.Payload, Attempts: it.Attempts, Status: webhooks.Status(it.Status), Reason: it.Reason,
		NextRetryAt: deref(it.NextRetryAt), ScheduleFrom: it.ScheduleFrom, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Rev: it.Rev}
}

// CreateWebhookDelivery implements webhooks.Store.
func (db *DB) CreateWebhookDelivery(ctx context.Context, d webhooks.Delivery) (webhooks.Delivery, bool, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return webhooks.Delivery{}, false, err
	}
	item, err := marshal(db.deliveryItem(acct, pk, d))
	if err != nil {
		return webhooks.Delivery{}, false, err
	}
	_, err = db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if conditionFailed(err) {
		stored, err := db.FindWebhookDelivery(ctx, d.ID)
		return stored, false, err
	}
	if err != nil {
		return webhooks.Delivery{}, false, fmt.Errorf("create webhook delivery %s: %w", d.ID, err)
	}
	return d, true, nil
}

// FindWebhookDelivery implements webhooks.Store.
func (db *DB) FindWebhookDelivery(ctx context.Context, id string) (webhooks.Delivery, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return webhooks.Delivery{}, err
	}
	var it webhookDeliveryItem
	if err := db.get(ctx, pk, skDeliveryPfx+id, true, &it, fmt.Sprintf("no webhook delivery %q", id)); err != nil {
		return webhooks.Delivery{}, err
	}
	return it.domain(), nil
}

// UpdateWebhookDelivery implements webhooks.Store.
func (db *DB) UpdateWebhookDelivery(ctx context.Context, d webhooks.Delivery) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	it := db.deliveryItem(acct, pk, d)
	it.Rev++
	return db.putRevision(ctx, it, d.Rev, "webhook delivery "+d.ID)
}

// FindWebhookDeliveries implements webhooks.Store. The index is
// eventually consistent: a delivery made a moment ago may be missing.
func (db *DB) FindWebhookDeliveries(ctx context.Context, endpointID, cursor string, limit int) ([]webhooks.Delivery, string, error) {
	acct, _, err := tenantPK(ctx)
	if err != nil {
		return nil, "", err
	}
	cond := "gsi1pk = :p"
	vals := map[string]types.AttributeValue{":p": s(pfxEndpointDeliveries + acct + "#" + endpointID), ":now": n(db.now().Unix())}
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(after) == 0 {
			return nil, "", errs.InvalidFields(errs.FieldError{Field: "cursor", Message: "not a cursor from this list"})
		}
		cond += " AND gsi1sk < :c"
		vals[":c"] = s(string(after))
	}
	out, last := []webhooks.Delivery{}, ""
	in := &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression: aws.String(cond), ScanIndexForward: aws.Bool(false),
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: vals}
	p := dynamodb.NewQueryPaginator(db.client, in)
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("query deliveries of %s: %w", endpointID, err)
		}
		for _, m := range page.Items {
			var it webhookDeliveryItem
			if err := attributevalue.UnmarshalMap(m, &it); err != nil {
				return nil, "", fmt.Errorf("decode webhook delivery: %w", err)
			}
			if it.Acct == acct && len(out) < limit {
				out, last = append(out, it.domain()), it.GSI1SK
			}
		}
	}
	next := ""
	if len(out) == limit {
		next = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return out, next, nil
}
