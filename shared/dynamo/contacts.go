package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/retention"
)

var _ contacts.Store = (*DB)(nil)

// Sort key prefixes of the contacts items, all under the tenant partition
// "A#<acct>" (see docs/data-model.md).
const (
	skContactPfx = "CON#"    // CON#<contact id>: the contact
	skPhonePfx   = "PHONE#"  // PHONE#<e164>: makes the phone unique, points to the contact
	skTagPfx     = "TAG#"    // TAG#<tag>#<contact id>: one per tag of a contact, for listing by tag
	skSuppPfx    = "SUPP#"   // SUPP#<sha256 hex of e164>: a suppressed number
	skImportPfx  = "IMPORT#" // IMPORT#<imp>: an import job; IMPORT#<imp>#ERR#<line>: its rejected lines
)

// maxTransactItems is DynamoDB's limit of actions in one transaction.
const maxTransactItems = 100

type contactItem struct {
	header
	ID        string            `dynamodbav:"id"`
	Phone     string            `dynamodbav:"phone"`
	Name      string            `dynamodbav:"name,omitempty"`
	FirstName string            `dynamodbav:"first_name,omitempty"`
	Tags      []string          `dynamodbav:"tags,omitempty"`
	Custom    map[string]string `dynamodbav:"custom,omitempty"`
	CreatedAt time.Time         `dynamodbav:"created_at"`
	UpdatedAt time.Time         `dynamodbav:"updated_at"`
}

func (it contactItem) domain() contacts.Contact {
	return contacts.Contact{ID: it.ID, AccountID: it.Acct, Phone: it.Phone, Name: it.Name, FirstName: it.FirstName,
		Tags: it.Tags, Custom: it.Custom, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// contactRefItem is a phone-uniqueness or tag-membership item: small, it
// only points to its contact.
type contactRefItem struct {
	header
	ContactID string `dynamodbav:"contact_id"`
}

func phoneSK(e164 string) string         { return skPhonePfx + e164 }
func tagSK(tag, contactID string) string { return skTagPfx + tag + "#" + contactID }
func importErrSK(importID string, line int) string {
	return fmt.Sprintf("%s%s#ERR#%010d", skImportPfx, importID, line)
}

// suppressionSK keys a suppression by the SHA-256 of the number, so a
// later erasure can drop the plaintext and keep the block.
func suppressionSK(e164 string) string { return skSuppPfx + phone.Hash(e164) }

// txRole says what a failed condition of a transaction item means.
type txRole int

const (
	txPlain   txRole = iota // no condition
	txStale                 // the contact changed since it was read
	txPhone                 // the phone number belongs to another contact
	txJob                   // the import checkpoint moved
	txUnknown               // the emulator or service gave no reasons
)

// txn collects the actions of one TransactWriteItems call with their roles.
type txn struct {
	items []types.TransactWriteItem
	roles []txRole
}

func (t *txn) put(role txRole, item map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue, table *string) {
	p := &types.Put{TableName: table, Item: item, ExpressionAttributeValues: vals}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
	}
	t.items, t.roles = append(t.items, types.TransactWriteItem{Put: p}), append(t.roles, role)
}

func (t *txn) del(role txRole, k map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue, table *string) {
	d := &types.Delete{TableName: table, Key: k, ExpressionAttributeValues: vals}
	if cond != "" {
		d.ConditionExpression = aws.String(cond)
	}
	t.items, t.roles = append(t.items, types.TransactWriteItem{Delete: d}), append(t.roles, role)
}

// run executes the transaction; on a cancellation it returns the role of
// the first item whose condition failed.
func (db *DB) runTx(ctx context.Context, t *txn, token string) (txRole, error) {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: t.items}
	if token != "" {
		in.ClientRequestToken = &token // an SDK retry of a committed write is then a no-op
	}
	_, err := db.client.TransactWriteItems(ctx, in)
	reasons := cancelReasons(err)
	if reasons == nil {
		return txPlain, err
	}
	for i, r := range reasons {
		if r == "ConditionalCheckFailed" && i < len(t.roles) {
			return t.roles[i], err
		}
	}
	return txUnknown, err
}

