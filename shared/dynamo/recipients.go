package dynamo

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/privacy"
)

var _ privacy.RecipientStore = (*DB)(nil)

// RecipientMessageIDs implements privacy.RecipientStore: the caller's
// messages whose to_hash is the phone's, expired or not (an erasure must
// reach items the TTL sweep has not removed yet).
func (db *DB) RecipientMessageIDs(ctx context.Context, e164 string) ([]string, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{TableName: &db.table,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		FilterExpression:          aws.String("#type = :message AND to_hash = :h"),
		ProjectionExpression:      aws.String("id"),
		ExpressionAttributeNames:  map[string]string{"#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(skMsgPfx), ":message": s("message"), ":h": s(phone.Hash(e164))}})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query recipient messages: %w", err)
		}
		for _, it := range page.Items {
			out = append(out, attrString(it, "id"))
		}
	}
	return out, nil
}

// DeleteMessages implements privacy.RecipientStore: each message with its
// body and recipient item.
func (db *DB) DeleteMessages(ctx context.Context, ids []string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	keys := make([]map[string]types.AttributeValue, 0, 3*len(ids))
	for _, id := range ids {
		keys = append(keys, key(pk, skMsgPfx+id), key(pk, skMsgPfx+id+skBodySfx), key(pk, skMsgPfx+id+skRecipientSfx))
	}
	return db.deleteKeys(ctx, keys)
}

// DeleteDeliveriesMentioning implements privacy.RecipientStore: webhook
// deliveries whose payload contains any of needles. Payloads are binary,
// so they are matched here rather than by a filter expression.
func (db *DB) DeleteDeliveriesMentioning(ctx context.Context, needles []string) (int, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	var doomed []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{TableName: &db.table,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ProjectionExpression:      aws.String("pk, sk, payload"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(skDeliveryPfx)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("query webhook deliveries: %w", err)
		}
		for _, it := range page.Items {
			if _, ok := mentioning(it, needles); ok {
				doomed = append(doomed, map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]})
			}
		}
	}
	return len(doomed), db.deleteKeys(ctx, doomed)
}

// SuppressHashed implements privacy.RecipientStore: the phone's suppression
// keeps only its hash (the key); one is added if none exists.
func (db *DB) SuppressHashed(ctx context.Context, e164, reason string, at time.Time) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	created, err := attributevalue.Marshal(at.UTC())
	if err != nil {
		return fmt.Errorf("encode created_at: %w", err)
	}
	// One update either way: REMOVE the number from an existing item, or
	// create it without one (if_not_exists keeps an existing reason/time).
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, suppressionSK(e164)),
		UpdateExpression:          aws.String("SET #type = :t, acct = :a, reason = if_not_exists(reason, :r), created_at = if_not_exists(created_at, :c) REMOVE phone"),
		ExpressionAttributeNames:  map[string]string{"#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("suppression"), ":a": s(acct), ":r": s(reason), ":c": created}})
	if err != nil {
		return fmt.Errorf("suppress hashed: %w", err)
	}
	return nil
}

// DeliveriesMentioning implements privacy.RecipientStore: the payloads of
// webhook deliveries that contain any of needles, for a recipient export.
func (db *DB) DeliveriesMentioning(ctx context.Context, needles []string) ([]string, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	err = db.queryPrefix(ctx, pk, skDeliveryPfx, func(it map[string]types.AttributeValue) error {
		if payload, ok := mentioning(it, needles); ok {
			out = append(out, string(payload))
		}
		return nil
	})
	return out, err
}

// mentioning returns a delivery item's payload and whether it contains any
// of needles.
func mentioning(it map[string]types.AttributeValue, needles []string) ([]byte, bool) {
	var payload []byte
	_ = attributevalue.Unmarshal(it["payload"], &payload)
	for _, nd := range needles {
		if bytes.Contains(payload, []byte(nd)) {
			return payload, true
		}
	}
	return nil, false
}
