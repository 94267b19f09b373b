package whatsmeow_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

func TestWALoggerRoutesToSlog(t *testing.T) {
	capture := newCapture(whatsmeow.LevelTrace)
	log := whatsmeow.NewWALogger(slog.New(capture), "Client")

	log.Infof("Successfully authenticated")
	log.Warnf("Failed to send receipt to %s: %v", "4915112345678:12@s.whatsapp.net", errors.New("timeout"))
	log.Sub("Recv").Debugf("<message from=%q/>", "4915112345678@s.whatsapp.net")
	log.Sub("Database").Errorf("upgrade failed")

	recs := capture.all()
	want := []struct {
		level  slog.Level
		module string
		text   string
	}{
		{slog.LevelInfo, "Client", "Successfully authenticated"},
		{slog.LevelWarn, "Client", "Failed to send receipt to ***5678:12@s.whatsapp.net: timeout"},
		{whatsmeow.LevelTrace, "Client/Recv", `<message from="***5678@s.whatsapp.net"/>`},
		{slog.LevelError, "Client/Database", "upgrade failed"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Level != w.level || r.Message != "whatsmeow_log" || attr(r, "module") != w.module || attr(r, "text") != w.text {
			t.Errorf("record %d = %v %q module=%q text=%q; want %v module=%q text=%q",
				i, r.Level, r.Message, attr(r, "module"), attr(r, "text"), w.level, w.module, w.text)
		}
	}
}

func TestWALoggerSkipsDisabledLevels(t *testing.T) {
	capture := newCapture(slog.LevelInfo)
	log := whatsmeow.NewWALogger(slog.New(capture), "Client")
	log.Debugf("noise %d", 1)
	log.Sub("Send").Debugf("<iq/>")
	if n := len(capture.all()); n != 0 {
		t.Errorf("%d records at info level, want 0", n)
	}
}

func TestPhoneDigits(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+4915112345678", "4915112345678", true},
		{"4915112345678", "4915112345678", true},
		{"+1234567", "1234567", true},
		{"+123456", "", false},
		{"+1234567890123456", "", false},
		{"+0151123456", "", false},
		{"+49 151 12345678", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := whatsmeow.PhoneDigits(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("PhoneDigits(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil {
			if !errors.Is(err, whatsmeow.ErrInvalidPhone) {
				t.Errorf("PhoneDigits(%q) error %v is not ErrInvalidPhone", tt.in, err)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error text %q shows the full number", err)
			}
		}
	}
}

func TestMaskAndRedactPhones(t *testing.T) {
	if got := whatsmeow.MaskPhone("+4915112345678"); got != "***5678" {
		t.Errorf("MaskPhone = %q", got)
	}
	if got := whatsmeow.MaskPhone("12"); got != "***" {
		t.Errorf("MaskPhone(short) = %q", got)
	}
	in := "to +4915112345678 via 4915112345678.0:3@s.whatsapp.net and 4915112345678@c.us, lid 187654321098765@lid, group 120363012345678901@g.us"
	want := "to ***5678 via ***5678.0:3@s.whatsapp.net and ***5678@c.us, lid 187654321098765@lid, group 120363012345678901@g.us"
	if got := whatsmeow.RedactPhones(in); got != want {
		t.Errorf("RedactPhones =\n  %q\nwant\n  %q", got, want)
	}
}
