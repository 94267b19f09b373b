package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
)

var _ messages.Store = (*DB)(nil)

const (
	skMsgPfx  = "MSG#"
	skIdemPfx = "IDEM#"
	// pfxDispatch keys a session's dispatch index: the messages still to
	// send (queued, or sending when a host died mid-send), oldest first.
	pfxDispatch = "Q#"
)

type messageItem struct {
	header
	GSI1PK     string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK     string `dynamodbav:"gsi1sk,omitempty"`
	ID         string `dynamodbav:"id"`
	SessionID  string `dynamodbav:"session_id"`
	CampaignID string `dynamodbav:"campaign_id,omitempty"`
	ContactID  string `dynamodbav:"contact_id,omitempty"`
	// To is the recipient in clear only while the message waits to be sent
	// (the dispatch index projects it to the sender); it is removed when
	// the message leaves the index. ToHash stays for the metadata's whole
	// retention; the clear number is kept for display in a separate
	// recipient item of the shorter recipient_phone class.
	To     string `dynamodbav:"to,omitempty"`
	ToHash string `dynamodbav:"to_hash"`
	Status string `dynamodbav:"status"`
	Reason string `dynamodbav:"reason,omitempty"`
	// Times holds at_<status>: when the message last entered each status.
	// (One attribute per status, set with a plain SET: it works the same
	// on DynamoDB and emulators that lack list_append.)
	AtQueued  *time.Time `dynamodbav:"at_queued,omitempty"`
	AtSending *time.Time `dynamodbav:"at_sending,omitempty"`
	AtSent    *time.Time `dynamodbav:"at_sent,omitempty"`
	AtDeliv   *time.Time `dynamodbav:"at_delivered,omitempty"`
	AtRead    *time.Time `dynamodbav:"at_read,omitempty"`
	AtFailed  *time.Time `dynamodbav:"at_failed,omitempty"`
	AtSkipped *time.Time `dynamodbav:"at_skipped,omitempty"`
	CreatedAt time.Time  `dynamodbav:"created_at"`
	UpdatedAt time.Time  `dynamodbav:"updated_at"`
}

// slots maps each status to its timestamp attribute.
func (it *messageItem) slots() map[messages.Status]**time.Time {
	return map[messages.Status]**time.Time{
		messages.StatusQueued: &it.AtQueued, messages.StatusSending: &it.AtSending, messages.StatusSent: &it.AtSent,
		messages.StatusDelivered: &it.AtDeliv, messages.StatusRead: &it.AtRead, messages.StatusFailed: &it.AtFailed,
		messages.StatusSkipped: &it.AtSkipped,
	}
}

