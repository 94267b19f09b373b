package dynamo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
)

func newContact(phone string, tags ...string) contacts.Contact {
	now := time.Now().UTC()
	return contacts.Contact{ID: ids.New(ids.Contact), Phone: phone, Name: "N", Tags: tags, CreatedAt: now, UpdatedAt: now}
}

func mustCreate(t *testing.T, db *dynamo.DB, ctx context.Context, c contacts.Contact) contacts.Contact {
	t.Helper()
	if err := db.CreateContact(ctx, c); err != nil {
		t.Fatalf("create %s: %v", c.Phone, err)
	}
	return c
}

func TestContactLifecycle(t *testing.T) {
	db := mustDB(t)
	_, ctx := mustAccount(t, db, "con@example.com")
	a := mustCreate(t, db, ctx, newContact("+4915112345601", "vip", "b2b"))
	if err := db.CreateContact(ctx, newContact("+4915112345601")); !errs.Is(err, errs.Conflict) {
		t.Fatalf("duplicate phone: %v, want conflict", err)
	}
	got, err := db.FindContactByID(ctx, a.ID)
	if err != nil || got.Phone != a.Phone || len(got.Tags) != 2 {
		t.Fatalf("find: %v %+v", err, got)
	}

	// A new phone and tags: the old phone is free again, tags move.
	next := got
	next.Phone, next.Tags, next.UpdatedAt = "+4915112345602", []string{"vip", "new"}, got.UpdatedAt.Add(time.Millisecond)
	if err := db.UpdateContact(ctx, got, next); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateContact(ctx, got, next); !errors.Is(err, contacts.ErrStale) {
		t.Fatalf("update from a stale version: %v, want ErrStale", err)
	}
	b := mustCreate(t, db, ctx, newContact("+4915112345601"))
	taken := next
	taken.Phone, taken.UpdatedAt = b.Phone, next.UpdatedAt.Add(time.Millisecond)
	if err := db.UpdateContact(ctx, next, taken); !errs.Is(err, errs.Conflict) || errors.Is(err, contacts.ErrStale) {
		t.Fatalf("update to a taken phone: %v, want conflict", err)
	}
	byPhone, err := db.FindContactsByPhone(ctx, []string{"+4915112345602", b.Phone, "+4915112345699"})
	if err != nil || len(byPhone) != 2 || byPhone[b.Phone].ID != b.ID || byPhone["+4915112345602"].ID != a.ID {
		t.Fatalf("by phone: %v %+v", err, byPhone)
	}
	for tag, want := range map[string]int{"vip": 1, "new": 1, "b2b": 0} {
		p, err := db.ListContacts(ctx, contacts.Filter{Tag: tag})
		if err != nil || len(p.Contacts) != want {
			t.Errorf("tag %s: %v %d contacts, want %d", tag, err, len(p.Contacts), want)
		}
	}

	// Delete frees the phone and the tags.
	if err := db.DeleteContact(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindContactByID(ctx, a.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted contact: %v", err)
	}
	if err := db.DeleteContact(ctx, a.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if p, _ := db.ListContacts(ctx, contacts.Filter{Tag: "vip"}); len(p.Contacts) != 0 {
		t.Fatalf("deleted contact still tagged: %+v", p)
	}
	mustCreate(t, db, ctx, newContact("+4915112345602"))

	// Replacing 50 tags with 50 others needs more than one transaction.
	var t1, t2 []string
	for i := 0; i < 50; i++ {
		t1, t2 = append(t1, fmt.Sprintf("x%02d", i)), append(t2, fmt.Sprintf("y%02d", i))
	}
	c := mustCreate(t, db, ctx, newContact("+4915112345603", t1...))
	n := c
	n.Phone, n.Tags, n.UpdatedAt = "+4915112345604", t2, c.UpdatedAt.Add(time.Millisecond)
	if err := db.UpdateContact(ctx, c, n); err != nil {
		t.Fatalf("replace 50 tags: %v", err)
	}
	if p, _ := db.ListContacts(ctx, contacts.Filter{Tag: "x07"}); len(p.Contacts) != 0 {
		t.Fatalf("old tag still lists the contact")
	}
	if p, _ := db.ListContacts(ctx, contacts.Filter{Tag: "y07"}); len(p.Contacts) != 1 {
		t.Fatalf("new tag does not list the contact")
	}
}

func TestListContactsPagination(t *testing.T) {
	db := mustDB(t)
	_, ctx := mustAccount(t, db, "pages@example.com")
	var want []string
	for i := 0; i < 120; i++ {
		tags := []string{"all"}
		if i%3 == 0 {
			tags = append(tags, "third")
		}
		want = append(want, mustCreate(t, db, ctx, newContact(fmt.Sprintf("+49151123%05d", i), tags...)).ID)
	}
	collect := func(f contacts.Filter) ([]string, int) {
		var got []string
		pages := 0
		for {
			p, err := db.ListContacts(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range p.Contacts {
				got = append(got, c.ID)
			}
			if p.Next == "" {
				return got, pages
			}
			f.Cursor = p.Next
		}
	}
	slices.Sort(want) // ids order by creation time to the millisecond
	got, pages := collect(contacts.Filter{Limit: 50})
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("all contacts in %d pages, order kept: %v", pages, fmt.Sprint(got) == fmt.Sprint(want))
	}
	got, pages = collect(contacts.Filter{Tag: "third", Limit: 7})
	if len(got) != 40 || !slices.IsSorted(got) || pages != 6 {
		t.Fatalf("tag pages: %d contacts in %d pages", len(got), pages)
	}
	got, pages = collect(contacts.Filter{Limit: 120})
	if len(got) != 120 || pages != 1 {
		t.Fatalf("exact page: %d in %d pages (want no empty last page)", len(got), pages)
	}

	// A cursor stays valid when its contact is deleted between pages.
	p, _ := db.ListContacts(ctx, contacts.Filter{Limit: 10})
	if err := db.DeleteContact(ctx, p.Contacts[9].ID); err != nil {
		t.Fatal(err)
	}
	p2, err := db.ListContacts(ctx, contacts.Filter{Limit: 10, Cursor: p.Next})
	if err != nil || p2.Contacts[0].ID != want[10] {
		t.Fatalf("page after a deleted cursor: %v %v", err, p2.Contacts[0].ID)
	}
	for _, bad := range []string{"!!", "Q09OIw", p.Next + "x"} {
		if _, err := db.ListContacts(ctx, contacts.Filter{Tag: "third", Cursor: bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("cursor %q: %v, want invalid", bad, err)
		}
	}
}

func TestContactsTenantIsolation(t *testing.T) {
	db := mustDB(t)
	_, ctxA := mustAccount(t, db, "ta@example.com")
	_, ctxB := mustAccount(t, db, "tb@example.com")
	a := mustCreate(t, db, ctxA, newContact("+4915112345601", "vip"))
	mustCreate(t, db, ctxB, newContact("+4915112345601", "vip")) // the same phone in another account is fine
	if _, err := db.FindContactByID(ctxB, a.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("B finds A's contact: %v", err)
	}
	if cs, _ := db.FindContacts(ctxB, []string{a.ID}); len(cs) != 0 {
		t.Fatalf("B batch-reads A's contact")
	}
	if err := db.DeleteContact(ctxB, a.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("B deletes A's contact: %v", err)
	}
	for _, tag := range []string{"", "vip"} {
		p, err := db.ListContacts(ctxB, contacts.Filter{Tag: tag})
		if err != nil || len(p.Contacts) != 1 || p.Contacts[0].ID == a.ID {
			t.Fatalf("B lists %+v", p)
		}
	}
	if _, err := db.ListContacts(context.Background(), contacts.Filter{}); !errs.Is(err, errs.Internal) {
		t.Fatalf("list without tenant: %v", err)
	}
	if _, _, err := db.AddSuppression(ctxA, contacts.Suppression{Phone: a.Phone, Reason: "manual", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Suppressed(ctxB, []string{a.Phone}); s[a.Phone] {
		t.Fatal("A's suppression applies to B")
	}
	if err := db.DeleteSuppression(ctxB, a.Phone); !errs.Is(err, errs.NotFound) {
		t.Fatalf("B lifts A's suppression: %v", err)
	}
}

func TestSuppressionsByHash(t *testing.T) {
	c, set := localtest.MustResources(t)
	db := dynamo.New(c.DynamoDB, set.Main.Name, nil)
	acct, ctx := mustAccount(t, db, "sup@example.com")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := 0; i < 7; i++ {
		_, created, err := db.AddSuppression(ctx, contacts.Suppression{Phone: fmt.Sprintf("+491511234560%d", i), Reason: "opted_out", CreatedAt: now})
		if err != nil || !created {
			t.Fatalf("add: %v %v", created, err)
		}
	}
	s, created, err := db.AddSuppression(ctx, contacts.Suppression{Phone: "+4915112345600", Reason: "manual", CreatedAt: now.Add(time.Hour)})
	if err != nil || created || s.Reason != "opted_out" || !s.CreatedAt.Equal(now) {
		t.Fatalf("add again: %v %v %+v", err, created, s)
	}
	// The key is the hash; the plaintext is an attribute a later erasure can drop.
	sum := sha256.Sum256([]byte("+4915112345600"))
	res, err := c.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &set.Main.Name, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "A#" + acct.ID}, "sk": &types.AttributeValueMemberS{Value: "SUPP#" + hex.EncodeToString(sum[:])}}})
	if err != nil || res.Item == nil || res.Item["acct"].(*types.AttributeValueMemberS).Value != acct.ID || res.Item["ttl"] != nil {
		t.Fatalf("suppression item by hash: %v %v", err, res.Item)
	}
	var all []string
	cursor := ""
	for {
		p, err := db.ListSuppressions(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Suppressions {
			all = append(all, s.Phone)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(all) != 7 {
		t.Fatalf("listed %v", all)
	}
	got, err := db.Suppressed(ctx, []string{"+4915112345603", "+4915112345699", "+4915112345603"})
	if err != nil || len(got) != 2 || !got["+4915112345603"] || got["+4915112345699"] {
		t.Fatalf("suppressed: %v %v", err, got)
	}
	if err := db.DeleteSuppression(ctx, "+4915112345603"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSuppression(ctx, "+4915112345603"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestApplyImportIsAtomicWithTheCheckpoint(t *testing.T) {
	db := mustDB(t)
	acct, ctx := mustAccount(t, db, "imp@example.com")
	now := time.Now().UTC()
	job := contacts.ImportJob{ID: ids.New(contacts.ImportIDPrefix), AccountID: acct.ID, Status: contacts.ImportRunning,
		Columns: []string{"phone", "tags"}, ObjectKey: "k", Size: 1000, Checkpoint: contacts.Checkpoint{Offset: 12, Line: 2},
		CreatedAt: now, UpdatedAt: now}
	if err := db.CreateImportJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	// 29 new contacts with 3 tags each (5 actions each) and a rejected
	// row: 19 contacts fit one transaction beside the job and the error
	// item, so 20 entries are written.
	var entries []contacts.ImportEntry
	j := job
	for i := 0; i < 30; i++ {
		j.Processed++
		j.Checkpoint = contacts.Checkpoint{Offset: int64(20 + i), Line: 3 + i}
		e := contacts.ImportEntry{Line: 2 + i, JobAfter: j}
		if i == 3 {
			j.Rejected++
			j.StoredErrors++
			e.JobAfter, e.Error = j, &contacts.ImportError{Line: 2 + i, Reason: "bad"}
		} else {
			j.Created++
			e.JobAfter = j
			c := newContact(fmt.Sprintf("+49151123456%02d", i), "a", "b", "c")
			c.AccountID = acct.ID
			e.Write = &contacts.ContactWrite{New: c}
		}
		entries = append(entries, e)
	}
	if _, err := db.ApplyImport(ctx, contacts.Checkpoint{Offset: 11, Line: 2}, entries); !errors.Is(err, contacts.ErrCheckpointMoved) {
		t.Fatalf("apply from a wrong checkpoint: %v", err)
	}
	if got, _ := db.FindContactsByPhone(ctx, []string{"+4915112345600"}); len(got) != 0 {
		t.Fatal("a failed apply wrote a contact")
	}
	n, err := db.ApplyImport(ctx, job.Checkpoint, entries)
	if err != nil || n != 20 {
		t.Fatalf("apply: %d %v, want 20 entries", n, err)
	}
	stored, err := db.FindImportJob(ctx, job.ID)
	if err != nil || stored.Checkpoint != entries[19].JobAfter.Checkpoint || stored.Created != 19 || stored.Rejected != 1 {
		t.Fatalf("job after apply: %v %+v", err, stored)
	}
	if e, err := db.ImportErrors(ctx, job.ID); err != nil || len(e) != 1 || e[0].Line != 5 {
		t.Fatalf("errors: %v %+v", err, e)
	}
	// The same entries again (a redelivered job that read stale state)
	// cannot apply twice.
	if _, err := db.ApplyImport(ctx, job.Checkpoint, entries); !errors.Is(err, contacts.ErrCheckpointMoved) {
		t.Fatalf("second apply: %v", err)
	}
	// A row whose phone another writer took meanwhile is stale.
	rest := entries[20:]
	mustCreate(t, db, ctx, newContact(rest[0].Write.New.Phone))
	if _, err := db.ApplyImport(ctx, stored.Checkpoint, rest); !errors.Is(err, contacts.ErrStale) {
		t.Fatalf("apply over a taken phone: %v", err)
	}
}
