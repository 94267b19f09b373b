package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
	"github.com/chatsend/chatsend/shared/sessions"
)

var (
	_ billing.Store       = (*DB)(nil)
	_ billing.UsageSource = (*DB)(nil)
)

// Billing keys (docs/data-model.md, "Billing").
const (
	skBilling        = "BILLING"
	pfxCustomer      = "CUSTOMER#"
	skCustomer       = "CUSTOMER"
	pfxStripeEvent   = "STRIPEEVT#"
	skStripeEvent    = "EVENT"
	skInvoicePfx     = "INVOICE#"
	skUsagePfx       = "USAGE#"
	skCampaignQuota  = "CMPQ#"
	gsi1BillingState = "BILLING"
	typeBillingState = "billing_state"
	// typeBillingRecord items survive account erasure (the legal remainder).
	typeBillingRecord = "billing_record"
)

type billingStateItem struct {
	header
	GSI1PK             string     `dynamodbav:"gsi1pk"`
	GSI1SK             string     `dynamodbav:"gsi1sk"`
	CustomerID         string     `dynamodbav:"customer_id"`
	SubscriptionID     string     `dynamodbav:"subscription_id"`
	Status             string     `dynamodbav:"status"`
	PlanID             string     `dynamodbav:"plan"`
	PriceID            string     `dynamodbav:"price_id"`
	CurrentPeriodStart *time.Time `dynamodbav:"current_period_start,omitempty"`
	CurrentPeriodEnd   *time.Time `dynamodbav:"current_period_end,omitempty"`
	CancelAtPeriodEnd  bool       `dynamodbav:"cancel_at_period_end"`
	PastDueSince       *time.Time `dynamodbav:"past_due_since,omitempty"`
	Version            int64      `dynamodbav:"version"`
	Transitions        int64      `dynamodbav:"transitions"`
	UpdatedAt          time.Time  `dynamodbav:"updated_at"`
}

func (it billingStateItem) domain() billing.State {
	return billing.State{AccountID: it.Acct, CustomerID: it.CustomerID, SubscriptionID: it.SubscriptionID,
		Status: billing.Status(it.Status), PlanID: it.PlanID, PriceID: it.PriceID, CurrentPeriodStart: deref(it.CurrentPeriodStart),
		CurrentPeriodEnd: deref(it.CurrentPeriodEnd), CancelAtPeriodEnd: it.CancelAtPeriodEnd, PastDueSince: deref(it.PastDueSince),
		Version: it.Version, Transitions: it.Transitions, UpdatedAt: it.UpdatedAt}
}

// FindBillingState implements billing.Store.
func (db *DB) FindBillingState(ctx context.Context) (billing.State, error) {
	return findTenant[billingStateItem, *billingStateItem, billing.State](ctx, db, skBilling, "no billing state")
}

// AttachCustomer implements billing.Store: one transaction sets the
// state's customer id unless one is set, and writes the global mapping.
func (db *DB) AttachCustomer(ctx context.Context, customerID string, at time.Time) (string, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return "", err
	}
	t, err := attributevalue.Marshal(at)
	if err != nil {
		return "", fmt.Errorf("encode time: %w", err)
	}
	mapping, err := marshal(header{PK: pfxCustomer + customerID, SK: skCustomer, Type: "billing_customer", Acct: acct})
	if err != nil {
		return "", err
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &db.table, Key: key(pk, skBilling),
			UpdateExpression: aws.String("SET customer_id = :c, #type = :type, acct = :acct, gsi1pk = :g, gsi1sk = :acct, " +
				"updated_at = :t, version = if_not_exists(version, :zero), #st = if_not_exists(#st, :none)"),
			ConditionExpression:      aws.String("attribute_not_exists(customer_id) OR customer_id = :empty"),
			ExpressionAttributeNames: map[string]string{"#type": "type", "#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": s(customerID), ":type": s(typeBillingState), ":acct": s(acct),
				":g": s(gsi1BillingState), ":t": t, ":zero": n(0), ":none": s(string(billing.StatusNone)), ":empty": s("")}}},
		{Put: &types.Put{TableName: &db.table, Item: mapping,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR acct = :acct"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":acct": s(acct)}}},
	}})
	if cancelReasons(err) != nil {
		st, ferr := db.FindBillingState(ctx)
		if ferr != nil {
			return "", fmt.Errorf("attach customer: %w (then %v)", err, ferr)
		}
		if st.CustomerID == "" {
			return "", fmt.Errorf("attach customer: %w", err)
		}
		return st.CustomerID, nil // another request attached one first
	}
	if err != nil {
		return "", fmt.Errorf("attach customer: %w", err)
	}
	return customerID, nil
}

