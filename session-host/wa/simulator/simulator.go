// Package simulator is an offline WhatsApp backend for development and
// tests. It is honest about what it is: its name is "simulator", QR codes
// say SIMULATOR, linked numbers are made up, and nothing leaves the
// machine. It is deterministic where tests need it: a recipient whose last
// four digits are 9999 is not on WhatsApp; every other send is acknowledged,
// then delivered and read after configurable delays. Pairing state persists
// in a folder, like a real device store, so restarts reconnect.
package simulator

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/shared/logging"
)

// Options tune the simulator.
type Options struct {
	// Dir holds one JSON file of pairing state per session.
	Dir string
	// QRInterval is how long each QR code lives (WhatsApp: 60 s, then 20 s).
	QRInterval time.Duration
	// QRCodes is how many codes are shown before pairing times out.
	QRCodes int
	// AutoScanAfter, when positive, scans the QR code by itself.
	AutoScanAfter time.Duration
	// DeliveredAfter and ReadAfter delay the receipts of a sent message.
	DeliveredAfter, ReadAfter time.Duration
	// RedeliverAfter is how soon an event the handler refused comes again.
	RedeliverAfter time.Duration
	Logger         *slog.Logger
}

// Backend is the simulator's wa.Backend.
type Backend struct {
	opts Options
	log  *slog.Logger

	// The simulated WhatsApp server: every message id it accepted, kept in
	// ServerLog so it survives restarts. Like WhatsApp, it drops a message
	// whose id it has seen, so a resend after a crash is not a second message.
	srvMu   sync.Mutex
	srvSeen map[string]*srvMessage
	srvLog  *os.File
}

// srvMessage is what the simulated server knows of one message: where it
// goes and which receipts the sender's handler acknowledged. Like WhatsApp,
// it keeps unacknowledged receipts and delivers them after a reconnect.
type srvMessage struct {
	to, session string
	acked       map[wa.ReceiptType]bool
}

// ServerLog is the file (in Options.Dir) where the simulated server records
// each accepted message, "msg <whatsapp id> <recipient> <session>", and each
// acknowledged receipt, "ack <whatsapp id> <delivered|read>", one per line.
const ServerLog = "whatsapp-server.log"

func (b *Backend) openServerLog() error {
	path := filepath.Join(b.opts.Dir, ServerLog)
	if raw, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "msg":
				b.srvSeen[f[1]] = &srvMessage{to: f[2], session: f[3], acked: map[wa.ReceiptType]bool{}}
			case len(f) == 3 && f[0] == "ack" && b.srvSeen[f[1]] != nil:
				b.srvSeen[f[1]].acked[wa.ReceiptType(f[2])] = true
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("simulator server log: %w", err)
	}
	b.srvLog = f
	return nil
}

// accept records a message on the simulated server; false if its id was
// seen before (a duplicate WhatsApp drops).
func (b *Backend) accept(id, to, session string) (bool, error) {
	b.srvMu.Lock()
	defer b.srvMu.Unlock()
	if b.srvSeen[id] != nil {
		return false, nil
	}
	if _, err := fmt.Fprintf(b.srvLog, "msg %s %s %s\n", id, to, session); err != nil {
		return false, fmt.Errorf("simulator server log: %w", err)
	}
	b.srvSeen[id] = &srvMessage{to: to, session: session, acked: map[wa.ReceiptType]bool{}}
	return true, nil
}

// ack records that the sender's handler took a receipt.
func (b *Backend) ack(id string, typ wa.ReceiptType) {
	b.srvMu.Lock()
	defer b.srvMu.Unlock()
	if m := b.srvSeen[id]; m != nil && !m.acked[typ] {
		m.acked[typ] = true
		_, _ = fmt.Fprintf(b.srvLog, "ack %s %s\n", id, typ)
	}
}

