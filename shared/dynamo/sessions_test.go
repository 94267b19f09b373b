package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

func TestLeaseFencing(t *testing.T) {
	db := mustDB(t)
	ctx := tenant.With(context.Background(), ids.New(ids.Account))
	now := time.Now()
	s := sessions.Session{ID: ids.New(ids.Session), Label: "x", Backend: "simulator", Desired: sessions.DesiredActive,
		Generation: 1, Status: sessions.StatusPending, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	free, err := db.ClaimableLeases(ctx, now, 100)
	if err != nil || len(free) != 1 || free[0].SessionID != s.ID {
		t.Fatalf("new session's lease not claimable: %v %+v", err, free)
	}

	if _, err := db.AcquireLease(ctx, s.ID, "h1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AcquireLease(ctx, s.ID, "h2", now.Add(time.Minute), now); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second host acquired a held lease: %v", err)
	}
	if _, err := db.RenewLease(ctx, s.ID, "h2", now.Add(time.Minute)); !errs.Is(err, errs.Conflict) {
		t.Fatalf("non-owner renewed: %v", err)
	}
	if free, _ := db.ClaimableLeases(ctx, now, 100); len(free) != 0 {
		t.Fatalf("held lease listed as claimable: %+v", free)
	}
	obs := sessions.Observation{Status: sessions.StatusConnected, HostID: "h2", At: now}
	if err := db.ObserveSession(ctx, s.ID, obs); !errs.Is(err, errs.Conflict) {
		t.Fatalf("non-owner wrote session state: %v", err)
	}
	obs.HostID = "h1"
	if err := db.ObserveSession(ctx, s.ID, obs); err != nil {
		t.Fatalf("owner write: %v", err)
	}

	// After expiry another host may take it, and the old owner is fenced.
	later := now.Add(2 * time.Minute)
	if free, _ := db.ClaimableLeases(ctx, later, 100); len(free) != 1 {
		t.Fatalf("expired lease not claimable: %+v", free)
	}
	if _, err := db.AcquireLease(ctx, s.ID, "h2", later.Add(time.Minute), later); err != nil {
		t.Fatalf("takeover after expiry: %v", err)
	}
	if _, err := db.RenewLease(ctx, s.ID, "h1", later.Add(time.Minute)); !errs.Is(err, errs.Conflict) {
		t.Fatalf("old owner renewed after takeover: %v", err)
	}
	obs.HostID = "h1"
	if err := db.ObserveSession(ctx, s.ID, obs); !errs.Is(err, errs.Conflict) {
		t.Fatalf("old owner wrote after takeover: %v", err)
	}
	// Release frees it at once; releasing someone else's lease does nothing.
	if err := db.ReleaseLease(ctx, s.ID, "h1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := db.FindLease(ctx, s.ID); l.Owner != "h2" {
		t.Fatalf("non-owner release changed the lease: %+v", l)
	}
	if err := db.ReleaseLease(ctx, s.ID, "h2"); err != nil {
		t.Fatal(err)
	}
	if free, _ := db.ClaimableLeases(ctx, now, 100); len(free) != 1 {
		t.Fatalf("released lease not claimable: %+v", free)
	}

	// Deleting the session removes the lease; acquiring then is NotFound.
	if err := db.DeleteSessionData(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AcquireLease(ctx, s.ID, "h1", later, now); !errs.Is(err, errs.NotFound) {
		t.Fatalf("acquire of deleted session: %v", err)
	}
	if _, err := db.FindSession(ctx, s.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("session survived delete: %v", err)
	}
}

func TestSessionTenantScope(t *testing.T) {
	db := mustDB(t)
	a := tenant.With(context.Background(), ids.New(ids.Account))
	b := tenant.With(context.Background(), ids.New(ids.Account))
	now := time.Now()
	s := sessions.Session{ID: ids.New(ids.Session), Label: "x", Desired: sessions.DesiredActive, Generation: 1, Status: sessions.StatusPending, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSession(a, s); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindSession(b, s.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("B found A's session: %v", err)
	}
	if _, err := db.SetDesired(b, s.ID, sessions.DesiredDeleted, now); !errs.Is(err, errs.NotFound) {
		t.Fatalf("B changed A's session: %v", err)
	}
	if l, _ := db.ListSessions(b); len(l) != 0 {
		t.Fatalf("B lists A's sessions: %+v", l)
	}
	got, err := db.SetDesired(a, s.ID, sessions.DesiredLoggedOut, now)
	if err != nil || got.Generation != 2 || got.Desired != sessions.DesiredLoggedOut {
		t.Fatalf("set desired: %v %+v", err, got)
	}
}