// history rebuilds the status history from the timestamps, in order.
func (it messageItem) history() []messages.Change {
	var out []messages.Change
	for st, at := range it.slots() {
		if *at != nil {
			c := messages.Change{Status: st, At: **at}
			if st == messages.Status(it.Status) {
				c.Reason = it.Reason
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Status.Rank() != out[j].Status.Rank() {
			return out[i].Status.Rank() < out[j].Status.Rank()
		}
		return out[i].At.Before(out[j].At)
	})
	return out
}

// messageRecipientItem holds a message's recipient in clear for the
// recipient_phone retention (90 days); after it only to_hash remains.
type messageRecipientItem struct {
	header
	To string `dynamodbav:"to"`
}

type messageBodyItem struct {
	header
	Text  string          `dynamodbav:"text,omitempty"`
	Media *messages.Media `dynamodbav:"media,omitempty"`
}

// dispatchLane orders a session's queue: single messages before campaign
// messages, each campaign in its own lane.
func dispatchLane(m messages.Message) string {
	if m.CampaignID == "" {
		return messages.SingleLane + m.ID
	}
	return "1" + m.CampaignID + "#" + m.ID
}

func (it messageItem) domain() messages.Message {
	return messages.Message{ID: it.ID, AccountID: it.Acct, SessionID: it.SessionID, CampaignID: it.CampaignID,
		ContactID: it.ContactID, To: it.To, Status: messages.Status(it.Status), Reason: it.Reason,
		History: it.history(), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// Sort-key suffixes of a message's side items.
const (
	skBodySfx      = "#BODY"
	skRecipientSfx = "#TO"
)

// messageItems returns the items of a new message: metadata, body and
// recipient.
func (db *DB) messageItems(acct string, m messages.Message) ([]map[string]types.AttributeValue, error) {
	pk := pfxAccount + acct
	it := messageItem{header: header{PK: pk, SK: skMsgPfx + m.ID, Type: "message", Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.MessageMetadata, m.CreatedAt))},
		ID: m.ID, SessionID: m.SessionID, CampaignID: m.CampaignID, ContactID: m.ContactID, ToHash: phone.Hash(m.To),
		Status: string(m.Status), Reason: m.Reason, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	slots := it.slots()
	for _, c := range m.History {
		at := c.At
		*slots[c.Status] = &at
	}
	if m.Status == messages.StatusQueued {
		it.GSI1PK, it.GSI1SK = pfxDispatch+m.SessionID, dispatchLane(m)
		it.To = m.To
	}
	out := make([]map[string]types.AttributeValue, 0, 3)
	for _, v := range []any{it,
		messageBodyItem{header: header{PK: pk, SK: skMsgPfx + m.ID + skBodySfx, Type: "message_body", Acct: acct,
			TTL: ttlOf(retention.ExpiresAt(retention.MessageBody, m.CreatedAt))}, Text: m.Text, Media: m.Media},
		messageRecipientItem{header: header{PK: pk, SK: skMsgPfx + m.ID + skRecipientSfx, Type: "message_recipient", Acct: acct,
			TTL: ttlOf(retention.ExpiresAt(retention.RecipientPhone, m.CreatedAt))}, To: m.To},
	} {
		item, err := marshal(v)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// putNewItems returns "must not exist" puts of items.
func (db *DB) putNewItems(items []map[string]types.AttributeValue) []types.TransactWriteItem {
	tx := make([]types.TransactWriteItem, 0, len(items))
	for _, item := range items {
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &db.table, Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	return tx
}

func idemSK(key string) string {
	sum := sha256.Sum256([]byte(key))
	return skIdemPfx + hex.EncodeToString(sum[:])
}

type idemItem struct {
	header
	RequestHash string `dynamodbav:"request_hash"`
	MessageID   string `dynamodbav:"message_id"`
}

// CreateMessage implements messages.Store.
func (db *DB) CreateMessage(ctx context.Context, m messages.Message, idem *messages.Idempotency) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	items, err := db.messageItems(acct, m)
	if err != nil {
		return err
	}
	tx := db.putNewItems(items)
	if idem != nil {
		it, err := marshal(idemItem{header: header{PK: pk, SK: idemSK(idem.Key), Type: "idempotency_key", Acct: acct,
			TTL: ttlOf(retention.ExpiresAt(retention.IdempotencyKey, m.CreatedAt))}, RequestHash: idem.RequestHash, MessageID: idem.MessageID})
		if err != nil {
			return err
		}
		// An expired key may still linger before the TTL sweep: overwrite it.
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &db.table, Item: it,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR #ttl < :now"),
			ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(db.now().Unix())}}})
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if cancelReasons(err) != nil {
		return errs.E(errs.Conflict, "message or idempotency key exists")
	}
	if err != nil {
		return fmt.Errorf("create message %s: %w", m.ID, err)
	}
	return nil
}

// FindIdempotency implements messages.Store.
func (db *DB) FindIdempotency(ctx context.Context, key string) (messages.Idempotency, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return messages.Idempotency{}, err
	}
	var it idemItem
	if err := db.get(ctx, pk, idemSK(key), true, &it, "unknown idempotency key"); err != nil {
		return messages.Idempotency{}, err
	}
	return messages.Idempotency{Key: key, RequestHash: it.RequestHash, MessageID: it.MessageID}, nil
}

// FindMessage implements messages.Store: metadata and body in one query.
func (db *DB) FindMessage(ctx context.Context, id string) (messages.Message, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return messages.Message{}, err
	}
	var m messages.Message
	found := false
	err = db.queryPrefix(ctx, pk, skMsgPfx+id, func(item map[string]types.AttributeValue) error {
		switch sk := item["sk"].(*types.AttributeValueMemberS).Value; sk {
		case skMsgPfx + id:
			var it messageItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fmt.Errorf("decode message: %w", err)
			}
			side := m
			m = it.domain()
			m.Text, m.Media = side.Text, side.Media
			if m.To == "" {
				m.To = side.To
			}
			found = true
		case skMsgPfx + id + skRecipientSfx:
			var it messageRecipientItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fmt.Errorf("decode message recipient: %w", err)
			}
			if m.To == "" {
				m.To = it.To
			}
		case skMsgPfx + id + skBodySfx:
			var it messageBodyItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fmt.Errorf("decode message body: %w", err)
			}
			m.Text, m.Media = it.Text, it.Media
		}
		return nil
	})
	if err != nil {
		return messages.Message{}, err
	}
	if !found {
		return messages.Message{}, errs.E(errs.NotFound, "no message %q", id)
	}
	return m, nil
}

