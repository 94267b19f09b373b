package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/privacy"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
)

var _ privacy.Store = (*DB)(nil)

const (
	// pfxPrivacy keys privacy requests. They are global items with a
	// hashed subject and no acct: erasing the account (everything the
	// by_account index finds) leaves the job state and its audit record.
	pfxPrivacy = "PRIVACY#"
	// pfxPrivacyList is gsi1pk of a subject's requests.
	pfxPrivacyList = "PRQ#"
	skExportPfx    = "EXPORT#"
)

type privacyItem struct {
	header
	GSI1PK        string         `dynamodbav:"gsi1pk"`
	GSI1SK        string         `dynamodbav:"gsi1sk"`
	ID            string         `dynamodbav:"id"`
	RequestType   string         `dynamodbav:"request_type"`
	Subject       string         `dynamodbav:"subject"`
	Status        string         `dynamodbav:"status"`
	Phase         string         `dynamodbav:"phase,omitempty"`
	PhoneHash     string         `dynamodbav:"phone_hash,omitempty"`
	Result        privacy.Result `dynamodbav:"result"`
	Failure       string         `dynamodbav:"failure,omitempty"`
	WaitStartedAt *time.Time     `dynamodbav:"wait_started_at,omitempty"`
	DueAt         time.Time      `dynamodbav:"due_at"`
	CreatedAt     time.Time      `dynamodbav:"created_at"`
	UpdatedAt     time.Time      `dynamodbav:"updated_at"`
	CompletedAt   *time.Time     `dynamodbav:"completed_at,omitempty"`
}

func (it privacyItem) domain() privacy.Request {
	return privacy.Request{ID: it.ID, Type: privacy.Type(it.RequestType), Subject: it.Subject, Status: privacy.Status(it.Status),
		Phase: it.Phase, PhoneHash: it.PhoneHash, Result: it.Result, Failure: it.Failure, WaitStartedAt: timeOrZero(it.WaitStartedAt),
		DueAt: it.DueAt, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, CompletedAt: timeOrZero(it.CompletedAt)}
}

func newPrivacyItem(r privacy.Request) privacyItem {
	return privacyItem{header: header{PK: pfxPrivacy + r.ID, SK: "PRIVACY", Type: "privacy_request",
		TTL: ttlOf(retention.ExpiresAt(retention.PrivacyAudit, r.CreatedAt))},
		GSI1PK: pfxPrivacyList + r.Subject, GSI1SK: r.ID, ID: r.ID, RequestType: string(r.Type), Subject: r.Subject,
		Status: string(r.Status), Phase: r.Phase, PhoneHash: r.PhoneHash, Result: r.Result, Failure: r.Failure,
		WaitStartedAt: zeroOrTime(r.WaitStartedAt), DueAt: r.DueAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		CompletedAt: zeroOrTime(r.CompletedAt)}
}

// CreateRequest implements privacy.Store.
func (db *DB) CreateRequest(ctx context.Context, r privacy.Request) error {
	item, err := marshal(newPrivacyItem(r))
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "privacy request")
}

// SaveRequest implements privacy.Store.
func (db *DB) SaveRequest(ctx context.Context, r privacy.Request) error {
	item, err := marshal(newPrivacyItem(r))
	if err != nil {
		return err
	}
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item}); err != nil {
		return fmt.Errorf("save privacy request %s: %w", r.ID, err)
	}
	return nil
}

// FindRequest implements privacy.Store.
func (db *DB) FindRequest(ctx context.Context, id string) (privacy.Request, error) {
	var it privacyItem
	if err := db.get(ctx, pfxPrivacy+id, "PRIVACY", true, &it, fmt.Sprintf("no privacy request %q", id)); err != nil {
		return privacy.Request{}, err
	}
	return it.domain(), nil
}

// ListRequests implements privacy.Store: Query gsi1 on the subject, newest
// first (the index is eventually consistent).
func (db *DB) ListRequests(ctx context.Context, subject string) ([]privacy.Request, error) {
	out := []privacy.Request{}
	err := eachItem(ctx, db, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :p"),
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pfxPrivacyList + subject), ":now": n(db.now().Unix())},
		ScanIndexForward:          aws.Bool(false)},
		"privacy requests", func(it privacyItem) error { out = append(out, it.domain()); return nil })
	return out, err
}