// addContactWrite appends the actions of one contact change: the contact
// (conditioned on being new, or on the version that was read), its phone
// item when the phone is new or changed, and its tag items as they change.
func (db *DB) addContactWrite(t *txn, acct, pk string, w contacts.ContactWrite) error {
	c := w.New
	item, err := marshal(contactItem{header: header{PK: pk, SK: skContactPfx + c.ID, Type: "contact", Acct: acct},
		ID: c.ID, Phone: c.Phone, Name: c.Name, FirstName: c.FirstName, Tags: c.Tags, Custom: c.Custom,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	if err != nil {
		return err
	}
	var oldPhone string
	var oldTags []string
	if w.Old == nil {
		t.put(txStale, item, "attribute_not_exists(pk)", nil, &db.table)
	} else {
		v, err := attributevalue.Marshal(w.Old.UpdatedAt)
		if err != nil {
			return fmt.Errorf("encode updated_at: %w", err)
		}
		t.put(txStale, item, "updated_at = :v", map[string]types.AttributeValue{":v": v}, &db.table)
		oldPhone, oldTags = w.Old.Phone, w.Old.Tags
	}
	ref := func(sk, typ string) (map[string]types.AttributeValue, error) {
		return marshal(contactRefItem{header: header{PK: pk, SK: sk, Type: typ, Acct: acct}, ContactID: c.ID})
	}
	if c.Phone != oldPhone {
		if oldPhone != "" {
			t.del(txStale, key(pk, phoneSK(oldPhone)), "contact_id = :id", map[string]types.AttributeValue{":id": s(c.ID)}, &db.table)
		}
		p, err := ref(phoneSK(c.Phone), "contact_phone")
		if err != nil {
			return err
		}
		t.put(txPhone, p, "attribute_not_exists(pk)", nil, &db.table)
	}
	for _, tag := range oldTags {
		if !slices.Contains(c.Tags, tag) {
			t.del(txPlain, key(pk, tagSK(tag, c.ID)), "", nil, &db.table)
		}
	}
	for _, tag := range c.Tags {
		if !slices.Contains(oldTags, tag) {
			it, err := ref(tagSK(tag, c.ID), "contact_tag")
			if err != nil {
				return err
			}
			t.put(txPlain, it, "", nil, &db.table)
		}
	}
	return nil
}

var (
	errPhoneTaken = errs.E(errs.Conflict, "another contact already has this phone number")
	errStale      = &errs.Error{Code: errs.Conflict, Message: "the contact was changed concurrently; retry", Err: contacts.ErrStale}
)

// writeContact runs one contact change as a transaction.
func (db *DB) writeContact(ctx context.Context, w contacts.ContactWrite) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	var t txn
	if err := db.addContactWrite(&t, acct, pk, w); err != nil {
		return err
	}
	// Replacing 50 tags with 50 others is more than one transaction holds:
	// the old tags' items are then deleted right after it. Until then (or
	// if that fails) a tag listing skips the contact, whose own tags say
	// it no longer has the tag.
	var later []map[string]types.AttributeValue
	for i := len(t.items) - 1; i >= 0 && len(t.items) > maxTransactItems; i-- {
		if t.items[i].Delete != nil && t.roles[i] == txPlain {
			later = append(later, t.items[i].Delete.Key)
			t.items, t.roles = slices.Delete(t.items, i, i+1), slices.Delete(t.roles, i, i+1)
		}
	}
	role, err := db.runTx(ctx, &t, "")
	switch {
	case err == nil:
		return db.deleteKeys(ctx, later)
	case role == txPhone:
		return errPhoneTaken
	case role == txStale, role == txUnknown:
		return errStale
	}
	return fmt.Errorf("write contact %s: %w", w.New.ID, err)
}

// CreateContact implements contacts.Store.
func (db *DB) CreateContact(ctx context.Context, c contacts.Contact) error {
	return db.writeContact(ctx, contacts.ContactWrite{New: c})
}

// UpdateContact implements contacts.Store.
func (db *DB) UpdateContact(ctx context.Context, old, next contacts.Contact) error {
	return db.writeContact(ctx, contacts.ContactWrite{Old: &old, New: next})
}

// FindContactByID implements contacts.Store.
func (db *DB) FindContactByID(ctx context.Context, id string) (contacts.Contact, error) {
	return findTenant[contactItem, *contactItem, contacts.Contact](ctx, db, skContactPfx+id, fmt.Sprintf("no contact %q", id))
}

// DeleteContact implements contacts.Store: the contact, its phone item and
// its tag items go in one transaction, conditioned on the version read.
func (db *DB) DeleteContact(ctx context.Context, id string) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		c, err := db.FindContactByID(ctx, id)
		if err != nil {
			return err
		}
		v, err := attributevalue.Marshal(c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("encode updated_at: %w", err)
		}
		var t txn
		t.del(txStale, key(pk, skContactPfx+id), "updated_at = :v", map[string]types.AttributeValue{":v": v}, &db.table)
		t.del(txStale, key(pk, phoneSK(c.Phone)), "contact_id = :id", map[string]types.AttributeValue{":id": s(id)}, &db.table)
		for _, tag := range c.Tags {
			t.del(txPlain, key(pk, tagSK(tag, id)), "", nil, &db.table)
		}
		role, err := db.runTx(ctx, &t, "")
		if err == nil {
			return nil
		}
		if role != txStale && role != txUnknown {
			return fmt.Errorf("delete contact %s of %s: %w", id, acct, err)
		}
	}
	return errStale
}