// SaveBillingState implements billing.Store: newer version wins.
func (db *DB) SaveBillingState(ctx context.Context, st billing.State) (bool, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return false, err
	}
	item, err := marshal(billingStateItem{header: header{PK: pk, SK: skBilling, Type: typeBillingState, Acct: acct},
		GSI1PK: gsi1BillingState, GSI1SK: acct, CustomerID: st.CustomerID, SubscriptionID: st.SubscriptionID,
		Status: string(st.Status), PlanID: st.PlanID, PriceID: st.PriceID, CurrentPeriodStart: ref(st.CurrentPeriodStart),
		CurrentPeriodEnd: ref(st.CurrentPeriodEnd), CancelAtPeriodEnd: st.CancelAtPeriodEnd, PastDueSince: ref(st.PastDueSince),
		Version: st.Version, Transitions: st.Transitions, UpdatedAt: st.UpdatedAt})
	if err != nil {
		return false, err
	}
	_, err = db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(version) OR version < :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(st.Version)}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("save billing state: %w", err)
	}
	return true, nil
}

// DetachCustomer implements billing.Store.
func (db *DB) DetachCustomer(ctx context.Context, customerID string) error {
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pfxCustomer+customerID, skCustomer)}); err != nil {
		return fmt.Errorf("delete customer mapping: %w", err)
	}
	return nil
}

// AccountByCustomer implements billing.Store.
func (db *DB) AccountByCustomer(ctx context.Context, customerID string) (string, error) {
	var h header
	if err := db.get(ctx, pfxCustomer+customerID, skCustomer, true, &h, "unknown stripe customer"); err != nil {
		return "", err
	}
	return h.Acct, nil
}

// EachBillingState implements billing.Store through gsi1 (BILLING).
func (db *DB) EachBillingState(ctx context.Context, f func(billing.State) error) error {
	return eachItem(ctx, db, &dynamodb.QueryInput{TableName: &db.table, IndexName: aws.String(resources.IndexGSI1),
		KeyConditionExpression:    aws.String("gsi1pk = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": s(gsi1BillingState)}},
		"billing states", func(it billingStateItem) error { return f(it.domain()) })
}

// DeleteBillingState implements billing.Store.
func (db *DB) DeleteBillingState(ctx context.Context) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	st, err := db.FindBillingState(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.CustomerID != "" {
		if err := db.DetachCustomer(ctx, st.CustomerID); err != nil {
			return err
		}
	}
	if _, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pk, skBilling)}); err != nil {
		return fmt.Errorf("delete billing state: %w", err)
	}
	return nil
}

type billingRecordItem struct {
	header
	InvoiceID      string    `dynamodbav:"invoice_id"`
	Number         string    `dynamodbav:"number"`
	Status         string    `dynamodbav:"status"`
	Currency       string    `dynamodbav:"currency"`
	AmountDue      int64     `dynamodbav:"amount_due"`
	AmountPaid     int64     `dynamodbav:"amount_paid"`
	AmountRefunded int64     `dynamodbav:"amount_refunded"`
	PeriodStart    time.Time `dynamodbav:"period_start"`
	PeriodEnd      time.Time `dynamodbav:"period_end"`
	Created        time.Time `dynamodbav:"created"`
}