// accountKeys pages through the by_account index: every item carrying the
// caller's acct, as keys (the index is KEYS_ONLY).
func (db *DB) accountKeys(ctx context.Context, page func(keys []map[string]types.AttributeValue) error) error {
	acct, _, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexByAccount),
		KeyConditionExpression:    aws.String("acct = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": s(acct)}})
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query by_account: %w", err)
		}
		keys := make([]map[string]types.AttributeValue, 0, len(res.Items))
		seen := map[string]bool{}
		for _, it := range res.Items {
			pk, _ := it["pk"].(*types.AttributeValueMemberS)
			sk, _ := it["sk"].(*types.AttributeValueMemberS)
			if pk == nil || sk == nil || seen[pk.Value+"\x00"+sk.Value] {
				continue
			}
			seen[pk.Value+"\x00"+sk.Value] = true
			keys = append(keys, key(pk.Value, sk.Value))
		}
		if err := page(keys); err != nil {
			return err
		}
	}
	return nil
}

func attrString(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// EachAccountItem implements privacy.Store.
func (db *DB) EachAccountItem(ctx context.Context, each func(privacy.Item) error) error {
	acct, _, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	return db.accountKeys(ctx, func(keys []map[string]types.AttributeValue) error {
		return db.batchGetKeys(ctx, keys, true, func(m map[string]types.AttributeValue) error {
			if attrString(m, "acct") != acct { // the index can lag a change of owner: never trust it alone
				return nil
			}
			var attrs map[string]any
			if err := attributevalue.UnmarshalMap(m, &attrs); err != nil {
				return fmt.Errorf("decode account item: %w", err)
			}
			return each(privacy.Item{Type: attrString(m, "type"), PK: attrString(m, "pk"), SK: attrString(m, "sk"), Attrs: attrs})
		})
	})
}

// DeleteAccountItems implements privacy.Store.
func (db *DB) DeleteAccountItems(ctx context.Context, del func(typ string) bool) (map[string]int, map[string]int, error) {
	acct, _, err := tenantPK(ctx)
	if err != nil {
		return nil, nil, err
	}
	deleted, kept := map[string]int{}, map[string]int{}
	err = db.accountKeys(ctx, func(keys []map[string]types.AttributeValue) error {
		var doomed []map[string]types.AttributeValue
		err := db.batchGet(ctx, keys, true, false, func(m map[string]types.AttributeValue) error {
			t := attrString(m, "type")
			if attrString(m, "acct") != acct {
				return nil
			}
			if !del(t) {
				kept[t]++
				return nil
			}
			deleted[t]++
			doomed = append(doomed, map[string]types.AttributeValue{"pk": m["pk"], "sk": m["sk"]})
			return nil
		})
		if err != nil {
			return err
		}
		return db.deleteKeys(ctx, doomed)
	})
	return deleted, kept, err
}

// CountSessionItems implements privacy.Store: session items, including those
// whose deletion the host has not finished (desired = deleted).
func (db *DB) CountSessionItems(ctx context.Context) (int, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	count := 0
	err = db.queryPrefix(ctx, pk, skSessionPfx, func(m map[string]types.AttributeValue) error {
		if attrString(m, "type") == "session" {
			count++
		}
		return nil
	})
	return count, err
}

type exportItem struct {
	header
	RequestID    string    `dynamodbav:"request_id"`
	ObjectKey    string    `dynamodbav:"object_key"`
	Size         int       `dynamodbav:"size"`
	URLExpiresAt time.Time `dynamodbav:"url_expires_at"`
	CreatedAt    time.Time `dynamodbav:"created_at"`
}

// PutExport implements privacy.Store.
func (db *DB) PutExport(ctx context.Context, e privacy.ExportRecord) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := marshal(exportItem{header: header{PK: pk, SK: skExportPfx + e.RequestID, Type: "export", Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.ExportFile, e.CreatedAt))},
		RequestID: e.RequestID, ObjectKey: e.ObjectKey, Size: e.Size, URLExpiresAt: e.URLExpiresAt, CreatedAt: e.CreatedAt})
	if err != nil {
		return err
	}
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item}); err != nil {
		return fmt.Errorf("put export %s: %w", e.RequestID, err)
	}
	return nil
}
