package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
)

var _ campaigns.Store = (*DB)(nil)

const (
	skCampaignPfx = "CMP#"
	// pfxSessionCampaigns indexes a session's campaigns by status, so the
	// session host finds the running ones (its send lanes) in one query.
	pfxSessionCampaigns = "SESCMP#"
)

type campaignItem struct {
	header
	GSI1PK       string             `dynamodbav:"gsi1pk"`
	GSI1SK       string             `dynamodbav:"gsi1sk"`
	ID           string             `dynamodbav:"id"`
	Name         string             `dynamodbav:"name"`
	SessionID    string             `dynamodbav:"session_id"`
	Template     string             `dynamodbav:"template"`
	Audience     campaigns.Audience `dynamodbav:"audience"`
	ScheduleAt   *time.Time         `dynamodbav:"schedule_at,omitempty"`
	Pacing       campaigns.Pacing   `dynamodbav:"pacing"`
	Status       string             `dynamodbav:"status"`
	StatusReason string             `dynamodbav:"status_reason"`
	FanoutDone   bool               `dynamodbav:"fanout_done"`
	FanoutCursor string             `dynamodbav:"fanout_cursor"`
	NTotal       int64              `dynamodbav:"n_total"`
	NQueued      int64              `dynamodbav:"n_queued"`
	NSending     int64              `dynamodbav:"n_sending"`
	NSent        int64              `dynamodbav:"n_sent"`
	NDelivered   int64              `dynamodbav:"n_delivered"`
	NRead        int64              `dynamodbav:"n_read"`
	NFailed      int64              `dynamodbav:"n_failed"`
	NSkipped     int64              `dynamodbav:"n_skipped"`
	CreatedAt    time.Time          `dynamodbav:"created_at"`
	UpdatedAt    time.Time          `dynamodbav:"updated_at"`
	StartedAt    *time.Time         `dynamodbav:"started_at,omitempty"`
	CompletedAt  *time.Time         `dynamodbav:"completed_at,omitempty"`
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func ref(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (it campaignItem) domain() campaigns.Campaign {
	return campaigns.Campaign{ID: it.ID, AccountID: it.Acct, Name: it.Name, SessionID: it.SessionID, Template: it.Template,
		Audience: it.Audience, ScheduleAt: deref(it.ScheduleAt), Pacing: it.Pacing, Status: campaigns.Status(it.Status),
		StatusReason: it.StatusReason, FanoutDone: it.FanoutDone, FanoutCursor: it.FanoutCursor,
		Counts: campaigns.Counts{Total: it.NTotal, Queued: it.NQueued, Sending: it.NSending, Sent: it.NSent,
			Delivered: it.NDelivered, Read: it.NRead, Failed: it.NFailed, Skipped: it.NSkipped},
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, StartedAt: deref(it.StartedAt), CompletedAt: deref(it.CompletedAt)}
}

func sessionCampaignKey(status campaigns.Status, id string) string { return string(status) + "#" + id }

// CreateCampaign implements campaigns.Store.
func (db *DB) CreateCampaign(ctx context.Context, c campaigns.Campaign) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	item, err := marshal(campaignItem{header: header{PK: pk, SK: skCampaignPfx + c.ID, Type: "campaign", Acct: acct},
		GSI1PK: pfxSessionCampaigns + c.SessionID, GSI1SK: sessionCampaignKey(c.Status, c.ID),
		ID: c.ID, Name: c.Name, SessionID: c.SessionID, Template: c.Template, Audience: c.Audience, ScheduleAt: ref(c.ScheduleAt),
		Pacing: c.Pacing, Status: string(c.Status), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	if err != nil {
		return err
	}
	return db.putNew(ctx, item, "campaign "+c.ID)
}

// FindCampaign implements campaigns.Store.
func (db *DB) FindCampaign(ctx context.Context, id string) (campaigns.Campaign, error) {
	return findTenant[campaignItem, *campaignItem, campaigns.Campaign](ctx, db, skCampaignPfx+id, fmt.Sprintf("no campaign %q", id))
}

// ListCampaigns implements campaigns.Store.
func (db *DB) ListCampaigns(ctx context.Context) ([]campaigns.Campaign, error) {
	return listTenant[campaignItem, *campaignItem, campaigns.Campaign](ctx, db, skCampaignPfx, nil)
}

// SetCampaignStatus implements campaigns.Store.
func (db *DB) SetCampaignStatus(ctx context.Context, id string, from []campaigns.Status, to campaigns.Status, reason string, at time.Time) (campaigns.Campaign, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return campaigns.Campaign{}, err
	}
	t, err := attributevalue.Marshal(at)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode time: %w", err)
	}
	vals := map[string]types.AttributeValue{":to": s(string(to)), ":r": s(reason), ":t": t, ":sk": s(sessionCampaignKey(to, id))}
	cond := "attribute_exists(pk) AND #st IN ("
	for i, f := range from {
		k := fmt.Sprintf(":f%d", i)
		vals[k] = s(string(f))
		if i > 0 {
			cond += ", "
		}
		cond += k
	}
	expr := "SET #st = :to, status_reason = :r, updated_at = :t, gsi1sk = :sk"
	switch to {
	case campaigns.StatusRunning, campaigns.StatusScheduled:
		expr += ", started_at = if_not_exists(started_at, :t)"
	case campaigns.StatusCompleted, campaigns.StatusCancelled:
		expr += ", completed_at = :t"
	}
	res, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skCampaignPfx+id),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond + ")"),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: vals,
		ReturnValues: types.ReturnValueAllNew})
	if conditionFailed(err) {
		if _, ferr := db.FindCampaign(ctx, id); ferr != nil {
			return campaigns.Campaign{}, ferr
		}
		return campaigns.Campaign{}, errs.E(errs.Conflict, "campaign %s cannot become %s now", id, to)
	}
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("set campaign %s status: %w", id, err)
	}
	var it campaignItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return campaigns.Campaign{}, fmt.Errorf("decode campaign: %w", err)
	}
	return it.domain(), nil
}