// FindContacts implements contacts.Store.
func (db *DB) FindContacts(ctx context.Context, contactIDs []string) ([]contacts.Contact, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	var keys []map[string]types.AttributeValue
	seen := make(map[string]bool, len(contactIDs))
	for _, id := range contactIDs {
		if !seen[id] && ids.Valid(ids.Contact, id) {
			seen[id] = true
			keys = append(keys, key(pk, skContactPfx+id))
		}
	}
	found := make(map[string]contacts.Contact, len(keys))
	err = db.batchGetKeys(ctx, keys, false, func(m map[string]types.AttributeValue) error {
		var it contactItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode contact: %w", err)
		}
		found[it.ID] = it.domain()
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]contacts.Contact, 0, len(found))
	for _, id := range contactIDs {
		if c, ok := found[id]; ok {
			out = append(out, c)
			delete(found, id) // a repeated id is returned once
		}
	}
	return out, nil
}

// FindContactsByPhone implements contacts.Store: the phone items, then the
// contacts they point to, both with strongly consistent batch reads.
func (db *DB) FindContactsByPhone(ctx context.Context, phones []string) (map[string]contacts.Contact, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(phones))
	for _, p := range slices.Compact(slices.Sorted(slices.Values(phones))) {
		keys = append(keys, key(pk, phoneSK(p)))
	}
	var contactKeys []map[string]types.AttributeValue
	err = db.batchGetKeys(ctx, keys, true, func(m map[string]types.AttributeValue) error {
		var it contactRefItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode phone item: %w", err)
		}
		contactKeys = append(contactKeys, key(pk, skContactPfx+it.ContactID))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]contacts.Contact, len(contactKeys))
	err = db.batchGetKeys(ctx, contactKeys, true, func(m map[string]types.AttributeValue) error {
		var it contactItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode contact: %w", err)
		}
		out[it.Phone] = it.domain()
		return nil
	})
	return out, err
}