// unacked lists a session's messages still missing a receipt.
func (b *Backend) unacked(session string) map[string]string {
	b.srvMu.Lock()
	defer b.srvMu.Unlock()
	out := map[string]string{}
	for id, m := range b.srvSeen {
		if m.session == session && !m.acked[wa.ReceiptRead] {
			out[id] = m.to
		}
	}
	return out
}

// Close releases the server log.
func (b *Backend) Close() error {
	b.srvMu.Lock()
	defer b.srvMu.Unlock()
	return b.srvLog.Close()
}

var _ wa.Backend = (*Backend)(nil)

// New returns a simulator backend storing state in o.Dir.
func New(o Options) (*Backend, error) {
	if o.QRInterval == 0 {
		o.QRInterval = 20 * time.Second
	}
	if o.QRCodes == 0 {
		o.QRCodes = 6
	}
	if o.DeliveredAfter == 0 {
		o.DeliveredAfter = 500 * time.Millisecond
	}
	if o.ReadAfter == 0 {
		o.ReadAfter = 1500 * time.Millisecond
	}
	if o.RedeliverAfter == 0 {
		o.RedeliverAfter = time.Second
	}
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("simulator dir: %w", err)
	}
	b := &Backend{opts: o, log: o.Logger.With("backend", wa.BackendSimulator), srvSeen: map[string]*srvMessage{}}
	if err := b.openServerLog(); err != nil {
		return nil, err
	}
	return b, nil
}

// Name implements wa.Backend.
func (b *Backend) Name() string { return wa.BackendSimulator }

var safeID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (b *Backend) path(sessionID string) (string, error) {
	if !safeID.MatchString(sessionID) {
		return "", fmt.Errorf("session id %q is not a safe file name", sessionID)
	}
	return filepath.Join(b.opts.Dir, sessionID+".json"), nil
}

// state is what a simulated device store holds.
type state struct {
	Paired   bool   `json:"paired"`
	Phone    string `json:"phone"`
	PushName string `json:"push_name"`
}

// Open implements wa.Backend.
func (b *Backend) Open(ctx context.Context, sessionID string, handle wa.Handler) (wa.Client, error) {
	p, err := b.path(sessionID)
	if err != nil {
		return nil, err
	}
	c := &Client{b: b, id: sessionID, path: p, handle: handle, log: b.log.With("session_id", sessionID), stop: make(chan struct{})}
	if raw, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(raw, &c.st); err != nil {
			return nil, fmt.Errorf("read simulator state %s: %w", sessionID, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read simulator state %s: %w", sessionID, err)
	}
	return c, nil
}

// Delete implements wa.Backend.
func (b *Backend) Delete(ctx context.Context, sessionID string) error {
	p, err := b.path(sessionID)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete simulator state %s: %w", sessionID, err)
	}
	return nil
}

// Client is a simulated linked device.
type Client struct {
	b      *Backend
	id     string
	path   string
	handle wa.Handler
	log    *slog.Logger

	mu        sync.Mutex
	st        state
	connected bool
	pairing   bool
	scan      chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	emitMu    sync.Mutex // one event at a time, in order
}

var (
	_ wa.Client    = (*Client)(nil)
	_ wa.Simulated = (*Client)(nil)
)

// MadeUpPhone is the number a simulated session links with: +1 555 01xx
// style fictional numbers, stable per session.
func MadeUpPhone(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return fmt.Sprintf("+1555%07d", binary.BigEndian.Uint32(sum[:4])%10_000_000)
}

// Connect implements wa.Client.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connected || c.pairing {
		return nil
	}
	select {
	case <-c.stop:
		c.stop = make(chan struct{}) // reconnect after Disconnect
	default:
	}
	if c.st.Paired {
		c.connected = true
		c.goEmit(wa.Connected{Phone: c.st.Phone, PushName: c.st.PushName})
		c.replayReceiptsLocked()
		return nil
	}
	c.pairing = true
	c.scan = make(chan struct{}, 1)
	stop, scan := c.stop, c.scan
	c.wg.Add(1)
	go c.pairLoop(stop, scan)
	return nil
}