func (it billingRecordItem) domain() billing.Record {
	return billing.Record{InvoiceID: it.InvoiceID, Number: it.Number, Status: it.Status, Currency: it.Currency, AmountDue: it.AmountDue,
		AmountPaid: it.AmountPaid, AmountRefunded: it.AmountRefunded, PeriodStart: it.PeriodStart, PeriodEnd: it.PeriodEnd, Created: it.Created}
}

// PutBillingRecord implements billing.Store. The record's TTL runs from
// the invoice's creation (class billing_record, 10 years); a later event
// about the same invoice refreshes it.
func (db *DB) PutBillingRecord(ctx context.Context, r billing.Record) error {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	from := r.Created
	if from.IsZero() {
		from = db.now()
	}
	item, err := marshal(billingRecordItem{header: header{PK: pk, SK: skInvoicePfx + r.InvoiceID, Type: typeBillingRecord, Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.BillingRecord, from))}, InvoiceID: r.InvoiceID, Number: r.Number, Status: r.Status,
		Currency: r.Currency, AmountDue: r.AmountDue, AmountPaid: r.AmountPaid, AmountRefunded: r.AmountRefunded,
		PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, Created: r.Created})
	if err != nil {
		return err
	}
	if _, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: item}); err != nil {
		return fmt.Errorf("put billing record %s: %w", r.InvoiceID, err)
	}
	return nil
}

// ListBillingRecords implements billing.Store.
func (db *DB) ListBillingRecords(ctx context.Context) ([]billing.Record, error) {
	return listTenant[billingRecordItem, *billingRecordItem, billing.Record](ctx, db, skInvoicePfx, nil)
}

// ClaimStripeEvent implements billing.Store: a conditional put that wins
// when the event is new or its previous claim's lease has run out.
func (db *DB) ClaimStripeEvent(ctx context.Context, id, typ, owner string, until time.Time) (billing.Claim, error) {
	now := db.now()
	_, err := db.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table,
		Item: map[string]types.AttributeValue{"pk": s(pfxStripeEvent + id), "sk": s(skStripeEvent), "type": s("stripe_event"),
			"event_type": s(typ), "state": s("processing"), "owner": s(owner), "lease_until": n(until.UnixMilli()),
			"ttl": n(ttlOf(retention.ExpiresAt(retention.PaymentEvent, now)))},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR (#state = :processing AND lease_until < :now)"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":processing": s("processing"), ":now": n(now.UnixMilli())}})
	if err == nil {
		return billing.Claim{Won: true}, nil
	}
	if !conditionFailed(err) {
		return billing.Claim{}, fmt.Errorf("claim stripe event %s: %w", id, err)
	}
	var it struct {
		header
		State string `dynamodbav:"state"`
	}
	if err := db.get(ctx, pfxStripeEvent+id, skStripeEvent, true, &it, "claim vanished"); err != nil {
		if errs.Is(err, errs.NotFound) {
			return billing.Claim{}, nil // abandoned just now: the sender retries
		}
		return billing.Claim{}, err
	}
	return billing.Claim{Done: it.State == "done"}, nil
}

// FinishStripeEvent implements billing.Store.
func (db *DB) FinishStripeEvent(ctx context.Context, id, owner, accountID string) error {
	expr := "SET #state = :done REMOVE lease_until"
	vals := map[string]types.AttributeValue{":done": s("done"), ":me": s(owner)}
	if accountID != "" {
		// acct lets account erasure find (and delete) the record.
		expr = "SET #state = :done, acct = :acct REMOVE lease_until"
		vals[":acct"] = s(accountID)
	}
	_, err := db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pfxStripeEvent+id, skStripeEvent),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("#owner = :me"),
		ExpressionAttributeNames: map[string]string{"#state": "state", "#owner": "owner"}, ExpressionAttributeValues: vals})
	if err != nil {
		return fmt.Errorf("finish stripe event %s: %w", id, err)
	}
	return nil
}

