package dynamo

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/retention"
)

var (
	_ accounts.Store       = (*DB)(nil)
	_ accounts.RateLimiter = (*DB)(nil)
)

const (
	skAccount = "ACCOUNT"
	skUserPfx = "USER#"
	skKeyPfx  = "KEY#"
)

type accountItem struct {
	header
	ID            string   `dynamodbav:"id"`
	Name          string   `dynamodbav:"name"`
	Email         string   `dynamodbav:"email"`
	OwnerUserID   string   `dynamodbav:"owner_user_id"`
	TimeZone      string   `dynamodbav:"time_zone"`
	DefaultRegion string   `dynamodbav:"default_region,omitempty"`
	OptOutWords   []string `dynamodbav:"opt_out_keywords,omitempty"`
	OptOutReply   string   `dynamodbav:"opt_out_reply,omitempty"`
	BodyDays      *int     `dynamodbav:"body_retention_days,omitempty"`
	// Processing flags (privacy requests); absent when not set.
	RestrictedAt       *time.Time `dynamodbav:"restricted_at,omitempty"`
	ObjectedAt         *time.Time `dynamodbav:"objected_at,omitempty"`
	ConsentWithdrawnAt *time.Time `dynamodbav:"consent_withdrawn_at,omitempty"`
	CreatedAt          time.Time  `dynamodbav:"created_at"`
	UpdatedAt          time.Time  `dynamodbav:"updated_at"`
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func zeroOrTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (it accountItem) domain() accounts.Account {
	return accounts.Account{ID: it.ID, Name: it.Name, Email: it.Email, OwnerUserID: it.OwnerUserID,
		TimeZone: it.TimeZone, DefaultRegion: it.DefaultRegion, OptOutKeywords: it.OptOutWords, OptOutReply: it.OptOutReply,
		RestrictedAt: timeOrZero(it.RestrictedAt), ObjectedAt: timeOrZero(it.ObjectedAt), ConsentWithdrawnAt: timeOrZero(it.ConsentWithdrawnAt),
		BodyRetentionDays: it.BodyDays, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

func newAccountItem(a accounts.Account) accountItem {
	return accountItem{header: header{PK: pfxAccount + a.ID, SK: skAccount, Type: "account", Acct: a.ID},
		ID: a.ID, Name: a.Name, Email: a.Email, OwnerUserID: a.OwnerUserID, TimeZone: a.TimeZone,
		DefaultRegion: a.DefaultRegion, OptOutWords: a.OptOutKeywords, OptOutReply: a.OptOutReply, BodyDays: a.BodyRetentionDays,
		RestrictedAt: zeroOrTime(a.RestrictedAt), ObjectedAt: zeroOrTime(a.ObjectedAt), ConsentWithdrawnAt: zeroOrTime(a.ConsentWithdrawnAt),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

type userItem struct {
	header
	ID           string    `dynamodbav:"id"`
	Email        string    `dynamodbav:"email"`
	Name         string    `dynamodbav:"name"`
	PasswordHash string    `dynamodbav:"password_hash"`
	CreatedAt    time.Time `dynamodbav:"created_at"`
}

// emailItem makes a login email unique across accounts and finds its user.
type emailItem struct {
	header
	UserID string `dynamodbav:"user_id"`
}

func newEmailItem(email, acct, userID string) emailItem {
	return emailItem{header: header{PK: pfxEmail + email, SK: "EMAIL", Type: "email", Acct: acct}, UserID: userID}
}

// CreateAccount implements accounts.Store.
func (db *DB) CreateAccount(ctx context.Context, a accounts.Account, u accounts.User) error {
	acct, err := marshal(newAccountItem(a))
	if err != nil {
		return err
	}
	user, err := marshal(userItem{header: header{PK: pfxAccount + a.ID, SK: skUserPfx + u.ID, Type: "user", Acct: a.ID},
		ID: u.ID, Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt})
	if err != nil {
		return err
	}
	email, err := marshal(newEmailItem(u.Email, a.ID, u.ID))
	if err != nil {
		return err
	}
	notExists := aws.String("attribute_not_exists(pk)")
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &db.table, Item: email, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &db.table, Item: acct, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &db.table, Item: user, ConditionExpression: notExists}},
	}})
	if r := cancelReasons(err); r != nil {
		if r[0] == "ConditionalCheckFailed" || r[0] == "unknown" {
			return errs.E(errs.Conflict, "an account with this email already exists")
		}
	}
	if err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	return nil
}

