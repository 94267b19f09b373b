package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
	"github.com/chatsend/chatsend/shared/sessions"
)

var _ sessions.Store = (*DB)(nil)

const (
	skSessionPfx = "SESSION#"
	pfxLease     = "LEASE#"
	pfxHost      = "HOST#"
	// leaseShards spreads lease items over several index partitions so
	// that heartbeats of many sessions do not all hit one GSI partition.
	leaseShards = 8
)

type sessionItem struct {
	header
	ID                 string    `dynamodbav:"id"`
	Label              string    `dynamodbav:"label"`
	Backend            string    `dynamodbav:"backend"`
	Desired            string    `dynamodbav:"desired"`
	Generation         int64     `dynamodbav:"generation"`
	Status             string    `dynamodbav:"status"`
	StatusReason       string    `dynamodbav:"status_reason"`
	Phone              string    `dynamodbav:"phone"`
	PushName           string    `dynamodbav:"push_name"`
	ConnectedSince     time.Time `dynamodbav:"connected_since"`
	PairedAt           time.Time `dynamodbav:"paired_at"`
	LastEventAt        time.Time `dynamodbav:"last_event_at"`
	ObservedGeneration int64     `dynamodbav:"observed_generation"`
	HostID             string    `dynamodbav:"host_id"`
	CreatedAt          time.Time `dynamodbav:"created_at"`
	UpdatedAt          time.Time `dynamodbav:"updated_at"`
}

func (it sessionItem) domain() sessions.Session {
	return sessions.Session{ID: it.ID, AccountID: it.Acct, Label: it.Label, Backend: it.Backend,
		Desired: sessions.Desired(it.Desired), Generation: it.Generation, Status: sessions.Status(it.Status),
		StatusReason: it.StatusReason, Phone: it.Phone, PushName: it.PushName, ConnectedSince: it.ConnectedSince, PairedAt: it.PairedAt,
		LastEventAt: it.LastEventAt, ObservedGeneration: it.ObservedGeneration, HostID: it.HostID,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

type leaseItem struct {
	header
	GSI1PK    string `dynamodbav:"gsi1pk"`
	GSI1SK    string `dynamodbav:"gsi1sk"`
	SessionID string `dynamodbav:"session_id"`
	Owner     string `dynamodbav:"owner"`
	ExpiresMS int64  `dynamodbav:"expires_ms"`
}

func leaseShard(sessionID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sessionID))
	return fmt.Sprintf("%s%d", pfxLease, h.Sum32()%leaseShards)
}

// leaseSortKey orders leases by expiry so free and expired ones are found
// with one range query per shard.
func leaseSortKey(expiresMS int64, sessionID string) string {
	return fmt.Sprintf("%016d#%s", expiresMS, sessionID)
}

func (it leaseItem) domain() sessions.Lease {
	l := sessions.Lease{SessionID: it.SessionID, AccountID: it.Acct, Owner: it.Owner}
	if it.ExpiresMS > 0 {
		l.ExpiresAt = time.UnixMilli(it.ExpiresMS).UTC()
	}
	return l
}

// CreateSession implements sessions.Store: the session and its free lease.
func (db *DB) CreateSession(ctx context.Context, s sessions.Session) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	ses, err := marshal(sessionItem{header: header{PK: pk, SK: skSessionPfx + s.ID, Type: "session", Acct: acct},
		ID: s.ID, Label: s.Label, Backend: s.Backend, Desired: string(s.Desired), Generation: s.Generation,
		Status: string(s.Status), LastEventAt: s.LastEventAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
	if err != nil {
		return err
	}
	lease, err := marshal(leaseItem{header: header{PK: pfxLease + s.ID, SK: "LEASE", Type: "session_lease", Acct: acct},
		GSI1PK: leaseShard(s.ID), GSI1SK: leaseSortKey(0, s.ID), SessionID: s.ID})
	if err != nil {
		return err
	}
	notExists := aws.String("attribute_not_exists(pk)")
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &db.table, Item: ses, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &db.table, Item: lease, ConditionExpression: notExists}},
	}})
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	return nil
}

