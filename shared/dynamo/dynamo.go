// Package dynamo is ChatSend's one DynamoDB access layer. It implements the
// domain stores on a single table (see docs/data-model.md) and builds every
// tenant key from the account in the context (package tenant), so a query
// cannot leave its tenant. Items whose TTL has passed are treated as absent.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// DB is the DynamoDB adapter.
type DB struct {
	client *dynamodb.Client
	table  string
	log    *slog.Logger
	now    func() time.Time
}

// New returns an adapter on the named main table.
func New(client *dynamodb.Client, table string, log *slog.Logger) *DB {
	if log == nil {
		log = logging.Discard()
	}
	return &DB{client: client, table: table, log: log, now: time.Now}
}

// SetClock replaces the clock used for expiry checks (tests).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Table returns the main table's name.
func (db *DB) Table() string { return db.table }

// header is the part every item shares.
type header struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	// Acct is set on every tenant item: the by_account index keys on it.
	Acct string `dynamodbav:"acct,omitempty"`
	// TTL is epoch seconds; 0 (absent) means the item never expires.
	TTL int64 `dynamodbav:"ttl,omitempty"`
}

func (h header) expired(now time.Time) bool { return h.TTL != 0 && now.Unix() >= h.TTL }

type expirable interface{ expired(time.Time) bool }

func ttlOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Key prefixes. Tenant items live under "A#<account id>".
const (
	pfxAccount = "A#"
	pfxEmail   = "EMAIL#"
	pfxKeyHash = "KEYHASH#"
	pfxLogin   = "LOGIN#"
	pfxRate    = "RL#"
)

// tenantPK returns the partition key of the caller's account.
func tenantPK(ctx context.Context) (acct, pk string, err error) {
	acct, err = tenant.AccountID(ctx)
	if err != nil {
		return "", "", err
	}
	return acct, pfxAccount + acct, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

// get reads one item into out (a pointer to a struct embedding header). A
// missing or expired item is errs.NotFound with notFoundMsg.
func (db *DB) get(ctx context.Context, pk, sk string, consistent bool, out expirable, notFoundMsg string) error {
	res, err := db.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &db.table, Key: key(pk, sk), ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", pk, sk, err)
	}
	if res.Item == nil {
		return errs.E(errs.NotFound, "%s", notFoundMsg)
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return fmt.Errorf("decode %s/%s: %w", pk, sk, err)
	}
	if out.expired(db.now()) {
		return errs.E(errs.NotFound, "%s", notFoundMsg)
	}
	return nil
}

// queryPrefix reads every live item of partition pk whose sort key starts
// with prefix, in sort-key order, decoding each with decode.
func (db *DB) queryPrefix(ctx context.Context, pk, prefix string, each func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{
		TableName:              &db.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		// Expired items can linger for days before the TTL sweep.
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(prefix), ":now": n(db.now().Unix())},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s/%s*: %w", pk, prefix, err)
		}
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachItem pages through a query and hands every item, decoded into I, to
// f; what names the items in errors.
func eachItem[I any](ctx context.Context, db *DB, in *dynamodb.QueryInput, what string, f func(I) error) error {
	p := dynamodb.NewQueryPaginator(db.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", what, err)
		}
		for _, m := range page.Items {
			var it I
			if err := attributevalue.UnmarshalMap(m, &it); err != nil {
				return fmt.Errorf("decode %s: %w", what, err)
			}
			if err := f(it); err != nil {
				return err
			}
		}
	}
	return nil
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue  { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

func marshal(v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return m, nil
}

// conditionFailed reports a failed condition on a single-item write.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}

// cancelReasons returns the per-item cancellation codes of a cancelled
// transaction ("ConditionalCheckFailed", "None", …), or nil for other errors.
func cancelReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "TransactionCanceledException" {
			return []string{"unknown"}
		}
		return nil
	}
	out := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code)
	}
	if len(out) == 0 {
		out = []string{"unknown"}
	}
	return out
}

// domainItem is an item type that converts to its domain value.
type domainItem[D any] interface {
	expirable
	domain() D
}

// findTenant reads the caller's item at sort key sk (strongly consistent)
// and returns its domain value; missing or expired is errs.NotFound.
func findTenant[I any, P interface {
	*I
	domainItem[D]
}, D any](ctx context.Context, db *DB, sk, notFound string) (D, error) {
	var zero D
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return zero, err
	}
	it := P(new(I))
	if err := db.get(ctx, pk, sk, true, it, notFound); err != nil {
		return zero, err
	}
	return it.domain(), nil
}

// listTenant decodes every live item of the caller's partition whose sort
// key starts with prefix, in key order; keep (if set) filters them.
func listTenant[I any, P interface {
	*I
	domainItem[D]
}, D any](ctx context.Context, db *DB, prefix string, keep func(map[string]types.AttributeValue) bool) ([]D, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	out := []D{}
	err = db.queryPrefix(ctx, pk, prefix, func(m map[string]types.AttributeValue) error {
		if keep != nil && !keep(m) {
			return nil
		}
		it := P(new(I))
		if err := attributevalue.UnmarshalMap(m, it); err != nil {
			return fmt.Errorf("decode %s item: %w", prefix, err)
		}
		out = append(out, it.domain())
		return nil
	})
	return out, err
}

// putNew writes item if no item has its key yet; what names it in errors.
func (db *DB) putNew(ctx context.Context, item map[string]types.AttributeValue, what string) error {
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}); err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	return nil
}