// FindUserByEmail implements accounts.Store.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (accounts.User, error) {
	var e emailItem
	if err := db.get(ctx, pfxEmail+email, "EMAIL", true, &e, "no user with this email"); err != nil {
		return accounts.User{}, err
	}
	var u userItem
	if err := db.get(ctx, pfxAccount+e.Acct, skUserPfx+e.UserID, true, &u, "no user with this email"); err != nil {
		return accounts.User{}, err
	}
	return accounts.User{ID: u.ID, AccountID: u.Acct, Email: u.Email, Name: u.Name, PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt}, nil
}

// FindAccount implements accounts.Store.
func (db *DB) FindAccount(ctx context.Context) (accounts.Account, error) {
	return findTenant[accountItem, *accountItem, accounts.Account](ctx, db, skAccount, "account not found")
}

// UpdateAccount implements accounts.Store. The account put is conditioned on
// the updated_at it read (optimistic locking); an email change moves the
// unique email item and the owner's user item in the same transaction.
func (db *DB) UpdateAccount(ctx context.Context, upd accounts.AccountUpdate, now time.Time) (accounts.Account, error) {
	acctID, pk, err := tenantPK(ctx)
	if err != nil {
		return accounts.Account{}, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		var cur accountItem
		if err := db.get(ctx, pk, skAccount, true, &cur, "account not found"); err != nil {
			return accounts.Account{}, err
		}
		next := cur.domain()
		if upd.Name != nil {
			next.Name = *upd.Name
		}
		if upd.TimeZone != nil {
			next.TimeZone = *upd.TimeZone
		}
		if upd.DefaultRegion != nil {
			next.DefaultRegion = *upd.DefaultRegion
		}
		if upd.Email != nil {
			next.Email = *upd.Email
		}
		if upd.OptOutKeywords != nil {
			next.OptOutKeywords = *upd.OptOutKeywords
		}
		if upd.OptOutReply != nil {
			next.OptOutReply = *upd.OptOutReply
		}
		if upd.BodyRetentionDays != nil {
			next.BodyRetentionDays = upd.BodyRetentionDays
		}
		if reflect.DeepEqual(next, cur.domain()) {
			return next, nil // nothing changes: no write, no audit noise
		}
		next.UpdatedAt = now
		if !next.UpdatedAt.After(cur.UpdatedAt) {
			next.UpdatedAt = cur.UpdatedAt.Add(time.Microsecond)
		}
		item, err := marshal(newAccountItem(next))
		if err != nil {
			return accounts.Account{}, err
		}
		old, err := attributevalue.Marshal(cur.UpdatedAt)
		if err != nil {
			return accounts.Account{}, fmt.Errorf("encode updated_at: %w", err)
		}
		tx := []types.TransactWriteItem{{Put: &types.Put{TableName: &db.table, Item: item,
			ConditionExpression:       aws.String("updated_at = :old"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":old": old}}}}
		emailChanged := next.Email != cur.Email
		if emailChanged {
			newEmail, err := marshal(newEmailItem(next.Email, acctID, cur.OwnerUserID))
			if err != nil {
				return accounts.Account{}, err
			}
			tx = append(tx,
				types.TransactWriteItem{Put: &types.Put{TableName: &db.table, Item: newEmail,
					ConditionExpression: aws.String("attribute_not_exists(pk)")}},
				types.TransactWriteItem{Delete: &types.Delete{TableName: &db.table, Key: key(pfxEmail+cur.Email, "EMAIL"),
					ConditionExpression:       aws.String("acct = :a"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":a": s(acctID)}}},
				types.TransactWriteItem{Update: &types.Update{TableName: &db.table, Key: key(pk, skUserPfx+cur.OwnerUserID),
					UpdateExpression:          aws.String("SET email = :e"),
					ConditionExpression:       aws.String("attribute_exists(pk)"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":e": s(next.Email)}}},
			)
		}
		_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		reasons := cancelReasons(err)
		switch {
		case err == nil:
			return next, nil
		case reasons == nil:
			return accounts.Account{}, fmt.Errorf("update account %s: %w", acctID, err)
		case len(reasons) > 1 && reasons[1] == "ConditionalCheckFailed",
			emailChanged && reasons[0] == "unknown" && db.emailTaken(ctx, next.Email):
			return accounts.Account{}, errs.E(errs.Conflict, "another account already uses this email")
		}
		// The account changed under us: read it again and retry.
	}
	return accounts.Account{}, errs.E(errs.Conflict, "the account was changed concurrently; retry")
}