// FindSession implements sessions.Store.
func (db *DB) FindSession(ctx context.Context, id string) (sessions.Session, error) {
	return findTenant[sessionItem, *sessionItem, sessions.Session](ctx, db, skSessionPfx+id, fmt.Sprintf("no session %q", id))
}

// ListSessions implements sessions.Store.
func (db *DB) ListSessions(ctx context.Context) ([]sessions.Session, error) {
	return listTenant[sessionItem, *sessionItem, sessions.Session](ctx, db, skSessionPfx, func(m map[string]types.AttributeValue) bool {
		// The session's QR and RPC items share the prefix.
		t, _ := m["type"].(*types.AttributeValueMemberS)
		d, _ := m["desired"].(*types.AttributeValueMemberS)
		return t != nil && t.Value == "session" && (d == nil || d.Value != string(sessions.DesiredDeleted))
	})
}

// SetDesired implements sessions.Store.
func (db *DB) SetDesired(ctx context.Context, id string, d sessions.Desired, now time.Time) (sessions.Session, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return sessions.Session{}, err
	}
	t, err := attributevalue.Marshal(now)
	if err != nil {
		return sessions.Session{}, fmt.Errorf("encode time: %w", err)
	}
	res, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skSessionPfx+id),
		UpdateExpression:          aws.String("SET desired = :d, updated_at = :t ADD generation :one"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND desired <> :deleted"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": s(string(d)), ":t": t, ":one": n(1), ":deleted": s(string(sessions.DesiredDeleted))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return sessions.Session{}, errs.E(errs.NotFound, "no session %q", id)
	}
	if err != nil {
		return sessions.Session{}, fmt.Errorf("set desired %s: %w", id, err)
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return sessions.Session{}, fmt.Errorf("decode session: %w", err)
	}
	return it.domain(), nil
}

// ObserveSession records what a host sees. The write is fenced by the
// lease: it succeeds only while o.HostID holds the session (errs.Conflict
// otherwise), so a host that lost its lease can never overwrite the state
// its successor reports. It never resurrects a removed session.
func (db *DB) ObserveSession(ctx context.Context, id string, o sessions.Observation) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	vals := map[string]any{":st": string(o.Status), ":r": o.StatusReason, ":p": o.Phone, ":pn": o.PushName,
		":cs": o.ConnectedSince, ":pa": o.PairedAt, ":og": o.ObservedGeneration, ":h": o.HostID, ":t": o.At}
	av, err := attributevalue.MarshalMap(vals)
	if err != nil {
		return fmt.Errorf("encode observation: %w", err)
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &db.table, Key: key(pk, skSessionPfx+id),
			UpdateExpression: aws.String("SET #st = :st, status_reason = :r, phone = :p, push_name = :pn, connected_since = :cs, paired_at = :pa, " +
				"observed_generation = :og, host_id = :h, last_event_at = :t, updated_at = :t"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#st": "status"},
			ExpressionAttributeValues: av}},
		{ConditionCheck: &types.ConditionCheck{TableName: &db.table, Key: key(pfxLease+id, "LEASE"),
			ConditionExpression:       aws.String("#o = :h"),
			ExpressionAttributeNames:  map[string]string{"#o": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": s(o.HostID)}}},
	}})
	if r := cancelReasons(err); r != nil {
		if r[0] == "ConditionalCheckFailed" {
			return errs.E(errs.NotFound, "no session %q", id)
		}
		return errs.E(errs.Conflict, "host %s no longer holds session %s", o.HostID, id)
	}
	if err != nil {
		return fmt.Errorf("observe session %s: %w", id, err)
	}
	return nil
}

type qrItem struct {
	header
	Code      string    `dynamodbav:"code"`
	ExpiresAt time.Time `dynamodbav:"expires_at"`
}

// PutQR stores the session's current QR code; its TTL is the code's expiry.
func (db *DB) PutQR(ctx context.Context, sessionID string, qr sessions.QR) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	// The QR class bounds the TTL even if a backend reports a far expiry.
	ttl := qr.ExpiresAt
	if limit := retention.ExpiresAt(retention.QRCode, time.Now()); ttl.After(limit) {
		ttl = limit
	}
	item, err := marshal(qrItem{header: header{PK: pk, SK: skSessionPfx + sessionID + "#QR", Type: "session_qr", Acct: acct, TTL: ttlOf(ttl)},
		Code: qr.Code, ExpiresAt: qr.ExpiresAt})
	if err != nil {
		return err
	}
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item}); err != nil {
		return fmt.Errorf("put qr %s: %w", sessionID, err)
	}
	return nil
}

