package whatsmeow_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

var (
	ownJID  = types.NewADJID("4915100000001", 0, 7)
	peerPN  = types.NewJID("4915112345678", types.DefaultUserServer)
	peerLID = types.NewJID("187654321098765", types.HiddenUserServer)
)

func textMessage(id string, sender types.JID, text string) *events.Message {
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: sender.ToNonAD(), Sender: sender},
			ID:            id,
			PushName:      "Peer",
			Timestamp:     time.Unix(1_700_000_000, 0),
		},
		Message: &waE2E.Message{Conversation: proto.String(text)},
	}
}

// An unconnected client answers at once, without a network attempt.
func TestNotConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _ := MustBackend(t)
	c := MustOpen(t, b, "ses_offline", (&recorder{}).handle)

	calls := map[string]func() error{
		"Send text": func() error {
			_, err := c.Send(ctx, wa.Outgoing{ID: "3EB0C0FFEE", To: "+4915112345678", Text: "hi"})
			return err
		},
		"Send image": func() error {
			_, err := c.Send(ctx, wa.Outgoing{ID: "3EB0C0FFEF", To: "+4915112345678",
				Media: &wa.Media{Type: "image", Data: []byte("\x89PNG\r\n\x1a\n")}})
			return err
		},
		"PairPhone": func() error {
			_, err := c.PairPhone(ctx, "+4915112345678")
			return err
		},
		"JoinedGroups": func() error {
			_, err := c.JoinedGroups(ctx)
			return err
		},
		"CheckNumbers": func() error {
			_, err := c.CheckNumbers(ctx, []string{"+4915112345678"})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call()
			if !errors.Is(err, wa.ErrNotConnected) {
				t.Errorf("error = %v, want wa.ErrNotConnected", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v, want an immediate answer", d)
			}
		})
	}
}

func TestCheckNumbersEmpty(t *testing.T) {
	b, _ := MustBackend(t)
	c := MustOpen(t, b, "ses_empty", (&recorder{}).handle)
	got, err := c.CheckNumbers(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("CheckNumbers(nil) = %v, %v; want empty, nil", got, err)
	}
	if _, err := c.CheckNumbers(context.Background(), []string{"+4915112345678", "not a phone"}); !errors.Is(err, whatsmeow.ErrInvalidPhone) {
		t.Errorf("CheckNumbers with a bad phone: error = %v, want ErrInvalidPhone", err)
	}
}

