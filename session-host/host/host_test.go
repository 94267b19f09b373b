package host_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/chatsend/chatsend/session-host/host"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// held returns, for every session, which of the hosts hold it.
func held(hosts ...*host.Host) map[string][]string {
	out := map[string][]string{}
	for _, h := range hosts {
		for _, id := range h.Held() {
			out[id] = append(out[id], h.ID())
		}
	}
	return out
}

// allConnectedOn checks every session is connected, reported by owner (or
// by any of the hosts when owner is nil) per storage and per the hosts.
func allConnectedOn(ctx context.Context, e *apitest.Env, ids []string, hosts []*host.Host, owner *host.Host) string {
	h := held(hosts...)
	for _, id := range ids {
		if len(h[id]) != 1 {
			return fmt.Sprintf("session %s held by %v", id, h[id])
		}
		if owner != nil && h[id][0] != owner.ID() {
			return fmt.Sprintf("session %s held by %s, want %s", id, h[id][0], owner.ID())
		}
		ses, err := e.Deps.DB.FindSession(ctx, id)
		if err != nil {
			return err.Error()
		}
		if ses.Status != sessions.StatusConnected || ses.HostID != h[id][0] {
			return fmt.Sprintf("session %s is %s on %s (held by %s)", id, ses.Status, ses.HostID, h[id][0])
		}
		lease, err := e.Deps.DB.FindLease(ctx, id)
		if err != nil || lease.Owner != h[id][0] {
			return fmt.Sprintf("lease of %s: %+v %v", id, lease, err)
		}
	}
	return ""
}

func TestOwnershipAcrossHosts(t *testing.T) {
	env := apitest.Simulator(t)
	env["CHATSEND_SIM_AUTOSCAN_AFTER"] = "10ms" // every session pairs by itself
	e := apitest.New(t, app.Tuning{}, env)
	ctx := tenant.With(context.Background(), "acct_01m89kngna0ma3mbfxyye997j1")
	const n = 50
	var ids []string
	for i := 0; i < n; i++ {
		ses, err := e.Deps.Sessions.Create(ctx, fmt.Sprintf("line %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ses.ID)
	}
	tune := apitest.FastHost()
	a := e.StartHost(tune)
	b, stopB := e.StartStoppableHost(tune)

	// Two hosts, 50 sessions: each held by exactly one, all connected.
	apitest.Eventually(t, 20*time.Second, func() string { return allConnectedOn(ctx, e, ids, []*host.Host{a, b}, nil) })
	t.Logf("split: %s holds %d, %s holds %d", a.ID(), len(a.Held()), b.ID(), len(b.Held()))

	// Kill A: B owns everything within the lease expiry (plus a claim round).
	killed := time.Now()
	a.Kill()
	apitest.Eventually(t, tune.LeaseTTL+5*time.Second, func() string { return allConnectedOn(ctx, e, ids, []*host.Host{b}, b) })
	took := time.Since(killed)
	t.Logf("takeover of %d sessions after a crash: %s (lease TTL %s)", n, took, tune.LeaseTTL)
	if took > tune.LeaseTTL+5*time.Second { // room for a loaded CI machine
		t.Errorf("takeover took %s, lease TTL is %s", took, tune.LeaseTTL)
	}

	// Restart: B shuts down gracefully (releasing leases), C starts and
	// reconnects every session from its stored login, with no waiting.
	stopB()
	for _, id := range ids {
		if l, _ := e.Deps.DB.FindLease(ctx, id); l.Owner != "" {
			t.Fatalf("lease of %s not released on graceful shutdown: %+v", id, l)
		}
	}
	started := time.Now()
	c := e.StartHost(tune)
	apitest.Eventually(t, tune.LeaseTTL, func() string { return allConnectedOn(ctx, e, ids, []*host.Host{c}, c) })
	t.Logf("restart reconnect of %d sessions: %s", n, time.Since(started))
}

func TestHostCapacityAndHealth(t *testing.T) {
	env := apitest.Simulator(t)
	e := apitest.New(t, app.Tuning{}, env)
	ctx := tenant.With(context.Background(), "acct_01m89kngna0ma3mbfxyye997j2")
	for i := 0; i < 5; i++ {
		if _, err := e.Deps.Sessions.Create(ctx, fmt.Sprintf("s%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	tune := apitest.FastHost()
	tune.MaxSessions = 3
	small := e.StartHost(tune)
	apitest.Eventually(t, 10*time.Second, func() string {
		if n := len(small.Held()); n != 3 {
			return fmt.Sprintf("small host holds %d, want its cap of 3", n)
		}
		return ""
	})
	tune.MaxSessions = 10
	big := e.StartHost(tune)
	apitest.Eventually(t, 10*time.Second, func() string {
		if n := len(big.Held()); n != 2 {
			return fmt.Sprintf("second host holds %d, want the 2 left", n)
		}
		return ""
	})
	counts := small.Counts()
	var statuses []string
	for st, n := range counts {
		statuses = append(statuses, fmt.Sprintf("%s=%d", st, n))
	}
	sort.Strings(statuses)
	if counts[sessions.StatusWaitingForQR]+counts[sessions.StatusPending] != 3 {
		t.Fatalf("counts: %v", statuses)
	}
}