// DeleteQR removes the session's QR code.
func (db *DB) DeleteQR(ctx context.Context, sessionID string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pk, skSessionPfx+sessionID+"#QR")}); err != nil {
		return fmt.Errorf("delete qr %s: %w", sessionID, err)
	}
	return nil
}

// FindQR implements sessions.Store.
func (db *DB) FindQR(ctx context.Context, sessionID string) (sessions.QR, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return sessions.QR{}, err
	}
	var it qrItem
	if err := db.get(ctx, pk, skSessionPfx+sessionID+"#QR", true, &it, "no QR code"); err != nil {
		return sessions.QR{}, err
	}
	if !db.now().Before(it.ExpiresAt) {
		return sessions.QR{}, errs.E(errs.NotFound, "no QR code")
	}
	return sessions.QR{Code: it.Code, ExpiresAt: it.ExpiresAt}, nil
}

type rpcItem struct {
	header
	ID           string    `dynamodbav:"id"`
	SessionID    string    `dynamodbav:"session_id"`
	Kind         string    `dynamodbav:"kind"`
	Args         string    `dynamodbav:"args"`
	Status       string    `dynamodbav:"status"`
	Result       string    `dynamodbav:"result,omitempty"`
	ErrorCode    string    `dynamodbav:"error_code,omitempty"`
	ErrorMessage string    `dynamodbav:"error_message,omitempty"`
	CreatedAt    time.Time `dynamodbav:"created_at"`
}

func (it rpcItem) domain() sessions.RPC {
	r := sessions.RPC{ID: it.ID, SessionID: it.SessionID, AccountID: it.Acct, Kind: sessions.RPCKind(it.Kind),
		Args: json.RawMessage(it.Args), Status: sessions.RPCStatus(it.Status), ErrorCode: it.ErrorCode,
		ErrorMessage: it.ErrorMessage, CreatedAt: it.CreatedAt, ExpiresAt: time.Unix(it.TTL, 0).UTC()}
	if it.Result != "" {
		r.Result = json.RawMessage(it.Result)
	}
	return r
}

func rpcSK(sessionID, rpcID string) string { return skSessionPfx + sessionID + "#RPC#" + rpcID }

// CreateRPC implements sessions.Store.
func (db *DB) CreateRPC(ctx context.Context, r sessions.RPC) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := marshal(rpcItem{header: header{PK: pk, SK: rpcSK(r.SessionID, r.ID), Type: "session_rpc", Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.SessionRPC, r.CreatedAt))},
		ID: r.ID, SessionID: r.SessionID, Kind: string(r.Kind), Args: string(r.Args), Status: string(r.Status), CreatedAt: r.CreatedAt})
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "rpc "+r.ID)
}

// FindRPC implements sessions.Store.
func (db *DB) FindRPC(ctx context.Context, sessionID, rpcID string) (sessions.RPC, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return sessions.RPC{}, err
	}
	var it rpcItem
	if err := db.get(ctx, pk, rpcSK(sessionID, rpcID), true, &it, "no such request"); err != nil {
		return sessions.RPC{}, err
	}
	return it.domain(), nil
}

// PendingRPCs lists a session's RPCs still waiting for a host, oldest first.
func (db *DB) PendingRPCs(ctx context.Context, sessionID string) ([]sessions.RPC, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	var out []sessions.RPC
	err = db.queryPrefix(ctx, pk, skSessionPfx+sessionID+"#RPC#", func(m map[string]types.AttributeValue) error {
		var it rpcItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode rpc: %w", err)
		}
		if it.Status == string(sessions.RPCPending) {
			out = append(out, it.domain())
		}
		return nil
	})
	return out, err
}