func (db *DB) emailTaken(ctx context.Context, email string) bool {
	var e emailItem
	return db.get(ctx, pfxEmail+email, "EMAIL", true, &e, "") == nil
}

// apiKeyItem is stored twice: under the account (for listing) and under the
// secret's hash (for authentication by one consistent GetItem).
type apiKeyItem struct {
	header
	ID         string    `dynamodbav:"id"`
	Name       string    `dynamodbav:"name"`
	Scope      string    `dynamodbav:"scope"`
	Prefix     string    `dynamodbav:"prefix"`
	Hash       string    `dynamodbav:"hash"`
	CreatedAt  time.Time `dynamodbav:"created_at"`
	LastUsedAt time.Time `dynamodbav:"last_used_at,omitempty"`
}

func (it apiKeyItem) domain() accounts.APIKey {
	return accounts.APIKey{ID: it.ID, AccountID: it.Acct, Name: it.Name, Scope: accounts.Scope(it.Scope),
		Prefix: it.Prefix, Hash: it.Hash, CreatedAt: it.CreatedAt, LastUsedAt: it.LastUsedAt}
}

// CreateAPIKey implements accounts.Store.
func (db *DB) CreateAPIKey(ctx context.Context, k accounts.APIKey) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	it := apiKeyItem{header: header{PK: pk, SK: skKeyPfx + k.ID, Type: "api_key", Acct: acct},
		ID: k.ID, Name: k.Name, Scope: string(k.Scope), Prefix: k.Prefix, Hash: k.Hash, CreatedAt: k.CreatedAt}
	meta, err := marshal(it)
	if err != nil {
		return err
	}
	it.header = header{PK: pfxKeyHash + k.Hash, SK: "KEYHASH", Type: "api_key_hash", Acct: acct}
	byHash, err := marshal(it)
	if err != nil {
		return err
	}
	notExists := aws.String("attribute_not_exists(pk)")
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: &db.table, Key: key(pk, skAccount), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{Put: &types.Put{TableName: &db.table, Item: meta, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &db.table, Item: byHash, ConditionExpression: notExists}},
	}})
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.ID, err)
	}
	return nil
}

// ListAPIKeys implements accounts.Store.
func (db *DB) ListAPIKeys(ctx context.Context) ([]accounts.APIKey, error) {
	// Ids are time-ordered, so sort-key order is creation order.
	return listTenant[apiKeyItem, *apiKeyItem, accounts.APIKey](ctx, db, skKeyPfx, nil)
}