// ListMessages implements messages.Store: newest first, filtered, with an
// opaque cursor (the last returned message's key).
func (db *DB) ListMessages(ctx context.Context, f messages.Filter) (messages.Page, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return messages.Page{}, err
	}
	// Recipient items pass the filter too: they sort just before their
	// message (newest first) and give it its number in clear.
	filter := []string{"#type = :message"}
	vals := map[string]types.AttributeValue{":pk": s(pk), ":p": s(skMsgPfx), ":message": s("message"),
		":recipient": s("message_recipient"), ":now": n(db.now().Unix())}
	names := map[string]string{"#type": "type", "#ttl": "ttl"}
	toHash := ""
	if f.To != "" {
		toHash = phone.Hash(f.To)
	}
	for attr, v := range map[string]string{"session_id": f.SessionID, "campaign_id": f.CampaignID, "to_hash": toHash, "status": string(f.Status)} {
		if v != "" {
			names["#"+attr] = attr
			vals[":"+attr] = s(v)
			filter = append(filter, "#"+attr+" = :"+attr)
		}
	}
	filterExpr := "(attribute_not_exists(#ttl) OR #ttl > :now) AND ((" + strings.Join(filter, " AND ") + ") OR #type = :recipient)"
	in := &dynamodb.QueryInput{TableName: &db.table, KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		FilterExpression: aws.String(filterExpr), ExpressionAttributeNames: names,
		ExpressionAttributeValues: vals, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(max(f.Limit*2, 50)))}
	if f.Cursor != "" {
		sk, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || !strings.HasPrefix(string(sk), skMsgPfx) {
			return messages.Page{}, errs.InvalidFields(errs.FieldError{Field: "query.cursor", Message: "cursor is not valid"})
		}
		in.ExclusiveStartKey = key(pk, string(sk))
	}
	var page messages.Page
	recipients := map[string]string{} // message sk → number in clear
	for {
		res, err := db.client.Query(ctx, in)
		if err != nil {
			return messages.Page{}, fmt.Errorf("list messages: %w", err)
		}
		for _, item := range res.Items {
			if t, _ := item["type"].(*types.AttributeValueMemberS); t != nil && t.Value == "message_recipient" {
				var r messageRecipientItem
				if err := attributevalue.UnmarshalMap(item, &r); err != nil {
					return messages.Page{}, fmt.Errorf("decode message recipient: %w", err)
				}
				recipients[strings.TrimSuffix(r.SK, skRecipientSfx)] = r.To
				continue
			}
			var it messageItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return messages.Page{}, fmt.Errorf("decode message: %w", err)
			}
			m := it.domain()
			if m.To == "" {
				m.To = recipients[it.SK]
			}
			delete(recipients, it.SK)
			page.Messages = append(page.Messages, m)
			if len(page.Messages) == f.Limit {
				page.Next = base64.RawURLEncoding.EncodeToString([]byte(it.SK))
				return page, nil
			}
		}
		if res.LastEvaluatedKey == nil {
			return page, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// transitionTx builds the transaction of one transition from the status
// the message has now (cur): the message update, conditioned on cur, and
// for campaign messages the move of one count from cur to u.To.
func (db *DB) transitionTx(pk string, m messageItem, u messages.Update) ([]types.TransactWriteItem, error) {
	at, err := attributevalue.Marshal(u.At)
	if err != nil {
		return nil, fmt.Errorf("encode time: %w", err)
	}
	expr := "SET #st = :to, reason = :r, updated_at = :at, #when = :at"
	names := map[string]string{"#st": "status", "#when": "at_" + string(u.To)}
	if u.To != messages.StatusQueued && u.To != messages.StatusSending {
		// Leaves the dispatch index, and with it the number in clear: the
		// recipient item keeps it for the shorter recipient_phone period.
		expr += " REMOVE gsi1pk, gsi1sk, #rcpt"
		names["#rcpt"] = "to"
	}
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: &db.table, Key: key(pk, skMsgPfx+m.ID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#st = :cur"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":to": s(string(u.To)), ":r": s(u.Reason), ":at": at, ":cur": s(m.Status)}}}}
	if m.CampaignID != "" {
		tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: &db.table, Key: key(pk, skCampaignPfx+m.CampaignID),
			UpdateExpression:          aws.String("ADD #from :minus, #to :one"),
			ExpressionAttributeNames:  map[string]string{"#from": "n_" + m.Status, "#to": "n_" + string(u.To)},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":one": n(1)}}})
	}
	return tx, nil
}