// AddCampaignMessages implements campaigns.Store. Messages go in groups of
// 24 (three items each — metadata, body, recipient — plus the counter
// update: 73 of a transaction's 100)
// with "must not exist" conditions; a group that collides with messages a
// previous run stored is retried one message at a time, so nothing is
// stored or counted twice.
func (db *DB) AddCampaignMessages(ctx context.Context, campaignID string, ms []messages.Message) (int, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	added := 0
	for start := 0; start < len(ms); start += 24 {
		group := ms[start:min(start+24, len(ms))]
		n, err := db.addMessages(ctx, acct, pk, campaignID, group)
		if errs.Is(err, errs.Conflict) {
			for _, m := range group {
				one, err := db.addMessages(ctx, acct, pk, campaignID, []messages.Message{m})
				if err != nil && !errs.Is(err, errs.Conflict) {
					return added, err
				}
				added += one
			}
			continue
		}
		if err != nil {
			return added, err
		}
		added += n
	}
	return added, nil
}

func (db *DB) addMessages(ctx context.Context, acct, pk, campaignID string, ms []messages.Message) (int, error) {
	var tx []types.TransactWriteItem
	counts := map[string]int64{}
	for _, m := range ms {
		items, err := db.messageItems(acct, m)
		if err != nil {
			return 0, err
		}
		tx = append(tx, db.putNewItems(items)...)
		counts["n_"+string(m.Status)]++
	}
	names := map[string]string{"#total": "n_total"}
	vals := map[string]types.AttributeValue{":total": n(int64(len(ms)))}
	expr := "ADD #total :total"
	i := 0
	for attr, c := range counts {
		k := fmt.Sprintf("c%d", i)
		names["#"+k], vals[":"+k] = attr, n(c)
		expr += fmt.Sprintf(", #%s :%s", k, k)
		i++
	}
	tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: &db.table, Key: key(pk, skCampaignPfx+campaignID),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
	_, err := db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if cancelReasons(err) != nil {
		return 0, errs.E(errs.Conflict, "some messages exist already")
	}
	if err != nil {
		return 0, fmt.Errorf("add campaign messages: %w", err)
	}
	return len(ms), nil
}

// SaveFanout implements campaigns.Store.
func (db *DB) SaveFanout(ctx context.Context, id, cursor string, done bool) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skCampaignPfx+id),
		UpdateExpression:    aws.String("SET fanout_cursor = :c, fanout_done = :d"),
		ConditionExpression: aws.String("attribute_exists(pk) AND fanout_done = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": s(cursor), ":d": &types.AttributeValueMemberBOOL{Value: done},
			":f": &types.AttributeValueMemberBOOL{Value: false}}})
	if conditionFailed(err) {
		return nil // another run finished the fan-out already
	}
	if err != nil {
		return fmt.Errorf("save fan-out %s: %w", id, err)
	}
	return nil
}

// CompleteIfDone implements campaigns.Store.
func (db *DB) CompleteIfDone(ctx context.Context, id string, at time.Time) (bool, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return false, err
	}
	t, err := attributevalue.Marshal(at)
	if err != nil {
		return false, fmt.Errorf("encode time: %w", err)
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skCampaignPfx+id),
		UpdateExpression:         aws.String("SET #st = :done, completed_at = :t, updated_at = :t, gsi1sk = :sk"),
		ConditionExpression:      aws.String("#st = :running AND fanout_done = :true AND n_queued = :zero AND n_sending = :zero"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":done": s(string(campaigns.StatusCompleted)), ":t": t,
			":sk": s(sessionCampaignKey(campaigns.StatusCompleted, id)), ":running": s(string(campaigns.StatusRunning)),
			":true": &types.AttributeValueMemberBOOL{Value: true}, ":zero": n(0)}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("complete campaign %s: %w", id, err)
	}
	return true, nil
}

// RunningCampaigns lists the running campaigns of a session (its send
// lanes), across accounts' partitions through the session index.
func (db *DB) RunningCampaigns(ctx context.Context, sessionID string) ([]campaigns.Campaign, error) {
	var out []campaigns.Campaign
	err := eachItem(ctx, db, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression: aws.String("gsi1pk = :p AND begins_with(gsi1sk, :running)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pfxSessionCampaigns + sessionID),
			":running": s(string(campaigns.StatusRunning) + "#")}},
		"running campaigns of "+sessionID, func(it campaignItem) error { out = append(out, it.domain()); return nil })
	return out, err
}

// CountDailySend counts one campaign send of a session on a local day
// ("2026-11-25") if fewer than limit were counted; false when the cap is
// reached. Counters expire after a few days.
func (db *DB) CountDailySend(ctx context.Context, sessionID, day string, limit int) (bool, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return false, err
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, "PACE#"+sessionID+"#"+day),
		UpdateExpression:         aws.String("ADD #c :one SET #ttl = :ttl, #type = :type, acct = :acct"),
		ConditionExpression:      aws.String("attribute_not_exists(#c) OR #c < :limit"),
		ExpressionAttributeNames: map[string]string{"#c": "count", "#ttl": "ttl", "#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit)),
			":ttl": n(ttlOf(retention.ExpiresAt(retention.PacingCounter, db.now()))), ":type": s("pacing_counter"), ":acct": s(acct)}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("count daily send: %w", err)
	}
	return true, nil
}
