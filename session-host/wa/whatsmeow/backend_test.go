package whatsmeow_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

func TestBackendName(t *testing.T) {
	b, _ := MustBackend(t)
	if got := b.Name(); got != wa.BackendWhatsmeow {
		t.Errorf("Name() = %q, want %q", got, wa.BackendWhatsmeow)
	}
}

func TestOpenCreatesStoreAndDeleteRemovesIt(t *testing.T) {
	ctx := context.Background()
	b, dir := MustBackend(t)
	rec := &recorder{}
	c := MustOpen(t, b, "ses_test1", rec.handle)

	if c.Paired() {
		t.Error("Paired() = true for a new store, want false")
	}
	path := filepath.Join(dir, "ses_test1.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("device store file: %v", err)
	}
	// WAL mode is on: the write-ahead log sits next to the open store.
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no -wal file next to the open store: %v", err)
	}
	if err := b.Delete(ctx, "ses_test1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Delete (stat err %v)", filepath.Base(p), err)
		}
	}
	// The deleted session's client is closed: it refuses to connect before
	// touching the network.
	if err := c.Connect(ctx); err == nil {
		t.Error("Connect after Delete: no error")
	}
}

func TestDeleteUnknownSession(t *testing.T) {
	b, _ := MustBackend(t)
	if err := b.Delete(context.Background(), "ses_never_opened"); err != nil {
		t.Errorf("Delete of unknown session: %v", err)
	}
}

func TestSessionIDMustBeSafeFileName(t *testing.T) {
	ctx := context.Background()
	b, dir := MustBackend(t)
	for _, id := range []string{"../evil", "", "a/b", `a\b`, "a.db", "x y", "ses:1", strings.Repeat("a", 129)} {
		t.Run(id, func(t *testing.T) {
			if _, err := b.Open(ctx, id, (&recorder{}).handle); !errors.Is(err, whatsmeow.ErrInvalidSessionID) {
				t.Errorf("Open(%q) error = %v, want ErrInvalidSessionID", id, err)
			}
			if err := b.Delete(ctx, id); !errors.Is(err, whatsmeow.ErrInvalidSessionID) {
				t.Errorf("Delete(%q) error = %v, want ErrInvalidSessionID", id, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a store was created outside the directory: %v", err)
	}
	for _, id := range []string{"ses_01HZX", "A-b_9"} {
		if _, err := b.Open(ctx, id, (&recorder{}).handle); err != nil {
			t.Errorf("Open(%q): %v", id, err)
		}
	}
}

func TestOpenRequiresHandler(t *testing.T) {
	b, _ := MustBackend(t)
	if _, err := b.Open(context.Background(), "ses_nohandler", nil); err == nil {
		t.Error("Open with nil handler: no error")
	}
}

func TestReopenClosesEarlierClient(t *testing.T) {
	ctx := context.Background()
	b, _ := MustBackend(t)
	first := MustOpen(t, b, "ses_twice", (&recorder{}).handle)
	second := MustOpen(t, b, "ses_twice", (&recorder{}).handle)
	if err := first.Connect(ctx); err == nil {
		t.Error("Connect on the replaced client: no error")
	}
	if second.Paired() {
		t.Error("second client Paired() = true")
	}
}

// The store directory may hold characters that mean something in a SQLite
// URI; the file must still land where Delete looks for it.
func TestStorePathIsEscaped(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dir with space#and?query%20")
	b, err := whatsmeow.New(dir, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	MustOpen(t, b, "ses_escaped", (&recorder{}).handle)
	path := filepath.Join(dir, "ses_escaped.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("store not at %s: %v", path, err)
	}
	if err := b.Delete(ctx, "ses_escaped"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store still there after Delete: %v", err)
	}
}

func TestStoreDSN(t *testing.T) {
	got := whatsmeow.StoreDSN("/data/a b/ses_1.db")
	for _, want := range []string{
		"file:/data/a%20b/ses_1.db?",
		"_pragma=foreign_keys%281%29",
		"_pragma=busy_timeout%285000%29",
		"_pragma=journal_mode%28WAL%29",
		"_txlock=immediate",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("StoreDSN = %q, missing %q", got, want)
		}
	}
}