// transition applies u to message id: it reads the current status, checks
// it is one of u.From, and writes the change conditioned on that status
// (retrying if it moved meanwhile). extra items (a lease check) join the
// transaction; a failure of one of them is errs.Conflict with extraMsg.
func (db *DB) transition(ctx context.Context, id string, u messages.Update, extra []types.TransactWriteItem, extraMsg string, known *messages.Message) (messages.Message, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return messages.Message{}, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		var it messageItem
		if known != nil && attempt == 0 {
			// The caller read the message a moment ago; if it moved since,
			// the condition fails and the loop reads it afresh.
			it = messageItem{header: header{Acct: known.AccountID}, ID: known.ID, CampaignID: known.CampaignID, Status: string(known.Status)}
		} else if err := db.get(ctx, pk, skMsgPfx+id, true, &it, fmt.Sprintf("no message %q", id)); err != nil {
			return messages.Message{}, err
		}
		if !slices.Contains(u.From, messages.Status(it.Status)) {
			return messages.Message{}, errs.E(errs.Conflict, "message %s is %s, which cannot become %s", id, it.Status, u.To)
		}
		tx, err := db.transitionTx(pk, it, u)
		if err != nil {
			return messages.Message{}, err
		}
		_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(tx, extra...)})
		if r := cancelReasons(err); r != nil {
			for i := len(tx); i < len(r); i++ {
				if r[i] == "ConditionalCheckFailed" {
					return messages.Message{}, errs.E(errs.Conflict, "%s", extraMsg)
				}
			}
			continue // the status moved under us: read again
		}
		if err != nil {
			return messages.Message{}, fmt.Errorf("transition %s to %s: %w", id, u.To, err)
		}
		m := it.domain()
		m.Status, m.Reason, m.UpdatedAt = u.To, u.Reason, u.At
		m.History = append(m.History, messages.Change{Status: u.To, Reason: u.Reason, At: u.At})
		return m, nil
	}
	return messages.Message{}, errs.E(errs.Conflict, "message %s keeps changing; retry", id)
}

// Transition implements messages.Store.
func (db *DB) Transition(ctx context.Context, id string, u messages.Update) (messages.Message, error) {
	return db.transition(ctx, id, u, nil, "", nil)
}

// TransitionFenced is Transition for the session host: it applies only
// while host holds the session's lease (errs.Conflict otherwise), so a
// host that lost a session can never send or record a send for it. cur is
// the message as the host last read it (its status and campaign).
func (db *DB) TransitionFenced(ctx context.Context, cur messages.Message, host string, u messages.Update) error {
	sessionID := cur.SessionID
	_, err := db.transition(ctx, cur.ID, u, []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{TableName: &db.table,
		Key:                       key(pfxLease+sessionID, "LEASE"),
		ConditionExpression:       aws.String("#o = :h"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": s(host)}}}},
		fmt.Sprintf("host %s no longer holds session %s", host, sessionID), &cur)
	return err
}

// Dispatchable lists up to limit messages of a session's lane (SingleLane,
// campaigns.Lane, or "" for all) still to send — queued, or sending when a
// host stopped mid-send — in dispatch order.
// The index is eventually consistent: callers re-check with a conditional
// transition.
func (db *DB) Dispatchable(ctx context.Context, sessionID, lane string, limit int) ([]messages.Message, error) {
	res, err := db.client.Query(ctx, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :p AND begins_with(gsi1sk, :lane)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pfxDispatch + sessionID), ":lane": s(lane)},
		Limit:                     aws.Int32(int32(limit))})
	if err != nil {
		return nil, fmt.Errorf("dispatchable %s: %w", sessionID, err)
	}
	out := make([]messages.Message, 0, len(res.Items))
	for _, item := range res.Items {
		var it messageItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("decode message: %w", err)
		}
		out = append(out, it.domain())
	}
	return out, nil
}

// FindMessageBody reads only a message's body (text and media): one
// GetItem, for the sender, which has the metadata from the dispatch index.
// A body past its retention is errs.NotFound.
func (db *DB) FindMessageBody(ctx context.Context, id string) (string, *messages.Media, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return "", nil, err
	}
	var it messageBodyItem
	if err := db.get(ctx, pk, skMsgPfx+id+skBodySfx, true, &it, fmt.Sprintf("no body for message %q", id)); err != nil {
		return "", nil, err
	}
	return it.Text, it.Media, nil
}
