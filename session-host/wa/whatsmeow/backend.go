package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"go.mau.fi/whatsmeow/store/sqlstore"
	// The pure-Go SQLite driver, registered as "sqlite": the binary builds
	// with CGO_ENABLED=0. whatsmeow's dialect parser (go.mau.fi/util/dbutil)
	// accepts any driver name starting with "sqlite", so no "sqlite3" alias
	// is needed.
	_ "modernc.org/sqlite"

	"github.com/chatsend/chatsend/session-host/wa"
)

// ErrInvalidSessionID is returned for a session id that is not a safe file
// name (letters, digits, '_' and '-', at most 128 characters).
var ErrInvalidSessionID = errors.New("invalid session id")

// Backend opens whatsmeow clients, each on its own SQLite device store file
// <dir>/<sessionID>.db. It keeps track of the clients it opened so that
// Delete and Close can release their database files.
type Backend struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex
	clients map[string]*client
}

var _ wa.Backend = (*Backend)(nil)

// New returns a Backend storing device stores in dir, which is created if
// missing (mode 0700: the files hold the sessions' private keys). log may be
// nil. whatsmeow's own logs go to log with component=whatsmeow; its socket
// dumps (modules */Send and */Recv) are logged below debug level.
func New(dir string, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = discardLogger
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve whatsmeow store dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create whatsmeow store dir: %w", err)
	}
	return &Backend{dir: dir, log: log, clients: make(map[string]*client)}, nil
}

// Name returns wa.BackendWhatsmeow.
func (b *Backend) Name() string { return wa.BackendWhatsmeow }

// Open opens (creating if needed) the session's device store and returns a
// client that is not connected yet; handle receives its events. Opening a
// session that is already open closes the earlier client first: a device
// store must never be used by two whatsmeow clients at once.
func (b *Backend) Open(ctx context.Context, sessionID string, handle wa.Handler) (wa.Client, error) {
	if err := validateSessionID(sessionID); err != nil {
		return nil, err
	}
	if handle == nil {
		return nil, fmt.Errorf("open session %s: nil handler", sessionID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.clients[sessionID]; old != nil {
		b.log.Info("whatsapp_session_reopened", "session_id", sessionID)
		old.close()
		delete(b.clients, sessionID)
	}

	walog := newWALogger(b.log.With("component", "whatsmeow", "session_id", sessionID), "")
	container, err := sqlstore.New(ctx, "sqlite", storeDSN(b.storePath(sessionID)), walog.Sub("Database"))
	if err != nil {
		return nil, fmt.Errorf("open device store for session %s: %w", sessionID, err)
	}
	// GetFirstDevice returns a fresh, unsaved device when the store holds
	// none; whatsmeow saves it once a phone links it.
	device, err := container.GetFirstDevice(ctx)
	if err != nil {
		_ = container.Close()
		return nil, fmt.Errorf("load device for session %s: %w", sessionID, err)
	}
	c := newClient(ctx, sessionID, container, device, handle,
		b.log.With("component", "wa_whatsmeow", "session_id", sessionID), walog.Sub("Client"))
	b.clients[sessionID] = c
	return c, nil
}

// Delete removes the session's device store file and its SQLite companions
// (-wal, -shm, -journal), closing the session's client first if it is open.
// A store that does not exist is no error. It does not log the device out
// on WhatsApp's side; call Client.Logout for that first.
func (b *Backend) Delete(ctx context.Context, sessionID string) error {
	if err := validateSessionID(sessionID); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[sessionID]; c != nil {
		c.close()
		delete(b.clients, sessionID)
	}
	path := b.storePath(sessionID)
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete device store of session %s: %w", sessionID, err)
		}
	}
	return nil
}

// Close disconnects every client this Backend opened and closes their
// device stores. The clients are unusable afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for id, c := range b.clients {
		if err := c.close(); err != nil {
			errs = append(errs, fmt.Errorf("close session %s: %w", id, err))
		}
		delete(b.clients, id)
	}
	return errors.Join(errs...)
}

func (b *Backend) storePath(sessionID string) string {
	return filepath.Join(b.dir, sessionID+".db")
}

// storeDSN is the modernc.org/sqlite data source for a device store:
//   - foreign_keys: whatsmeow refuses to start without them (deleting a
//     device cascades to its keys and sessions);
//   - busy_timeout: wait for a lock instead of failing at once;
//   - WAL: readers do not block the writer;
//   - _txlock=immediate: transactions take the write lock when they begin,
//     so two read-then-write transactions cannot deadlock into SQLITE_BUSY.
//
// The path is percent-encoded: SQLite reads "file:" names as URIs.
func storeDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + q.Encode()
}

// validateSessionID accepts only ids that are safe as a file name, so a
// session id can never walk out of the store directory.
func validateSessionID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("session id %q: %w", id, ErrInvalidSessionID)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return fmt.Errorf("session id %q: %w", id, ErrInvalidSessionID)
		}
	}
	return nil
}