// AbandonStripeEvent implements billing.Store.
func (db *DB) AbandonStripeEvent(ctx context.Context, id, owner string) error {
	_, err := db.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: key(pfxStripeEvent+id, skStripeEvent),
		ConditionExpression: aws.String("#owner = :me"), ExpressionAttributeNames: map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": s(owner)}})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("abandon stripe event %s: %w", id, err)
	}
	return nil
}

// reserveUpdate is the conditional ADD of one reservation.
func (db *DB) reserveUpdate(acct, pk string, r billing.Reservation) *types.Update {
	return &types.Update{TableName: &db.table, Key: key(pk, skUsagePfx+r.Key),
		UpdateExpression:         aws.String("ADD used :n SET #ttl = :ttl, #type = :type, acct = :acct"),
		ConditionExpression:      aws.String("attribute_not_exists(used) OR used <= :max"),
		ExpressionAttributeNames: map[string]string{"#ttl": "ttl", "#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": n(r.N), ":max": n(r.Limit - r.N),
			":ttl": n(ttlOf(retention.ExpiresAt(retention.UsageCounter, db.now()))), ":type": s("usage_counter"), ":acct": s(acct)}}
}

// Reserve implements billing.Store.
func (db *DB) Reserve(ctx context.Context, r billing.Reservation) (bool, int64, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return false, 0, err
	}
	if r.N > r.Limit {
		used, err := db.Used(ctx, r.Key)
		return false, used, err
	}
	u := db.reserveUpdate(acct, pk, r)
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues})
	if conditionFailed(err) {
		used, err := db.Used(ctx, r.Key)
		return false, used, err
	}
	if err != nil {
		return false, 0, fmt.Errorf("reserve %s: %w", r.Key, err)
	}
	return true, 0, nil
}

// Release implements billing.Store.
func (db *DB) Release(ctx context.Context, k string, amount int64) error {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return err
	}
	_, err = db.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &db.table, Key: key(pk, skUsagePfx+k),
		UpdateExpression: aws.String("ADD used :neg"), ConditionExpression: aws.String("used >= :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":neg": n(-amount), ":n": n(amount)}})
	if conditionFailed(err) {
		return nil // never below zero
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", k, err)
	}
	return nil
}

type usageItem struct {
	header
	Used     int64  `dynamodbav:"used"`
	Key      string `dynamodbav:"key"`
	Reserved int64  `dynamodbav:"reserved"`
	Settled  bool   `dynamodbav:"settled"`
	// SettledUsed is what the last settlement counted as used; a later
	// settlement with less used (messages skipped by a cancel) gives back
	// the difference.
	SettledUsed int64 `dynamodbav:"settled_used"`
}

// Used implements billing.Store.
func (db *DB) Used(ctx context.Context, k string) (int64, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	var it usageItem
	err = db.get(ctx, pk, skUsagePfx+k, true, &it, "no usage")
	if errs.Is(err, errs.NotFound) {
		return 0, nil
	}
	return it.Used, err
}

// ReserveCampaign implements billing.Store: the counters' conditional ADDs
// and the campaign's reservation record in one transaction.
func (db *DB) ReserveCampaign(ctx context.Context, campaignID string, rs []billing.Reservation) (int, error) {
	acct, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	var tx []types.TransactWriteItem
	for i, r := range rs {
		if r.N > r.Limit {
			return i, nil
		}
		tx = append(tx, types.TransactWriteItem{Update: db.reserveUpdate(acct, pk, r)})
	}
	rec, err := marshal(usageItem{header: header{PK: pk, SK: skCampaignQuota + campaignID, Type: "campaign_quota", Acct: acct,
		TTL: ttlOf(retention.ExpiresAt(retention.UsageCounter, db.now()))}, Key: rs[0].Key, Reserved: rs[0].N})
	if err != nil {
		return 0, err
	}
	tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &db.table, Item: rec, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if reasons := cancelReasons(err); reasons != nil {
		for i, r := range reasons {
			if r == "ConditionalCheckFailed" {
				if i == len(rs) {
					return -1, nil // reserved already by an earlier start
				}
				return i, nil
			}
		}
		return 0, fmt.Errorf("reserve campaign %s: %w", campaignID, err)
	}
	if err != nil {
		return 0, fmt.Errorf("reserve campaign %s: %w", campaignID, err)
	}
	return -1, nil
}