func (c *Client) pairLoop(stop, scan chan struct{}) {
	defer c.wg.Done()
	o := c.b.opts
	var auto <-chan time.Time
	if o.AutoScanAfter > 0 {
		auto = time.After(o.AutoScanAfter)
	}
	for i := 0; i < o.QRCodes; i++ {
		code := fmt.Sprintf("SIMULATOR-QR:%s:%d:%d", c.id, i, time.Now().UnixNano())
		c.emit(wa.QR{Code: code, ExpiresAt: time.Now().Add(o.QRInterval)})
		select {
		case <-stop:
			return
		case <-scan:
			c.completePairing()
			return
		case <-auto:
			c.completePairing()
			return
		case <-time.After(o.QRInterval):
		}
	}
	c.mu.Lock()
	c.pairing = false
	c.mu.Unlock()
	c.emit(wa.QRTimeout{})
}

func (c *Client) completePairing() {
	c.mu.Lock()
	c.st = state{Paired: true, Phone: MadeUpPhone(c.id), PushName: "Simulated " + c.id[max(0, len(c.id)-4):]}
	st := c.st
	err := c.save()
	c.pairing, c.connected = false, err == nil
	c.mu.Unlock()
	if err != nil {
		c.emit(wa.PairError{Reason: err.Error()})
		return
	}
	c.emit(wa.PairSuccess{Phone: st.Phone, PushName: st.PushName, Platform: "simulator"})
	c.emit(wa.Connected{Phone: st.Phone, PushName: st.PushName})
}

func (c *Client) save() error {
	b, _ := json.Marshal(c.st)
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	return os.Rename(tmp, c.path)
}

// Disconnect implements wa.Client.
func (c *Client) Disconnect() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.connected, c.pairing = false, false
	c.mu.Unlock()
	c.wg.Wait()
}

// Paired implements wa.Client.
func (c *Client) Paired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Paired
}

// Logout implements wa.Client.
func (c *Client) Logout(ctx context.Context) error {
	c.Disconnect()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st = state{}
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("simulator logout: %w", err)
	}
	return nil
}

// PairPhone implements wa.Client: the code is made up; pairing then
// completes through Scan, like a phone typing the code.
func (c *Client) PairPhone(ctx context.Context, phone string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Paired {
		return "", wa.ErrAlreadyPaired
	}
	if !c.pairing {
		return "", wa.ErrNotConnected
	}
	sum := sha256.Sum256([]byte(c.id + phone))
	const letters = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
	code := make([]byte, 8)
	for i := range code {
		code[i] = letters[int(sum[i])%len(letters)]
	}
	return string(code[:4]) + "-" + string(code[4:]), nil
}

func (c *Client) ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected {
		return wa.ErrNotConnected
	}
	return nil
}

// JoinedGroups implements wa.Client with two fixed groups.
func (c *Client) JoinedGroups(ctx context.Context) ([]wa.Group, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return []wa.Group{
		{JID: "120363000000000001@g.us", Name: "Simulated customers", Participants: 12, CreatedAt: created},
		{JID: "120363000000000002@g.us", Name: "Simulated announcements", Participants: 40, IsAnnounce: true, CreatedAt: created},
	}, nil
}

// NotOnWhatsApp reports the simulator's rule: last four digits 9999.
func NotOnWhatsApp(phone string) bool { return strings.HasSuffix(phone, "9999") }

// CheckNumbers implements wa.Client.
func (c *Client) CheckNumbers(ctx context.Context, phones []string) ([]wa.NumberStatus, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	out := make([]wa.NumberStatus, len(phones))
	for i, p := range phones {
		out[i] = wa.NumberStatus{Phone: p, OnWhatsApp: !NotOnWhatsApp(p)}
	}
	return out, nil
}