// CompleteRPC records an RPC's outcome once; a second completion of the
// same RPC (a redelivered hint) is errs.Conflict.
func (db *DB) CompleteRPC(ctx context.Context, r sessions.RPC) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, rpcSK(r.SessionID, r.ID)),
		UpdateExpression:         aws.String("SET #st = :st, #res = :res, error_code = :ec, error_message = :em"),
		ConditionExpression:      aws.String("#st = :pending"),
		ExpressionAttributeNames: map[string]string{"#st": "status", "#res": "result"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": s(string(r.Status)), ":res": s(string(r.Result)),
			":ec": s(r.ErrorCode), ":em": s(r.ErrorMessage), ":pending": s(string(sessions.RPCPending))},
	})
	if conditionFailed(err) {
		return errs.E(errs.Conflict, "request %s already completed", r.ID)
	}
	if err != nil {
		return fmt.Errorf("complete rpc %s: %w", r.ID, err)
	}
	return nil
}

// DeleteSessionData removes a session with its QR code, RPCs and lease.
func (db *DB) DeleteSessionData(ctx context.Context, sessionID string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	keys := []map[string]types.AttributeValue{key(pfxLease+sessionID, "LEASE")}
	err = db.queryPrefix(ctx, pk, skSessionPfx+sessionID, func(m map[string]types.AttributeValue) error {
		keys = append(keys, map[string]types.AttributeValue{"pk": m["pk"], "sk": m["sk"]})
		return nil
	})
	if err != nil {
		return err
	}
	return db.deleteKeys(ctx, keys)
}

// deleteKeys deletes items in batches of 25, retrying unprocessed ones.
func (db *DB) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	for len(keys) > 0 {
		n := min(25, len(keys))
		reqs := make([]types.WriteRequest, n)
		for i, k := range keys[:n] {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		keys = keys[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			res, err := db.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{db.table: reqs}})
			if err != nil {
				return fmt.Errorf("batch delete: %w", err)
			}
			reqs = res.UnprocessedItems[db.table]
			if attempt > 8 {
				return fmt.Errorf("batch delete: %d items still unprocessed", len(reqs))
			}
			if len(reqs) > 0 {
				time.Sleep(time.Duration(1<<attempt) * 10 * time.Millisecond)
			}
		}
	}
	return nil
}

// ClaimableLeases returns up to limit leases that are free or expired at now.
func (db *DB) ClaimableLeases(ctx context.Context, now time.Time, limit int) ([]sessions.Lease, error) {
	var out []sessions.Lease
	for shard := 0; shard < leaseShards && len(out) < limit; shard++ {
		p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{
			TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
			KeyConditionExpression: aws.String("gsi1pk = :p AND gsi1sk < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": s(fmt.Sprintf("%s%d", pfxLease, shard)), ":now": s(leaseSortKey(now.UnixMilli(), "")),
			},
		})
		for p.HasMorePages() && len(out) < limit {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("query leases: %w", err)
			}
			for _, m := range page.Items {
				var it leaseItem
				if err := attributevalue.UnmarshalMap(m, &it); err != nil {
					return nil, fmt.Errorf("decode lease: %w", err)
				}
				out = append(out, it.domain())
				if len(out) == limit {
					break
				}
			}
		}
	}
	return out, nil
}

// AcquireLease takes a free or expired lease (or extends the caller's own).
// errs.Conflict means another host holds it; errs.NotFound that the
// session is gone.
func (db *DB) AcquireLease(ctx context.Context, sessionID, host string, until, now time.Time) (sessions.Lease, error) {
	return db.writeLease(ctx, sessionID, host, until,
		"attribute_exists(pk) AND (#o = :h OR expires_ms < :now)", map[string]types.AttributeValue{":now": n(now.UnixMilli())})
}

// RenewLease extends the caller's lease; errs.Conflict means it was lost.
func (db *DB) RenewLease(ctx context.Context, sessionID, host string, until time.Time) (sessions.Lease, error) {
	return db.writeLease(ctx, sessionID, host, until, "attribute_exists(pk) AND #o = :h", nil)
}

// ReleaseLease frees the caller's lease at once, so another host may take
// the session without waiting for expiry.
func (db *DB) ReleaseLease(ctx context.Context, sessionID, host string) error {
	_, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pfxLease+sessionID, "LEASE"),
		UpdateExpression:          aws.String("SET #o = :empty, expires_ms = :zero, gsi1sk = :sk"),
		ConditionExpression:       aws.String("#o = :h"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":empty": s(""), ":zero": n(0), ":sk": s(leaseSortKey(0, sessionID)), ":h": s(host)},
	})
	if conditionFailed(err) {
		return nil // not ours any more: nothing to release
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", sessionID, err)
	}
	return nil
}