// RevokeAPIKey implements accounts.Store.
func (db *DB) RevokeAPIKey(ctx context.Context, keyID string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	var it apiKeyItem
	notFound := fmt.Sprintf("no API key %q", keyID)
	if err := db.get(ctx, pk, skKeyPfx+keyID, true, &it, notFound); err != nil {
		return err
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &db.table, Key: key(pk, skKeyPfx+keyID), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{Delete: &types.Delete{TableName: &db.table, Key: key(pfxKeyHash+it.Hash, "KEYHASH")}},
	}})
	if cancelReasons(err) != nil {
		return errs.E(errs.NotFound, "%s", notFound) // revoked concurrently
	}
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", keyID, err)
	}
	return nil
}

// FindAPIKeyByHash implements accounts.Store.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash string) (accounts.APIKey, error) {
	var it apiKeyItem
	if err := db.get(ctx, pfxKeyHash+hash, "KEYHASH", true, &it, "unknown API key"); err != nil {
		return accounts.APIKey{}, err
	}
	return it.domain(), nil
}

// TouchAPIKey implements accounts.Store.
func (db *DB) TouchAPIKey(ctx context.Context, keyID, hash string, at time.Time) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	v, err := attributevalue.Marshal(at)
	if err != nil {
		return fmt.Errorf("encode last_used_at: %w", err)
	}
	upd := func(k map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{TableName: &db.table, Key: k,
			UpdateExpression:          aws.String("SET last_used_at = :t"),
			ConditionExpression:       aws.String("attribute_exists(pk)"), // never resurrect a revoked key
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": v}}}
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		upd(key(pk, skKeyPfx+keyID)), upd(key(pfxKeyHash+hash, "KEYHASH")),
	}})
	if cancelReasons(err) != nil {
		return errs.E(errs.NotFound, "no API key %q", keyID)
	}
	if err != nil {
		return fmt.Errorf("touch api key %s: %w", keyID, err)
	}
	return nil
}

type loginItem struct {
	header
	UserID     string    `dynamodbav:"user_id"`
	CreatedAt  time.Time `dynamodbav:"created_at"`
	LastSeenAt time.Time `dynamodbav:"last_seen_at"`
	ExpiresAt  time.Time `dynamodbav:"expires_at"`
}

// CreateLoginSession implements accounts.Store.
func (db *DB) CreateLoginSession(ctx context.Context, ls accounts.LoginSession) error {
	item, err := marshal(loginItem{header: header{PK: pfxLogin + ls.TokenHash, SK: "LOGIN", Type: "login_session",
		Acct: ls.AccountID, TTL: ttlOf(ls.ExpiresAt)}, UserID: ls.UserID, CreatedAt: ls.CreatedAt,
		LastSeenAt: ls.LastSeenAt, ExpiresAt: ls.ExpiresAt})
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "login session")
}

// FindLoginSession implements accounts.Store.
func (db *DB) FindLoginSession(ctx context.Context, tokenHash string) (accounts.LoginSession, error) {
	var it loginItem
	if err := db.get(ctx, pfxLogin+tokenHash, "LOGIN", true, &it, "login not found"); err != nil {
		return accounts.LoginSession{}, err
	}
	return accounts.LoginSession{TokenHash: tokenHash, AccountID: it.Acct, UserID: it.UserID,
		CreatedAt: it.CreatedAt, LastSeenAt: it.LastSeenAt, ExpiresAt: it.ExpiresAt}, nil
}

// TouchLoginSession implements accounts.Store.
func (db *DB) TouchLoginSession(ctx context.Context, tokenHash string, lastSeen, expiresAt time.Time) error {
	ls, err := attributevalue.Marshal(lastSeen)
	if err != nil {
		return fmt.Errorf("encode last_seen_at: %w", err)
	}
	ex, err := attributevalue.Marshal(expiresAt)
	if err != nil {
		return fmt.Errorf("encode expires_at: %w", err)
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pfxLogin+tokenHash, "LOGIN"),
		UpdateExpression:          aws.String("SET last_seen_at = :l, expires_at = :e, #ttl = :t"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": ls, ":e": ex, ":t": n(ttlOf(expiresAt))}})
	if conditionFailed(err) {
		return errs.E(errs.NotFound, "login not found")
	}
	if err != nil {
		return fmt.Errorf("touch login session: %w", err)
	}
	return nil
}

// DeleteLoginSession implements accounts.Store.
func (db *DB) DeleteLoginSession(ctx context.Context, tokenHash string) error {
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pfxLogin+tokenHash, "LOGIN")}); err != nil {
		return fmt.Errorf("delete login session: %w", err)
	}
	return nil
}