// ListContacts implements contacts.Store. Without a tag it pages through
// the contact items; with one, through the tag's membership items, then
// reads their contacts with one batch read per page.
func (db *DB) ListContacts(ctx context.Context, f contacts.Filter) (contacts.Page, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return contacts.Page{}, err
	}
	prefix := skContactPfx
	if f.Tag != "" {
		prefix = tagSK(f.Tag, "")
	}
	after, err := cursorSK(f.Cursor, prefix)
	if err != nil {
		return contacts.Page{}, err
	}
	var page contacts.Page
	var tagged []string
	last, err := db.queryRange(ctx, pk, prefix, after, pageSize(f.Limit), func(m map[string]types.AttributeValue) error {
		if f.Tag != "" {
			var it contactRefItem
			if err := attributevalue.UnmarshalMap(m, &it); err != nil {
				return fmt.Errorf("decode tag item: %w", err)
			}
			tagged = append(tagged, it.ContactID)
			return nil
		}
		var it contactItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode contact: %w", err)
		}
		page.Contacts = append(page.Contacts, it.domain())
		return nil
	})
	if err != nil {
		return contacts.Page{}, err
	}
	if f.Tag != "" {
		found, err := db.FindContacts(ctx, tagged)
		if err != nil {
			return contacts.Page{}, err
		}
		for _, c := range found {
			if slices.Contains(c.Tags, f.Tag) { // see writeContact
				page.Contacts = append(page.Contacts, c)
			}
		}
	}
	page.Next = pageCursor(last)
	return page, nil
}

func pageSize(limit int) int {
	if limit <= 0 {
		return contacts.DefaultPageSize
	}
	return min(limit, contacts.MaxPageSize)
}

// pageCursor makes an opaque cursor from the sort key to continue after.
func pageCursor(sk string) string {
	if sk == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(sk))
}

// cursorSK reads a cursor back; it must belong to the listing (prefix).
// The partition always comes from the context, so a cursor cannot reach
// another tenant.
func cursorSK(cursor, prefix string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	sk, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(sk), prefix) || len(sk) > 1024 {
		return "", errs.InvalidFields(errs.FieldError{Field: "query.cursor", Message: "cursor is not valid for this list; start again without it"})
	}
	return string(sk), nil
}

// queryRange reads up to limit live items of partition pk whose sort key
// starts with prefix and sorts after the sort key after ("" = from the
// start), in sort-key order. It returns the sort key to continue after,
// or "" when no item follows. The range is a key condition rather than an
// ExclusiveStartKey, so a cursor stays valid when its item is deleted
// between two pages.
func (db *DB) queryRange(ctx context.Context, pk, prefix, after string, limit int, each func(map[string]types.AttributeValue) error) (string, error) {
	lo := prefix
	if after != "" {
		lo = after // BETWEEN is inclusive: the cursor's own item is skipped below
	}
	// Every prefix ends in '#'; the next byte bounds the range from above.
	hi := prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
	in := &dynamodb.QueryInput{
		TableName:                 &db.table,
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":lo": s(lo), ":hi": s(hi), ":now": n(db.now().Unix())},
		Limit:                     aws.Int32(int32(limit + 2)), // the cursor's item and one to tell if more follow
	}
	got, last := 0, ""
	for {
		res, err := db.client.Query(ctx, in)
		if err != nil {
			return "", fmt.Errorf("query %s/%s*: %w", pk, prefix, err)
		}
		for _, it := range res.Items {
			sk := it["sk"].(*types.AttributeValueMemberS).Value
			if sk == after {
				continue
			}
			if got == limit {
				return last, nil // one more item exists
			}
			if err := each(it); err != nil {
				return "", err
			}
			got, last = got+1, sk
		}
		if res.LastEvaluatedKey == nil {
			return "", nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// batchGetKeys reads items by key, 100 per request, retrying unprocessed
// keys with backoff; each sees every live item found, in no set order.
// Keys must be distinct.
func (db *DB) batchGetKeys(ctx context.Context, keys []map[string]types.AttributeValue, consistent bool, each func(map[string]types.AttributeValue) error) error {
	return db.batchGet(ctx, keys, consistent, true, each)
}

// batchGet is batchGetKeys that can include expired items (erasure must
// delete those too).
func (db *DB) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, consistent, skipExpired bool, each func(map[string]types.AttributeValue) error) error {
	now := db.now().Unix()
	for len(keys) > 0 {
		req := keys[:min(100, len(keys))]
		keys = keys[len(req):]
		for attempt := 0; len(req) > 0; attempt++ {
			res, err := db.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				db.table: {Keys: req, ConsistentRead: aws.Bool(consistent)}}})
			if err != nil {
				return fmt.Errorf("batch get: %w", err)
			}
			for _, it := range res.Responses[db.table] {
				if ttl, ok := it["ttl"].(*types.AttributeValueMemberN); ok && skipExpired {
					if v, _ := strconv.ParseInt(ttl.Value, 10, 64); v != 0 && now >= v {
						continue // expired; the TTL sweep lags
					}
				}
				if err := each(it); err != nil {
					return err
				}
			}
			req = res.UnprocessedKeys[db.table].Keys
			if attempt > 8 && len(req) > 0 {
				return fmt.Errorf("batch get: %d keys still unprocessed", len(req))
			}
			if len(req) > 0 {
				time.Sleep(time.Duration(1<<attempt) * 10 * time.Millisecond)
			}
		}
	}
	return nil
}