func (db *DB) writeLease(ctx context.Context, sessionID, host string, until time.Time, cond string, extra map[string]types.AttributeValue) (sessions.Lease, error) {
	vals := map[string]types.AttributeValue{":h": s(host), ":u": n(until.UnixMilli()), ":sk": s(leaseSortKey(until.UnixMilli(), sessionID))}
	for k, v := range extra {
		vals[k] = v
	}
	res, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pfxLease+sessionID, "LEASE"),
		UpdateExpression:          aws.String("SET #o = :h, expires_ms = :u, gsi1sk = :sk"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
		// On a failed condition, return the item to tell "gone" from "held".
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if conditionFailed(err) {
		if _, err := db.FindLease(ctx, sessionID); errs.Is(err, errs.NotFound) {
			return sessions.Lease{}, err
		}
		return sessions.Lease{}, errs.E(errs.Conflict, "session %s is held by another host", sessionID)
	}
	if err != nil {
		return sessions.Lease{}, fmt.Errorf("write lease %s: %w", sessionID, err)
	}
	var it leaseItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return sessions.Lease{}, fmt.Errorf("decode lease: %w", err)
	}
	return it.domain(), nil
}

// FindLease reads a session's lease.
func (db *DB) FindLease(ctx context.Context, sessionID string) (sessions.Lease, error) {
	var it leaseItem
	if err := db.get(ctx, pfxLease+sessionID, "LEASE", true, &it, fmt.Sprintf("no lease for %q", sessionID)); err != nil {
		return sessions.Lease{}, err
	}
	return it.domain(), nil
}

type hostItem struct {
	header
	GSI1PK    string    `dynamodbav:"gsi1pk"`
	GSI1SK    string    `dynamodbav:"gsi1sk"`
	ID        string    `dynamodbav:"id"`
	InboxURL  string    `dynamodbav:"inbox_url"`
	ExpiresAt time.Time `dynamodbav:"expires_at"`
}

// PutHost registers (or refreshes) a session host.
func (db *DB) PutHost(ctx context.Context, h sessions.Host) error {
	item, err := marshal(hostItem{header: header{PK: pfxHost + h.ID, SK: "HOST", Type: "session_host", TTL: ttlOf(h.ExpiresAt.Add(time.Hour))},
		GSI1PK: "HOSTS", GSI1SK: h.ID, ID: h.ID, InboxURL: h.InboxURL, ExpiresAt: h.ExpiresAt})
	if err != nil {
		return err
	}
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item}); err != nil {
		return fmt.Errorf("put host %s: %w", h.ID, err)
	}
	return nil
}

// FindHost reads a host's registration; an expired one is errs.NotFound.
func (db *DB) FindHost(ctx context.Context, id string) (sessions.Host, error) {
	var it hostItem
	if err := db.get(ctx, pfxHost+id, "HOST", false, &it, "no such host"); err != nil {
		return sessions.Host{}, err
	}
	if !db.now().Before(it.ExpiresAt) {
		return sessions.Host{}, errs.E(errs.NotFound, "host %s expired", id)
	}
	return sessions.Host{ID: it.ID, InboxURL: it.InboxURL, ExpiresAt: it.ExpiresAt}, nil
}

// ListHosts returns every registered host, live or expired.
func (db *DB) ListHosts(ctx context.Context) ([]sessions.Host, error) {
	var out []sessions.Host
	err := eachItem(ctx, db, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("HOSTS")}},
		"hosts", func(it hostItem) error {
			out = append(out, sessions.Host{ID: it.ID, InboxURL: it.InboxURL, ExpiresAt: it.ExpiresAt})
			return nil
		})
	return out, err
}

// DeleteHost removes a host's registration.
func (db *DB) DeleteHost(ctx context.Context, id string) error {
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pfxHost+id, "HOST")}); err != nil {
		return fmt.Errorf("delete host %s: %w", id, err)
	}
	return nil
}
