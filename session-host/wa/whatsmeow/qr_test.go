package whatsmeow_test

import (
	"errors"
	"testing"
	"time"

	wm "go.mau.fi/whatsmeow"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

// The QR goroutine emits codes with their expiry and the final timeout;
// success and errors are left to the event switch, so they are not emitted
// twice.
func TestQRChannelDrain(t *testing.T) {
	b, _ := MustBackend(t)
	rec := &recorder{}
	c := MustOpen(t, b, "ses_qr", rec.handle)

	items := make(chan wm.QRChannelItem, 8)
	firstCode, done := whatsmeow.DrainQR(c, items)
	select {
	case <-firstCode:
		t.Fatal("firstCode closed before any code")
	default:
	}

	start := time.Now()
	items <- wm.QRChannelItem{Event: wm.QRChannelEventCode, Code: "2@first", Timeout: 60 * time.Second}
	<-firstCode
	items <- wm.QRChannelItem{Event: wm.QRChannelEventCode, Code: "2@second", Timeout: 20 * time.Second}
	items <- wm.QRChannelScannedWithoutMultidevice
	items <- wm.QRChannelItem{Event: wm.QRChannelEventError, Error: errors.New("pair failed")}
	items <- wm.QRChannelSuccess
	items <- wm.QRChannelTimeout
	close(items)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("QR goroutine did not end when the channel closed")
	}

	got := rec.got()
	if len(got) != 3 {
		t.Fatalf("got %d events %#v, want QR, QR, QRTimeout", len(got), got)
	}
	for i, want := range []struct {
		code string
		ttl  time.Duration
	}{{"2@first", 60 * time.Second}, {"2@second", 20 * time.Second}} {
		qr, ok := got[i].(wa.QR)
		if !ok || qr.Code != want.code {
			t.Fatalf("event %d = %#v, want QR %q", i, got[i], want.code)
		}
		if exp := start.Add(want.ttl); qr.ExpiresAt.Before(exp) || qr.ExpiresAt.After(exp.Add(5*time.Second)) {
			t.Errorf("QR %q expires at %v, want about %v", want.code, qr.ExpiresAt, exp)
		}
	}
	if got[2] != (wa.QRTimeout{}) {
		t.Errorf("last event = %#v, want QRTimeout", got[2])
	}
}