// Hit implements accounts.RateLimiter with one atomic counter per key and
// fixed window, expiring by TTL.
func (db *DB) Hit(ctx context.Context, k string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := db.now()
	start := now.Truncate(window)
	end := start.Add(window)
	res, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table,
		Key:                       key(pfxRate+k, strconv.FormatInt(start.Unix(), 10)),
		UpdateExpression:          aws.String("ADD #c :one SET #ttl = :ttl, #type = :type"),
		ExpressionAttributeNames:  map[string]string{"#c": "count", "#ttl": "ttl", "#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":ttl": n(end.Add(time.Minute).Unix()), ":type": s("rate_limit")},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return false, 0, fmt.Errorf("rate limit hit: %w", err)
	}
	var out struct {
		Count int `dynamodbav:"count"`
	}
	if err := attributevalue.UnmarshalMap(res.Attributes, &out); err != nil {
		return false, 0, fmt.Errorf("decode rate limit: %w", err)
	}
	if out.Count > limit {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}

// SetAccountFlag implements accounts.Store. It moves updated_at forward
// too, so a concurrent PATCH (conditioned on the updated_at it read) can
// never put back the account without the flag.
func (db *DB) SetAccountFlag(ctx context.Context, f accounts.Flag, at time.Time) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	now, err := attributevalue.Marshal(db.now().UTC())
	if err != nil {
		return fmt.Errorf("encode updated_at: %w", err)
	}
	in := &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skAccount),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#f": string(f)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": now}}
	if at.IsZero() {
		in.UpdateExpression = aws.String("REMOVE #f SET updated_at = :now")
	} else {
		v, err := attributevalue.Marshal(at.UTC())
		if err != nil {
			return fmt.Errorf("encode %s: %w", f, err)
		}
		in.UpdateExpression = aws.String("SET #f = :at, updated_at = :now")
		in.ExpressionAttributeValues[":at"] = v
	}
	_, err = db.client.UpdateItem(ctx, in)
	if conditionFailed(err) {
		return errs.E(errs.NotFound, "account not found")
	}
	if err != nil {
		return fmt.Errorf("set account flag %s: %w", f, err)
	}
	return nil
}

const skAuditPfx = "AUDIT#"

// auditItem is one line of an account's audit trail (class privacy_audit).
type auditItem struct {
	header
	ID     string    `dynamodbav:"id"`
	Action string    `dynamodbav:"action"`
	Fields []string  `dynamodbav:"fields,omitempty"`
	Actor  string    `dynamodbav:"actor,omitempty"`
	At     time.Time `dynamodbav:"at"`
}

func (it auditItem) domain() accounts.AuditEntry {
	return accounts.AuditEntry{ID: it.ID, Action: it.Action, Fields: it.Fields, Actor: it.Actor, At: it.At}
}

// AddAudit implements accounts.Store.
func (db *DB) AddAudit(ctx context.Context, e accounts.AuditEntry) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := marshal(auditItem{header: header{PK: pk, SK: skAuditPfx + e.ID, Type: "audit", Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.PrivacyAudit, e.At))}, ID: e.ID, Action: e.Action, Fields: e.Fields, Actor: e.Actor, At: e.At})
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "audit entry")
}

// ListAudit implements accounts.Store.
func (db *DB) ListAudit(ctx context.Context) ([]accounts.AuditEntry, error) {
	return listTenant[auditItem, *auditItem, accounts.AuditEntry](ctx, db, skAuditPfx, nil)
}
