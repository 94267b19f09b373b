package whatsmeow_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

// MustBackend returns a Backend on a fresh temporary directory, closed when
// the test ends.
func MustBackend(tb testing.TB) (*whatsmeow.Backend, string) {
	tb.Helper()
	dir := tb.TempDir()
	b, err := whatsmeow.New(dir, testLogger(tb))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return b, dir
}

// MustOpen opens a session with handle (or a recorder's handler).
func MustOpen(tb testing.TB, b *whatsmeow.Backend, sessionID string, handle wa.Handler) wa.Client {
	tb.Helper()
	c, err := b.Open(context.Background(), sessionID, handle)
	if err != nil {
		tb.Fatalf("Open(%q): %v", sessionID, err)
	}
	return c
}

// recorder is a Handler that records events and returns err.
type recorder struct {
	mu     sync.Mutex
	events []wa.Event
	err    error
}

func (r *recorder) handle(_ context.Context, ev wa.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return r.err
}

func (r *recorder) got() []wa.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wa.Event(nil), r.events...)
}

// testLogger logs at debug level into a buffer that is printed only when
// the test fails. (Writing to t.Log directly would panic when one of
// whatsmeow's goroutines logs after the test has ended.)
func testLogger(tb testing.TB) *slog.Logger {
	w := &syncBuffer{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("logs:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureHandler is a slog.Handler keeping records for assertions.
type captureHandler struct {
	mu      *sync.Mutex
	records *[]slog.Record
	level   slog.Level
}

func newCapture(level slog.Level) captureHandler {
	return captureHandler{mu: &sync.Mutex{}, records: &[]slog.Record{}, level: level}
}

func (h captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r.Clone())
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

func (h captureHandler) all() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), *h.records...)
}

// attr returns the value of key on r, "" when absent.
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
