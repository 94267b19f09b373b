package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatsend/chatsend/session-host/host"
	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/simulator"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// flakyEvents refuses the first failN message.received events, then
// records every event.
type flakyEvents struct {
	mu     sync.Mutex
	failN  int
	failed int
	got    []events.Event
}

func (f *flakyEvents) Publish(_ context.Context, e events.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Type == events.MessageReceived && f.failed < f.failN {
		f.failed++
		return errors.New("events queue unavailable")
	}
	f.got = append(f.got, e)
	return nil
}

func (f *flakyEvents) find(typ, contains string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.got {
		if e.Type == typ && strings.Contains(string(e.Data), contains) {
			n++
		}
	}
	return n
}

func startHost(t *testing.T, e *apitest.Env, env map[string]string, pub events.Publisher) (*host.Host, wa.Backend) {
	t.Helper()
	backend, err := simulator.New(simulator.Options{Dir: filepath.Join(env["CHATSEND_DEVICE_DIR"], "simulator"),
		AutoScanAfter: 10 * time.Millisecond, RedeliverAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	control, _ := e.Deps.Config.Resources.QueueByID(resources.QueueControl)
	tune := apitest.FastHost()
	tune.ID = "events-test"
	tune.InboxPrefix = resources.HostInboxPrefix(e.Deps.Config.Stage)
	h := host.New(tune, host.Deps{Store: e.Deps.DB, Backend: backend, Control: queue.New(e.Clients.SQS, control.Name),
		Inboxes: host.SQSInboxes{Client: e.Clients.SQS}, Events: pub, Logger: logging.Discard()})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.Done() })
	return h, backend
}

func TestEventSwitchAndDurableAcks(t *testing.T) {
	env := apitest.Simulator(t)
	e := apitest.New(t, app.Tuning{}, env)
	pub := &flakyEvents{failN: 3}
	h, _ := startHost(t, e, env, pub)
	ctx := tenant.With(context.Background(), "acct_01m89kngna0ma3mbfxyye997j3")
	ses, err := e.Deps.Sessions.Create(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	status := func(want sessions.Status, reason string) {
		t.Helper()
		apitest.Eventually(t, 10*time.Second, func() string {
			got, err := e.Deps.DB.FindSession(ctx, ses.ID)
			if err != nil {
				return err.Error()
			}
			if got.Status != want || got.StatusReason != reason {
				return "session is " + string(got.Status) + "/" + got.StatusReason + ", want " + string(want) + "/" + reason
			}
			return ""
		})
	}
	status(sessions.StatusConnected, "")
	sim := func() *simulator.Client {
		c, _ := h.Client(ses.ID).(*simulator.Client)
		if c == nil {
			t.Fatal("no simulated client")
		}
		return c
	}

	// An inbound message whose publication fails is not acknowledged: the
	// backend delivers it again until it is durable. Exactly once here.
	if err := sim().Inbound("+4915123456789", "durable please"); err != nil {
		t.Fatal(err)
	}
	apitest.Eventually(t, 5*time.Second, func() string {
		if pub.find(events.MessageReceived, "durable please") != 1 {
			return "inbound message not published after the refusals"
		}
		return ""
	})
	if pub.failed != 3 {
		t.Fatalf("publisher refused %d times, want 3", pub.failed)
	}

	// Connection events become statuses with machine-readable reasons.
	sim().Inject(wa.Disconnected{Reason: wa.ReasonNetwork})
	status(sessions.StatusDisconnected, wa.ReasonNetwork)
	sim().Inject(wa.Connected{Phone: simulator.MadeUpPhone(ses.ID), PushName: "x"})
	status(sessions.StatusConnected, "")
	sim().Inject(wa.KeepAliveTimeout{ErrorCount: 3})
	status(sessions.StatusConnected, wa.ReasonKeepAliveTimeout)
	sim().Inject(wa.KeepAliveRestored{})
	status(sessions.StatusConnected, "")
	sim().Inject(wa.TemporaryBan{Code: "101", Expires: time.Hour})
	status(sessions.StatusDisconnected, wa.ReasonTemporarilyBanned)
	sim().Inject(wa.Connected{Phone: simulator.MadeUpPhone(ses.ID), PushName: "x"})
	status(sessions.StatusConnected, "")

	// Stream replaced: the host lets go of the connection instead of fighting.
	sim().Inject(wa.StreamReplaced{})
	status(sessions.StatusDisconnected, wa.ReasonStreamReplaced)
	apitest.Eventually(t, 5*time.Second, func() string {
		if h.Client(ses.ID) != nil {
			return "client still connected after stream replaced"
		}
		return ""
	})
	time.Sleep(2500 * time.Millisecond) // a resync must not reconnect it
	status(sessions.StatusDisconnected, wa.ReasonStreamReplaced)

	// A restart reconnects; a logout from the phone deletes the keys.
	if _, err := e.Deps.Sessions.Restart(ctx, ses.ID); err != nil {
		t.Fatal(err)
	}
	status(sessions.StatusConnected, "")
	sim().Inject(wa.LoggedOut{Reason: wa.ReasonLoggedOutByPhone})
	status(sessions.StatusLoggedOut, wa.ReasonLoggedOutByPhone)
	apitest.Eventually(t, 5*time.Second, func() string {
		if _, err := os.Stat(filepath.Join(env["CHATSEND_DEVICE_DIR"], "simulator", ses.ID+".json")); !os.IsNotExist(err) {
			return "device store not deleted after logout by phone"
		}
		return ""
	})
	// Every status change was published as a session.status event.
	for _, want := range []string{`"status":"connected"`, wa.ReasonNetwork, wa.ReasonTemporarilyBanned, wa.ReasonStreamReplaced, wa.ReasonLoggedOutByPhone} {
		if pub.find(events.SessionStatus, want) == 0 {
			t.Errorf("no session.status event with %s", want)
		}
	}
}
