// Package localtest gives tests a real AWS emulator: one embedded kumo per
// test binary, and a freshly provisioned, uniquely named resource set per
// test so tests never see each other's items.
package localtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/resources"
)

var (
	once    sync.Once
	clients awsclient.Clients
	initErr error
)

// MustClients returns AWS clients pointed at the shared emulator.
func MustClients(tb testing.TB) awsclient.Clients {
	tb.Helper()
	once.Do(func() {
		var e *local.Emulator
		e, initErr = local.StartEmulator("")
		if initErr != nil {
			return
		}
		e.UseEnv()
		clients, initErr = awsclient.Load(context.Background())
	})
	if initErr != nil {
		tb.Fatalf("start AWS emulator: %v", initErr)
	}
	return clients
}

// MustResources provisions a new resource set under a random stage name and
// returns it with the clients. When the test ends, its table is audited
// (AuditTable): every item any test writes must follow its retention class.
func MustResources(tb testing.TB) (awsclient.Clients, resources.Set) {
	tb.Helper()
	return MustResourcesAt(tb, time.Now)
}

// MustResourcesAt is MustResources for a test that runs the product on its
// own clock: the retention audit measures TTLs against that clock.
func MustResourcesAt(tb testing.TB, now func() time.Time) (awsclient.Clients, resources.Set) {
	tb.Helper()
	c := MustClients(tb)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	set := resources.For("t" + hex.EncodeToString(b))
	if err := local.Provision(context.Background(), c, set); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	auditAtCleanup(tb, c.DynamoDB, set.Main.Name, now)
	return c, set
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