type suppressionItem struct {
	header
	Phone     string    `dynamodbav:"phone"`
	Reason    string    `dynamodbav:"reason"`
	CreatedAt time.Time `dynamodbav:"created_at"`
}

func (it suppressionItem) domain() contacts.Suppression {
	return contacts.Suppression{Phone: it.Phone, Reason: it.Reason, CreatedAt: it.CreatedAt}
}

// AddSuppression implements contacts.Store.
func (db *DB) AddSuppression(ctx context.Context, sup contacts.Suppression) (contacts.Suppression, bool, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return contacts.Suppression{}, false, err
	}
	sk := suppressionSK(sup.Phone)
	item, err := marshal(suppressionItem{header: header{PK: pk, SK: sk, Type: "suppression", Acct: acct},
		Phone: sup.Phone, Reason: sup.Reason, CreatedAt: sup.CreatedAt})
	if err != nil {
		return contacts.Suppression{}, false, err
	}
	_, err = db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if conditionFailed(err) {
		var it suppressionItem
		if err := db.get(ctx, pk, sk, true, &it, "suppression not found"); err != nil {
			return contacts.Suppression{}, false, err
		}
		return it.domain(), false, nil
	}
	if err != nil {
		return contacts.Suppression{}, false, fmt.Errorf("add suppression: %w", err)
	}
	return sup, true, nil
}

// ListSuppressions implements contacts.Store (ordered by the number's hash).
func (db *DB) ListSuppressions(ctx context.Context, cursor string, limit int) (contacts.SuppressionPage, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return contacts.SuppressionPage{}, err
	}
	after, err := cursorSK(cursor, skSuppPfx)
	if err != nil {
		return contacts.SuppressionPage{}, err
	}
	var page contacts.SuppressionPage
	last, err := db.queryRange(ctx, pk, skSuppPfx, after, pageSize(limit), func(m map[string]types.AttributeValue) error {
		var it suppressionItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode suppression: %w", err)
		}
		page.Suppressions = append(page.Suppressions, it.domain())
		return nil
	})
	page.Next = pageCursor(last)
	return page, err
}

// DeleteSuppression implements contacts.Store.
func (db *DB) DeleteSuppression(ctx context.Context, e164 string) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	_, err = db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pk, suppressionSK(e164)),
		ConditionExpression: aws.String("attribute_exists(pk)")})
	if conditionFailed(err) {
		return errs.E(errs.NotFound, "this phone number is not suppressed")
	}
	if err != nil {
		return fmt.Errorf("delete suppression: %w", err)
	}
	return nil
}

// Suppressed implements contacts.Store with batch reads by hash.
func (db *DB) Suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(phones))
	bySK := make(map[string]string, len(phones)) // an erased number's suppression holds only its hash
	keys := make([]map[string]types.AttributeValue, 0, len(phones))
	for _, p := range phones {
		if _, dup := out[p]; !dup {
			out[p] = false
			bySK[suppressionSK(p)] = p
			keys = append(keys, key(pk, suppressionSK(p)))
		}
	}
	err = db.batchGetKeys(ctx, keys, true, func(m map[string]types.AttributeValue) error {
		out[bySK[attrString(m, "sk")]] = true
		return nil
	})
	return out, err
}