func TestSendValidatesBeforeConnecting(t *testing.T) {
	b, _ := MustBackend(t)
	c := MustOpen(t, b, "ses_validate", (&recorder{}).handle)
	ctx := context.Background()
	tests := []struct {
		name    string
		m       wa.Outgoing
		wantErr error
	}{
		{"bad phone", wa.Outgoing{ID: "X1", To: "0151 123", Text: "hi"}, whatsmeow.ErrInvalidPhone},
		{"no id", wa.Outgoing{To: "+4915112345678", Text: "hi"}, nil},
		{"no content", wa.Outgoing{ID: "X2", To: "+4915112345678"}, nil},
		{"unknown media", wa.Outgoing{ID: "X3", To: "+4915112345678", Media: &wa.Media{Type: "gif", Data: []byte{1}}}, nil},
		{"empty media", wa.Outgoing{ID: "X4", To: "+4915112345678", Media: &wa.Media{Type: "image"}}, nil},
		{"audio caption", wa.Outgoing{ID: "X5", To: "+4915112345678", Text: "listen", Media: &wa.Media{Type: "audio", Data: []byte{1}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Send(ctx, tt.m)
			if err == nil || errors.Is(err, wa.ErrNotConnected) {
				t.Fatalf("error = %v, want a validation error", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestPairPhoneWhenPaired(t *testing.T) {
	b, _ := MustBackend(t)
	c := MustOpen(t, b, "ses_paired", (&recorder{}).handle)
	whatsmeow.FakePairing(c, ownJID, "Shop")
	if !c.Paired() {
		t.Fatal("Paired() = false after pairing")
	}
	if _, err := c.PairPhone(context.Background(), "+4915100000001"); !errors.Is(err, wa.ErrAlreadyPaired) {
		t.Errorf("PairPhone error = %v, want wa.ErrAlreadyPaired", err)
	}
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	b, _ := MustBackend(t)

	unpaired := MustOpen(t, b, "ses_logout_unpaired", (&recorder{}).handle)
	if err := unpaired.Logout(ctx); err != nil {
		t.Errorf("Logout of unpaired client: %v", err)
	}

	// Paired but offline: WhatsApp cannot be told, the login is cleared
	// locally.
	offline := MustOpen(t, b, "ses_logout_offline", (&recorder{}).handle)
	whatsmeow.FakePairing(offline, ownJID, "Shop")
	if err := offline.Logout(ctx); err != nil {
		t.Fatalf("Logout of offline client: %v", err)
	}
	if offline.Paired() {
		t.Error("Paired() = true after Logout")
	}
}

// The handler registered with whatsmeow reports the Handler's outcome:
// whatsmeow acknowledges a message only on true.
func TestHandlerSuccessStatus(t *testing.T) {
	b, _ := MustBackend(t)
	msg := textMessage("3EB0AA", peerPN, "hello")

	failing := &recorder{err: errors.New("queue unavailable")}
	c := MustOpen(t, b, "ses_fail", failing.handle)
	if whatsmeow.HandleEvent(c, msg) {
		t.Error("handler error: got ack (true), want false")
	}

	ok := &recorder{}
	c = MustOpen(t, b, "ses_ok", ok.handle)
	if !whatsmeow.HandleEvent(c, msg) {
		t.Error("handler success: got false, want true")
	}
	want := wa.Message{ID: "3EB0AA", From: "+4915112345678", PushName: "Peer", Chat: "+4915112345678",
		Text: "hello", At: time.Unix(1_700_000_000, 0)}
	if got := ok.got(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("handler got %#v, want [%#v]", got, want)
	}

	// Ignored events are acknowledged without calling the Handler.
	if !whatsmeow.HandleEvent(c, &events.HistorySync{}) {
		t.Error("ignored event: got false, want true")
	}
	if n := len(ok.got()); n != 1 {
		t.Errorf("Handler called %d times, want 1", n)
	}

	// A panicking Handler must not lead to an ack either.
	c = MustOpen(t, b, "ses_panic", func(context.Context, wa.Event) error { panic("boom") })
	if whatsmeow.HandleEvent(c, msg) {
		t.Error("handler panic: got true, want false")
	}
}

// Connected carries the account from the device store.
func TestConnectedReadsStore(t *testing.T) {
	b, _ := MustBackend(t)
	rec := &recorder{}
	c := MustOpen(t, b, "ses_connected", rec.handle)
	whatsmeow.FakePairing(c, ownJID, "Shop")
	whatsmeow.HandleEvent(c, &events.Connected{})
	want := wa.Connected{Phone: "+4915100000001", PushName: "Shop"}
	if got := rec.got(); len(got) != 1 || got[0] != want {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// A sender known only by LID is resolved through the LID map of the real
// device store, which survives reopening the session.
func TestLIDSenderResolvedThroughStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := whatsmeow.New(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := MustOpen(t, b, "ses_lid", (&recorder{}).handle)
	if err := whatsmeow.PutLIDMapping(ctx, c, peerLID, peerPN); err != nil {
		t.Fatalf("PutLIDMapping: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = whatsmeow.New(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	rec := &recorder{}
	c = MustOpen(t, b, "ses_lid", rec.handle)
	lidDevice := peerLID
	lidDevice.Device = 3
	if !whatsmeow.HandleEvent(c, textMessage("3EB0LID", lidDevice, "via lid")) {
		t.Fatal("HandleEvent = false")
	}
	got := rec.got()
	if len(got) != 1 {
		t.Fatalf("got %d events, want 1", len(got))
	}
	m := got[0].(wa.Message)
	if m.From != "+4915112345678" || m.Chat != "+4915112345678" {
		t.Errorf("From, Chat = %q, %q; want the phone behind the LID", m.From, m.Chat)
	}
}

// Handler calls never overlap, whichever goroutines whatsmeow dispatches on.
func TestHandlerCallsAreSerialized(t *testing.T) {
	b, _ := MustBackend(t)
	var inside, overlaps, calls atomic.Int32
	c := MustOpen(t, b, "ses_serial", func(context.Context, wa.Event) error {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(time.Millisecond)
		calls.Add(1)
		inside.Add(-1)
		return nil
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { whatsmeow.HandleEvent(c, &events.KeepAliveRestored{}) })
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Errorf("%d overlapping Handler calls", overlaps.Load())
	}
	if calls.Load() != 20 {
		t.Errorf("%d Handler calls, want 20", calls.Load())
	}
}
