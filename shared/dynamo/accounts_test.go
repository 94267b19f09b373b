package dynamo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/tenant"
)

func mustDB(t *testing.T) *dynamo.DB {
	t.Helper()
	c, set := localtest.MustResources(t)
	return dynamo.New(c.DynamoDB, set.Main.Name, nil)
}

func mustAccount(t *testing.T, db *dynamo.DB, email string) (accounts.Account, context.Context) {
	t.Helper()
	now := time.Now().UTC()
	a := accounts.Account{ID: ids.New(ids.Account), Name: "A", Email: email, TimeZone: "UTC", CreatedAt: now, UpdatedAt: now}
	u := accounts.User{ID: ids.New(ids.User), AccountID: a.ID, Email: email, Name: "A", PasswordHash: "h", CreatedAt: now}
	a.OwnerUserID = u.ID
	if err := db.CreateAccount(context.Background(), a, u); err != nil {
		t.Fatalf("create account: %v", err)
	}
	return a, tenant.With(context.Background(), a.ID)
}

func TestCreateAccountEmailUnique(t *testing.T) {
	db := mustDB(t)
	mustAccount(t, db, "a@example.com")
	now := time.Now()
	err := db.CreateAccount(context.Background(), accounts.Account{ID: ids.New(ids.Account), Email: "a@example.com", CreatedAt: now, UpdatedAt: now},
		accounts.User{ID: ids.New(ids.User), Email: "a@example.com"})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("second account with same email: got %v, want conflict", err)
	}
}

func TestTenantQueriesNeedTenant(t *testing.T) {
	db := mustDB(t)
	mustAccount(t, db, "b@example.com")
	if _, err := db.FindAccount(context.Background()); !errs.Is(err, errs.Internal) {
		t.Fatalf("FindAccount without tenant: got %v, want internal", err)
	}
	if _, err := db.ListAPIKeys(context.Background()); err == nil {
		t.Fatal("ListAPIKeys without tenant succeeded")
	}
}

func TestUpdateAccountEmailMoves(t *testing.T) {
	db := mustDB(t)
	a, ctx := mustAccount(t, db, "old@example.com")
	_, _ = mustAccount(t, db, "taken@example.com")
	taken := "taken@example.com"
	if _, err := db.UpdateAccount(ctx, accounts.AccountUpdate{Email: &taken}, time.Now()); !errs.Is(err, errs.Conflict) {
		t.Fatalf("email taken: got %v, want conflict", err)
	}
	nw := "new@example.com"
	got, err := db.UpdateAccount(ctx, accounts.AccountUpdate{Email: &nw}, time.Now())
	if err != nil || got.Email != nw {
		t.Fatalf("update email: %v %+v", err, got)
	}
	if _, err := db.FindUserByEmail(context.Background(), "old@example.com"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("old email still resolves: %v", err)
	}
	u, err := db.FindUserByEmail(context.Background(), nw)
	if err != nil || u.AccountID != a.ID || u.Email != nw {
		t.Fatalf("new email: %v %+v", err, u)
	}
}

func TestConcurrentAccountUpdatesAllLand(t *testing.T) {
	db := mustDB(t)
	_, ctx := mustAccount(t, db, "c@example.com")
	var wg sync.WaitGroup
	name, tz := "Renamed", "Europe/Berlin"
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = db.UpdateAccount(ctx, accounts.AccountUpdate{Name: &name}, time.Now()) }()
	go func() {
		defer wg.Done()
		_, _ = db.UpdateAccount(ctx, accounts.AccountUpdate{TimeZone: &tz}, time.Now())
	}()
	wg.Wait()
	got, err := db.FindAccount(ctx)
	if err != nil || got.Name != name || got.TimeZone != tz {
		t.Fatalf("lost update: %v %+v", err, got)
	}
}

func TestAPIKeyLifecycleAndIsolation(t *testing.T) {
	db := mustDB(t)
	a, ctxA := mustAccount(t, db, "k1@example.com")
	_, ctxB := mustAccount(t, db, "k2@example.com")
	k := accounts.APIKey{ID: ids.New(ids.APIKey), Name: "ci", Scope: accounts.ScopeRead, Prefix: "cs_test_abcd",
		Hash: accounts.HashSecret("s1"), CreatedAt: time.Now().UTC()}
	if err := db.CreateAPIKey(ctxA, k); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindAPIKeyByHash(context.Background(), k.Hash)
	if err != nil || got.AccountID != a.ID || got.Scope != accounts.ScopeRead {
		t.Fatalf("find by hash: %v %+v", err, got)
	}
	if keys, err := db.ListAPIKeys(ctxB); err != nil || len(keys) != 0 {
		t.Fatalf("tenant B sees A's keys: %v %v", err, keys)
	}
	if err := db.RevokeAPIKey(ctxB, k.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("tenant B revokes A's key: %v", err)
	}
	if err := db.TouchAPIKey(ctxA, k.ID, k.Hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := db.ListAPIKeys(ctxA)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
		t.Fatalf("list: %v %+v", err, keys)
	}
	if err := db.RevokeAPIKey(ctxA, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindAPIKeyByHash(context.Background(), k.Hash); !errs.Is(err, errs.NotFound) {
		t.Fatalf("revoked key still found: %v", err)
	}
	if err := db.TouchAPIKey(ctxA, k.ID, k.Hash, time.Now()); !errs.Is(err, errs.NotFound) {
		t.Fatalf("touch resurrected revoked key: %v", err)
	}
}

func TestExpiredLoginIsAbsent(t *testing.T) {
	db := mustDB(t)
	a, _ := mustAccount(t, db, "l@example.com")
	now := time.Now().UTC()
	ls := accounts.LoginSession{TokenHash: "h1", AccountID: a.ID, UserID: "u", CreatedAt: now.Add(-time.Hour),
		LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Second)}
	if err := db.CreateLoginSession(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindLoginSession(context.Background(), "h1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("expired login visible: %v", err)
	}
}

func TestRateLimitWindow(t *testing.T) {
	db := mustDB(t)
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		ok, retry, err := db.Hit(ctx, "k", 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if want := i <= 3; ok != want {
			t.Fatalf("hit %d: allowed=%v want %v", i, ok, want)
		}
		if !ok && retry <= 0 {
			t.Fatalf("hit %d: no retry-after", i)
		}
	}
}
