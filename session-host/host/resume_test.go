package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatsend/chatsend/session-host/wa/simulator"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// A host died after WhatsApp accepted a message but before recording the
// send. The next holder finds it in sending, sends it again under the same
// WhatsApp id, the server drops the repeat, and the message ends sent: one
// message reached the recipient.
func TestResumesMessageLeftSending(t *testing.T) {
	env := apitest.Simulator(t)
	e := apitest.New(t, app.Tuning{}, env)
	ctx := tenant.With(context.Background(), ids.New(ids.Account))
	ses, err := e.Deps.Sessions.Create(ctx, "resume")
	if err != nil {
		t.Fatal(err)
	}
	// The dead host's state: a paired device, a lease it held (now
	// expired), and the message marked sending.
	simDir := filepath.Join(env["CHATSEND_DEVICE_DIR"], "simulator")
	if err := os.MkdirAll(simDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf(`{"paired":true,"phone":%q,"push_name":"x"}`, simulator.MadeUpPhone(ses.ID))
	if err := os.WriteFile(filepath.Join(simDir, ses.ID+".json"), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := messages.Message{ID: ids.New(ids.Message), SessionID: ses.ID, To: "+4915123456789", Text: "once", Status: messages.StatusQueued,
		History: []messages.Change{{Status: messages.StatusQueued, At: now}}, CreatedAt: now, UpdatedAt: now}
	if err := e.Deps.DB.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deps.DB.AcquireLease(ctx, ses.ID, "dead-host", now.Add(time.Second), now); err != nil {
		t.Fatal(err)
	}
	if err := e.Deps.DB.TransitionFenced(ctx, m, "dead-host", messages.Update{From: []messages.Status{messages.StatusQueued},
		To: messages.StatusSending, At: now}); err != nil {
		t.Fatal(err)
	}
	// WhatsApp (the simulated server) already has it.
	log := fmt.Sprintf("msg %s %s %s\n", messages.WhatsAppID(m.ID), m.To, ses.ID)
	if err := os.WriteFile(filepath.Join(simDir, simulator.ServerLog), []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the dead host's lease expires

	pub := &flakyEvents{}
	startHost(t, e, env, pub)
	apitest.Eventually(t, 15*time.Second, func() string {
		got, err := e.Deps.DB.FindMessage(ctx, m.ID)
		if err != nil {
			return err.Error()
		}
		if got.Status.Rank() < messages.StatusSent.Rank() {
			return "message is " + string(got.Status)
		}
		return ""
	})
	raw, _ := os.ReadFile(filepath.Join(simDir, simulator.ServerLog))
	if n := strings.Count(string(raw), "msg "+messages.WhatsAppID(m.ID)); n != 1 {
		t.Fatalf("server has the message %d times:\n%s", n, raw)
	}
	if s, _ := e.Deps.DB.FindSession(ctx, ses.ID); s.HostID != "events-test" || s.Status != sessions.StatusConnected {
		t.Fatalf("session not taken over: %+v", s)
	}
}