// Send implements wa.Client: acknowledged at once, then delivered and read.
func (c *Client) Send(ctx context.Context, m wa.Outgoing) (wa.SendResult, error) {
	if err := c.ready(); err != nil {
		return wa.SendResult{}, err
	}
	if NotOnWhatsApp(m.To) {
		return wa.SendResult{}, wa.ErrNotOnWhatsApp
	}
	now := time.Now()
	if fresh, err := c.b.accept(m.ID, m.To, c.id); err != nil {
		return wa.SendResult{}, err
	} else if !fresh {
		c.log.Info("simulated server dropped a repeated message id", "whatsapp_id", m.ID)
	}
	c.receipts(m.ID, m.To)
	return wa.SendResult{ID: m.ID, Timestamp: now}, nil
}

// receipts delivers a message's delivered and read receipts after the
// configured delays, skipping those already acknowledged; a disconnect
// stops them, and the server replays what is missing on the next connect.
func (c *Client) receipts(id, to string) {
	c.mu.Lock()
	stop := c.stop
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		o := c.b.opts
		for _, r := range []struct {
			after time.Duration
			typ   wa.ReceiptType
		}{{o.DeliveredAfter, wa.ReceiptDelivered}, {o.ReadAfter - o.DeliveredAfter, wa.ReceiptRead}} {
			select {
			case <-stop:
				return
			case <-time.After(max(r.after, 0)):
			}
			if c.emit(wa.Receipt{MessageIDs: []string{id}, From: to, Type: r.typ, At: time.Now()}) {
				c.b.ack(id, r.typ)
			}
		}
	}()
}

// replayReceiptsLocked is replayReceipts with c.mu held (from Connect).
func (c *Client) replayReceiptsLocked() {
	c.mu.Unlock()
	defer c.mu.Lock()
	c.replayReceipts()
}

// replayReceipts re-sends the receipts this session's messages are
// missing, as WhatsApp does after a reconnect.
func (c *Client) replayReceipts() {
	for id, to := range c.b.unacked(c.id) {
		c.receipts(id, to)
	}
}

// Scan implements wa.Simulated: the phone scans the current QR code.
func (c *Client) Scan() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pairing {
		return errors.New("the simulated session is not showing a QR code")
	}
	select {
	case c.scan <- struct{}{}:
	default:
	}
	return nil
}

// Inbound implements wa.Simulated: a contact writes to the session.
func (c *Client) Inbound(from, text string) error {
	if err := c.ready(); err != nil {
		return err
	}
	c.goEmit(wa.Message{ID: fmt.Sprintf("SIM%X", time.Now().UnixNano()), From: from, Chat: from, Text: text, At: time.Now()})
	return nil
}

// Inject delivers any event as if WhatsApp had sent it (tests: disconnects,
// bans, logouts). A LoggedOut also clears the stored login.
func (c *Client) Inject(ev wa.Event) {
	switch ev.(type) {
	case wa.LoggedOut:
		c.mu.Lock()
		c.st, c.connected = state{}, false
		_ = os.Remove(c.path)
		c.mu.Unlock()
	case wa.Disconnected, wa.StreamReplaced, wa.TemporaryBan:
		c.mu.Lock()
		c.connected = false
		c.mu.Unlock()
	case wa.Connected:
		c.mu.Lock()
		c.connected = true
		c.mu.Unlock()
	}
	c.emit(ev)
}

func (c *Client) goEmit(ev wa.Event) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.emit(ev)
	}()
}

// emit hands ev to the handler and reports whether it took it; messages
// and receipts the handler refuses come again later, as WhatsApp
// redelivers unacknowledged ones.
func (c *Client) emit(ev wa.Event) bool {
	c.emitMu.Lock()
	defer c.emitMu.Unlock()
	for attempt := 0; ; attempt++ {
		err := c.handle(context.Background(), ev)
		if err == nil {
			return true
		}
		switch ev.(type) {
		case wa.Message, wa.Receipt:
		default:
			return false
		}
		c.log.Warn("simulated event refused; redelivering", "attempt", attempt, "error", err.Error())
		c.mu.Lock()
		stop := c.stop
		c.mu.Unlock()
		select {
		case <-stop:
			return false
		case <-time.After(c.b.opts.RedeliverAfter):
		}
	}
}