type importJobItem struct {
	header
	ID            string    `dynamodbav:"id"`
	Status        string    `dynamodbav:"status"`
	Region        string    `dynamodbav:"region,omitempty"`
	Columns       []string  `dynamodbav:"columns"`
	ObjectKey     string    `dynamodbav:"object_key"`
	Size          int64     `dynamodbav:"size"`
	CPOffset      int64     `dynamodbav:"cp_offset"`
	CPLine        int       `dynamodbav:"cp_line"`
	Processed     int       `dynamodbav:"processed"`
	Created       int       `dynamodbav:"created"`
	Updated       int       `dynamodbav:"updated"`
	Unchanged     int       `dynamodbav:"unchanged"`
	Rejected      int       `dynamodbav:"rejected"`
	StoredErrors  int       `dynamodbav:"stored_errors"`
	FailureReason string    `dynamodbav:"failure_reason,omitempty"`
	CreatedAt     time.Time `dynamodbav:"created_at"`
	StartedAt     time.Time `dynamodbav:"started_at,omitempty"`
	CompletedAt   time.Time `dynamodbav:"completed_at,omitempty"`
	UpdatedAt     time.Time `dynamodbav:"updated_at"`
}

func (it importJobItem) domain() contacts.ImportJob {
	return contacts.ImportJob{ID: it.ID, AccountID: it.Acct, Status: contacts.ImportStatus(it.Status), Region: it.Region,
		Columns: it.Columns, ObjectKey: it.ObjectKey, Size: it.Size, Checkpoint: contacts.Checkpoint{Offset: it.CPOffset, Line: it.CPLine},
		ImportCounts: contacts.ImportCounts{Processed: it.Processed, Created: it.Created, Updated: it.Updated, Unchanged: it.Unchanged,
			Rejected: it.Rejected}, StoredErrors: it.StoredErrors, FailureReason: it.FailureReason,
		CreatedAt: it.CreatedAt, StartedAt: it.StartedAt, CompletedAt: it.CompletedAt, UpdatedAt: it.UpdatedAt}
}

// importTTL is the job's retention, counted from its creation.
func importTTL(j contacts.ImportJob) int64 {
	return ttlOf(retention.ExpiresAt(retention.ImportJob, j.CreatedAt))
}

func importJobAV(acct, pk string, j contacts.ImportJob) (map[string]types.AttributeValue, error) {
	return marshal(importJobItem{header: header{PK: pk, SK: skImportPfx + j.ID, Type: "import_job", Acct: acct, TTL: importTTL(j)},
		ID: j.ID, Status: string(j.Status), Region: j.Region, Columns: j.Columns, ObjectKey: j.ObjectKey, Size: j.Size,
		CPOffset: j.Checkpoint.Offset, CPLine: j.Checkpoint.Line, Processed: j.Processed, Created: j.Created, Updated: j.Updated,
		Unchanged: j.Unchanged, Rejected: j.Rejected, StoredErrors: j.StoredErrors, FailureReason: j.FailureReason,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt, UpdatedAt: j.UpdatedAt})
}

// checkpointCond is the condition of every write of a running job.
func checkpointCond(from contacts.Checkpoint) (string, map[string]types.AttributeValue) {
	return "cp_offset = :from", map[string]types.AttributeValue{":from": n(from.Offset)}
}

type importErrorAV struct {
	Line   int    `dynamodbav:"line"`
	Reason string `dynamodbav:"reason"`
}

type importErrorsItem struct {
	header
	Errors []importErrorAV `dynamodbav:"errors"`
}

// CreateImportJob implements contacts.Store.
func (db *DB) CreateImportJob(ctx context.Context, j contacts.ImportJob) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := importJobAV(acct, pk, j)
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "import job "+j.ID)
}

// FindImportJob implements contacts.Store.
func (db *DB) FindImportJob(ctx context.Context, id string) (contacts.ImportJob, error) {
	return findTenant[importJobItem, *importJobItem, contacts.ImportJob](ctx, db, skImportPfx+id, fmt.Sprintf("no import %q", id))
}