// SettleCampaign implements billing.Store: marking the reservation
// settled and releasing the rest happen in one transaction, so exactly once.
func (db *DB) SettleCampaign(ctx context.Context, campaignID string, used int64) (int64, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	var it usageItem
	err = db.get(ctx, pk, skCampaignQuota+campaignID, true, &it, "no reservation")
	if errs.Is(err, errs.NotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// The first settlement releases reserved − used; a later one (after
	// a cancel skipped more) releases what used dropped since. The
	// condition on the previous state makes each release happen once.
	prev, cond := it.Reserved, "settled = :f"
	vals := map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":f": &types.AttributeValueMemberBOOL{Value: false}}
	if it.Settled {
		prev, cond = it.SettledUsed, "settled_used = :prev"
		vals = map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":prev": n(prev)}
	}
	release := prev - used
	if release <= 0 && it.Settled {
		return 0, nil // nothing more to give back (used never grows back)
	}
	release = max(release, 0)
	vals[":u"] = n(min(used, prev))
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: &db.table, Key: key(pk, skCampaignQuota+campaignID),
		UpdateExpression: aws.String("SET settled = :t, settled_used = :u"), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: vals}}}
	if release > 0 {
		tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: &db.table, Key: key(pk, skUsagePfx+it.Key),
			UpdateExpression: aws.String("ADD used :neg"), ExpressionAttributeValues: map[string]types.AttributeValue{":neg": n(-release)}}})
	}
	_, err = db.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if cancelReasons(err) != nil {
		return 0, nil // settled concurrently
	}
	if err != nil {
		return 0, fmt.Errorf("settle campaign %s: %w", campaignID, err)
	}
	return release, nil
}

// countPrefix counts the live items of partition pk whose sort key starts
// with prefix (a COUNT query: no item data is returned, but every item is
// read, so it costs like a full read of the range).
func (db *DB) countPrefix(ctx context.Context, pk, prefix string) (int64, error) {
	p := dynamodb.NewQueryPaginator(db.client, &dynamodb.QueryInput{
		TableName:                 &db.table,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(prefix), ":now": n(db.now().Unix())},
		Select:                    types.SelectCount,
	})
	var total int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count %s/%s*: %w", pk, prefix, err)
		}
		total += int64(page.Count)
	}
	return total, nil
}

// CountSessions implements billing.UsageSource: sessions not deleted.
func (db *DB) CountSessions(ctx context.Context) (int64, error) {
	list, err := db.ListSessions(ctx)
	if err != nil {
		return 0, err
	}
	var c int64
	for _, ses := range list {
		if ses.Desired != sessions.DesiredDeleted {
			c++
		}
	}
	return c, nil
}

// CountContacts implements billing.UsageSource.
func (db *DB) CountContacts(ctx context.Context) (int64, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	return db.countPrefix(ctx, pk, "CON#")
}

// CountContactsByTag counts the contacts with a tag (their tag items).
func (db *DB) CountContactsByTag(ctx context.Context, tag string) (int64, error) {
	_, pk, err := tenantPK(ctx)
	if err != nil {
		return 0, err
	}
	return db.countPrefix(ctx, pk, "TAG#"+tag+"#")
}

// CountWebhookEndpoints implements billing.UsageSource.
func (db *DB) CountWebhookEndpoints(ctx context.Context) (int64, error) {
	list, err := db.FindWebhookEndpoints(ctx)
	return int64(len(list)), err
}