// ImportErrors implements contacts.Store.
func (db *DB) ImportErrors(ctx context.Context, id string) ([]contacts.ImportError, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return nil, err
	}
	out := []contacts.ImportError{}
	err = db.queryPrefix(ctx, pk, skImportPfx+id+"#ERR#", func(m map[string]types.AttributeValue) error {
		var it importErrorsItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("decode import errors: %w", err)
		}
		for _, e := range it.Errors {
			out = append(out, contacts.ImportError{Line: e.Line, Reason: e.Reason})
		}
		return nil
	})
	return out, err
}

// SaveImportJob implements contacts.Store.
func (db *DB) SaveImportJob(ctx context.Context, j contacts.ImportJob, from contacts.Checkpoint) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := importJobAV(acct, pk, j)
	if err != nil {
		return err
	}
	cond, vals := checkpointCond(from)
	_, err = db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression: &cond, ExpressionAttributeValues: vals})
	if conditionFailed(err) {
		return fmt.Errorf("save import job %s: %w", j.ID, contacts.ErrCheckpointMoved)
	}
	if err != nil {
		return fmt.Errorf("save import job %s: %w", j.ID, err)
	}
	return nil
}

// importToken identifies one planned import transaction: the same plan
// gets the same token (an SDK retry after a lost response is a no-op), a
// new plan a new one (its contacts have new ids or versions).
func importToken(acct, jobID string, from contacts.Checkpoint, entries []contacts.ImportEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s:%s:%d", acct, jobID, from.Offset)
	for _, e := range entries {
		fmt.Fprintf(h, ":%d", e.Line)
		if e.Write != nil {
			fmt.Fprintf(h, "/%s@%d", e.Write.New.ID, e.Write.New.UpdatedAt.UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:18])
}

// ApplyImport implements contacts.Store: one transaction holds the job
// (conditioned on its checkpoint), the contact changes of as many entries
// as fit in 100 actions, and one item with their rejected lines. The
// request token makes an SDK retry of a committed transaction a no-op.
func (db *DB) ApplyImport(ctx context.Context, from contacts.Checkpoint, entries []contacts.ImportEntry) (int, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, fmt.Errorf("apply import: no entries")
	}
	var t txn
	t.put(txJob, nil, "", nil, &db.table) // the job, filled in below
	var errList []importErrorAV
	taken := 0
	for _, e := range entries {
		var part txn
		if e.Write != nil {
			if err := db.addContactWrite(&part, acct, pk, *e.Write); err != nil {
				return 0, err
			}
		}
		errItem := 0
		if len(errList) > 0 || e.Error != nil {
			errItem = 1
		}
		if taken > 0 && len(t.items)+len(part.items)+errItem > maxTransactItems {
			break
		}
		t.items, t.roles = append(t.items, part.items...), append(t.roles, part.roles...)
		if e.Error != nil {
			errList = append(errList, importErrorAV{Line: e.Error.Line, Reason: e.Error.Reason})
		}
		taken++
	}
	job := entries[taken-1].JobAfter
	item, err := importJobAV(acct, pk, job)
	if err != nil {
		return 0, err
	}
	cond, vals := checkpointCond(from)
	t.items[0].Put.Item, t.items[0].Put.ConditionExpression, t.items[0].Put.ExpressionAttributeValues = item, &cond, vals
	if len(errList) > 0 {
		errItem, err := marshal(importErrorsItem{header: header{PK: pk, SK: importErrSK(job.ID, errList[0].Line), Type: "import_errors",
			Acct: acct, TTL: importTTL(job)}, Errors: errList})
		if err != nil {
			return 0, err
		}
		t.put(txPlain, errItem, "", nil, &db.table)
	}
	role, err := db.runTx(ctx, &t, importToken(acct, job.ID, from, entries[:taken]))
	switch {
	case err == nil:
		return taken, nil
	case role == txJob:
		return 0, fmt.Errorf("apply import %s: %w", job.ID, contacts.ErrCheckpointMoved)
	case role != txPlain:
		return 0, fmt.Errorf("apply import %s: %w", job.ID, errStale)
	}
	return 0, fmt.Errorf("apply import %s: %w", job.ID, err)
}
