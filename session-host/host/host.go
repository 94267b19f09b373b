// Package host is the session host: one process holding many WhatsApp
// sessions, each with one client of a wa.Backend. Sessions are spread over
// host processes by leases in DynamoDB: a host takes a free or expired
// lease with a conditional write, renews it on a heartbeat, stops the
// session the moment a renewal fails or the lease runs out (so two hosts
// never hold one session: WhatsApp would replace one stream with the
// other), and releases its leases on graceful shutdown so another host
// takes over at once. When a host dies, its leases expire and the others
// claim them.
//
// Control hints (desired-state changes, RPCs) arrive on the shared control
// queue; a host that receives a hint for a session another host holds
// forwards it to that host's own inbox queue. Hints are only hints: a
// periodic resync re-reads the desired state and pending RPCs of every
// session held, so a lost hint delays a change but never loses it.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Store is the storage the host needs (implemented by package dynamo).
type Store interface {
	ClaimableLeases(ctx context.Context, now time.Time, limit int) ([]sessions.Lease, error)
	AcquireLease(ctx context.Context, sessionID, host string, until, now time.Time) (sessions.Lease, error)
	RenewLease(ctx context.Context, sessionID, host string, until time.Time) (sessions.Lease, error)
	ReleaseLease(ctx context.Context, sessionID, host string) error
	FindLease(ctx context.Context, sessionID string) (sessions.Lease, error)

	Dispatchable(ctx context.Context, sessionID, lane string, limit int) ([]messages.Message, error)
	RunningCampaigns(ctx context.Context, sessionID string) ([]campaigns.Campaign, error)
	CompleteIfDone(ctx context.Context, id string, at time.Time) (bool, error)
	CountDailySend(ctx context.Context, sessionID, day string, limit int) (bool, error)
	FindAccount(ctx context.Context) (accounts.Account, error)
	FindMessageBody(ctx context.Context, id string) (string, *messages.Media, error)
	TransitionFenced(ctx context.Context, cur messages.Message, host string, u messages.Update) error

	FindSession(ctx context.Context, id string) (sessions.Session, error)
	ObserveSession(ctx context.Context, id string, o sessions.Observation) error
	PutQR(ctx context.Context, sessionID string, qr sessions.QR) error
	DeleteQR(ctx context.Context, sessionID string) error
	PendingRPCs(ctx context.Context, sessionID string) ([]sessions.RPC, error)
	FindRPC(ctx context.Context, sessionID, rpcID string) (sessions.RPC, error)
	CompleteRPC(ctx context.Context, r sessions.RPC) error
	DeleteSessionData(ctx context.Context, sessionID string) error

	PutHost(ctx context.Context, h sessions.Host) error
	FindHost(ctx context.Context, id string) (sessions.Host, error)
	DeleteHost(ctx context.Context, id string) error
}

// Queue is a message queue (package queue).
type Queue interface {
	Send(ctx context.Context, body []byte, group, dedup string) error
	Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error)
	Delete(ctx context.Context, receipt string) error
}

// Inboxes creates and removes per-host inbox queues.
type Inboxes interface {
	// Create makes the inbox named name and returns it with its URL.
	Create(ctx context.Context, name string) (Queue, string, error)
	// Open returns the inbox at url (another host's, to forward to).
	Open(url string) Queue
	// Remove deletes the inbox at url.
	Remove(ctx context.Context, url string) error
}

// Config tunes a host.
type Config struct {
	// ID names this host process; it must be unique among live hosts.
	ID string
	// InboxPrefix prefixes the host's inbox queue name.
	InboxPrefix string
	// LeaseTTL is how long a lease lasts without renewal; Heartbeat is how
	// often leases are renewed (a third of the TTL or less).
	LeaseTTL, Heartbeat time.Duration
	// ClaimInterval is how often free and expired leases are looked for.
	ClaimInterval time.Duration
	// ResyncInterval is how often held sessions are re-read (lost hints).
	ResyncInterval time.Duration
	// MaxSessions caps the sessions this host holds.
	MaxSessions int
	// PollWait is the long-poll wait of queue receives.
	PollWait time.Duration
	// SendMinInterval and SendMaxInterval bound the random pause between
	// two sends of one session.
	SendMinInterval, SendMaxInterval time.Duration
	// SendPoll is how often an idle session re-checks its dispatch index
	// (wake-ups usually come sooner, from the send queue).
	SendPoll time.Duration
	// CampaignIntervalScale, when positive, multiplies campaign pacing
	// intervals (tests and benchmarks compress seconds into milliseconds).
	CampaignIntervalScale float64
}

func (c *Config) defaults() {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = c.LeaseTTL / 3
	}
	if c.ClaimInterval == 0 {
		c.ClaimInterval = 5 * time.Second
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = time.Minute
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 1000
	}
	if c.PollWait == 0 {
		c.PollWait = 20 * time.Second
	}
	if c.SendMinInterval == 0 && c.SendMaxInterval == 0 {
		c.SendMinInterval, c.SendMaxInterval = 2*time.Second, 6*time.Second
	}
	if c.SendPoll == 0 {
		c.SendPoll = time.Minute
	}
}

// Deps are the host's collaborators.
type Deps struct {
	Store   Store
	Backend wa.Backend
	Control Queue // the shared session-control queue
	Send    Queue // the shared send queue (wake-ups for sessions with messages)
	Inboxes Inboxes
	Events  events.Publisher
	// Media fetches message attachments (an SSRF-safe client, package
	// netguard); nil means netguard's strict default.
	Media  *http.Client
	Logger *slog.Logger
	Now    func() time.Time
}

// Host runs sessions.
type Host struct {
	cfg     Config
	store   Store
	backend wa.Backend
	control Queue
	send    Queue
	inboxes Inboxes
	events  events.Publisher
	media   *http.Client
	log     *slog.Logger
	now     func() time.Time

	inbox    Queue
	inboxURL string

	mu      sync.Mutex
	runners map[string]*runner
	// reserved counts takes in flight (lease being acquired).
	reserved int
	running  bool
	killed   bool
	stop     context.CancelFunc
	done     chan struct{}
}

// New returns a host; Run starts it.
func New(cfg Config, d Deps) *Host {
	cfg.defaults()
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Media == nil {
		d.Media = netguard.NewClient(netguard.Options{})
	}
	return &Host{cfg: cfg, store: d.Store, backend: d.Backend, control: d.Control, send: d.Send, inboxes: d.Inboxes, events: d.Events, media: d.Media,
		log: d.Logger.With("host_id", cfg.ID, "backend", d.Backend.Name()), now: d.Now, runners: map[string]*runner{}, done: make(chan struct{})}
}

// ID returns the host's id.
func (h *Host) ID() string { return h.cfg.ID }

// Run holds sessions until ctx ends, then shuts down gracefully: it
// disconnects every client and releases every lease.
func (h *Host) Run(ctx context.Context) error {
	defer close(h.done)
	inbox, url, err := h.inboxes.Create(ctx, h.cfg.InboxPrefix+h.cfg.ID)
	if err != nil {
		return fmt.Errorf("create inbox: %w", err)
	}
	h.inbox, h.inboxURL = inbox, url
	if err := h.register(ctx); err != nil {
		return err
	}
	loopCtx, stop := context.WithCancel(ctx)
	h.mu.Lock()
	h.running, h.stop = true, stop
	h.mu.Unlock()
	h.log.Info("session host started", "inbox", h.cfg.InboxPrefix+h.cfg.ID, "max_sessions", h.cfg.MaxSessions)

	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){h.claimLoop, h.heartbeatLoop, h.resyncLoop,
		func(ctx context.Context) { h.consume(ctx, h.control, true) },
		func(ctx context.Context) {
			if h.send != nil {
				h.consume(ctx, h.send, true)
			}
		},
		func(ctx context.Context) { h.consume(ctx, h.inbox, false) }} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(loopCtx)
		}()
	}
	<-loopCtx.Done()
	wg.Wait()
	return h.shutdown()
}

// Kill stops the host as a crash would: connections drop and nothing is
// released, so its leases expire and other hosts take over (tests).
func (h *Host) Kill() {
	h.mu.Lock()
	h.killed = true
	stop := h.stop
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
	<-h.done
}

// Done is closed when Run has returned.
func (h *Host) Done() <-chan struct{} { return h.done }

func (h *Host) shutdown() error {
	h.mu.Lock()
	h.running = false
	killed := h.killed
	list := make([]*runner, 0, len(h.runners))
	for _, r := range h.runners {
		list = append(list, r)
	}
	h.runners = map[string]*runner{}
	h.mu.Unlock()
	// A fresh context: the run context is already cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.halt()
			if !killed {
				if err := h.store.ReleaseLease(ctx, r.id, h.cfg.ID); err != nil {
					h.log.Warn("lease release failed", "session_id", r.id, "error", err.Error())
				}
			}
		}()
	}
	wg.Wait()
	if c, ok := h.backend.(io.Closer); ok { // device stores (SQLite files)
		if err := c.Close(); err != nil {
			h.log.Warn("backend close failed", "error", err.Error())
		}
	}
	if killed {
		h.log.Warn("session host killed; leases left to expire", "sessions", len(list))
		return nil
	}
	var errList []error
	if err := h.store.DeleteHost(ctx, h.cfg.ID); err != nil {
		errList = append(errList, err)
	}
	if err := h.inboxes.Remove(ctx, h.inboxURL); err != nil {
		errList = append(errList, err)
	}
	h.log.Info("session host stopped; leases released", "sessions", len(list))
	return errors.Join(errList...)
}

func (h *Host) register(ctx context.Context) error {
	if err := h.store.PutHost(ctx, sessions.Host{ID: h.cfg.ID, InboxURL: h.inboxURL, ExpiresAt: h.now().Add(h.cfg.LeaseTTL)}); err != nil {
		return fmt.Errorf("register host: %w", err)
	}
	return nil
}

// every runs f at interval (with ±10 % jitter so hosts do not move in
// lock-step) until ctx ends; f runs once at once.
func every(ctx context.Context, interval time.Duration, f func()) {
	for {
		f()
		jitter := time.Duration(rand.Int64N(int64(interval)/5+1)) - interval/10
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval + jitter):
		}
	}
}

func (h *Host) claimLoop(ctx context.Context) {
	every(ctx, h.cfg.ClaimInterval, func() { h.claim(ctx) })
}

// claim takes free and expired leases, up to the host's capacity.
func (h *Host) claim(ctx context.Context) {
	h.mu.Lock()
	room := h.cfg.MaxSessions - len(h.runners) - h.reserved
	h.mu.Unlock()
	if room <= 0 {
		return
	}
	leases, err := h.store.ClaimableLeases(ctx, h.now(), room)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("claimable leases query failed", "error", err.Error())
		}
		return
	}
	// Random order, so hosts claiming at once mostly pick different ones.
	rand.Shuffle(len(leases), func(i, j int) { leases[i], leases[j] = leases[j], leases[i] })
	for _, l := range leases {
		if ctx.Err() != nil {
			return
		}
		h.take(ctx, l.SessionID, l.AccountID)
	}
}

// take acquires a session's lease and starts it; false if another host
// holds it or the session is gone.
func (h *Host) take(ctx context.Context, sessionID, accountID string) bool {
	// Reserve a place first, so concurrent takes (claim loop, control
	// hints) never exceed MaxSessions together.
	h.mu.Lock()
	if h.runners[sessionID] != nil {
		h.mu.Unlock()
		return true
	}
	if len(h.runners)+h.reserved >= h.cfg.MaxSessions {
		h.mu.Unlock()
		return false
	}
	h.reserved++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.reserved--
		h.mu.Unlock()
	}()
	until := h.now().Add(h.cfg.LeaseTTL)
	if _, err := h.store.AcquireLease(ctx, sessionID, h.cfg.ID, until, h.now()); err != nil {
		if !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotFound) && ctx.Err() == nil {
			h.log.Warn("lease acquire failed", "session_id", sessionID, "error", err.Error())
		}
		return false
	}
	h.mu.Lock()
	if !h.running || h.runners[sessionID] != nil {
		h.mu.Unlock()
		return h.runners[sessionID] != nil
	}
	r := newRunner(h, sessionID, accountID, until)
	h.runners[sessionID] = r
	h.mu.Unlock()
	h.log.Info("session lease taken", "session_id", sessionID)
	go r.run()
	return true
}

func (h *Host) runner(id string) *runner {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runners[id]
}

func (h *Host) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.runners)
}

// drop forgets a runner (after its session was deleted or its lease lost).
func (h *Host) drop(r *runner) {
	h.mu.Lock()
	if h.runners[r.id] == r {
		delete(h.runners, r.id)
	}
	h.mu.Unlock()
}

func (h *Host) heartbeatLoop(ctx context.Context) {
	every(ctx, h.cfg.Heartbeat, func() {
		if err := h.register(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("host heartbeat failed", "error", err.Error())
		}
		h.mu.Lock()
		list := make([]*runner, 0, len(h.runners))
		for _, r := range h.runners {
			list = append(list, r)
		}
		h.mu.Unlock()
		for _, r := range list {
			if ctx.Err() != nil {
				return
			}
			h.renew(ctx, r)
		}
	})
}

// renew extends one lease. A lost lease stops the session at once; a lease
// that could not be renewed before it runs out stops it too (fencing: the
// host must assume another one has taken over).
func (h *Host) renew(ctx context.Context, r *runner) {
	until := h.now().Add(h.cfg.LeaseTTL)
	_, err := h.store.RenewLease(ctx, r.id, h.cfg.ID, until)
	switch {
	case err == nil:
		r.extend(until)
	case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
		h.log.Warn("session lease lost; stopping session", "session_id", r.id)
		h.drop(r)
		go r.halt()
	default:
		if ctx.Err() == nil {
			h.log.Warn("lease renewal failed", "session_id", r.id, "error", err.Error())
		}
		if !r.leaseValid(h.now().Add(h.cfg.Heartbeat)) {
			h.log.Error("session lease about to expire unrenewed; stopping session", "session_id", r.id)
			h.drop(r)
			go r.halt()
		}
	}
}

func (h *Host) resyncLoop(ctx context.Context) {
	every(ctx, h.cfg.ResyncInterval, func() {
		h.mu.Lock()
		for _, r := range h.runners {
			r.poke("")
		}
		h.mu.Unlock()
	})
}

// hint is a control message as it travels between hosts.
type hint struct {
	sessions.Control
	// Kind is "send" for a send wake-up, "" for a control hint.
	Kind string `json:"kind,omitempty"`
	// Hops counts forwards between hosts, to stop ping-pong while a lease
	// changes hands.
	Hops int `json:"hops,omitempty"`
}

// deliver hands a hint to the runner holding its session.
func (r *runner) deliver(c hint) {
	if isSend(c) {
		r.wakeSender()
		return
	}
	r.poke(c.RPCID)
}

// consume handles control hints from q until ctx ends.
func (h *Host) consume(ctx context.Context, q Queue, shared bool) {
	for ctx.Err() == nil {
		msgs, err := q.Receive(ctx, 10, h.cfg.PollWait)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("control receive failed", "shared", shared, "error", err.Error())
				time.Sleep(time.Second)
			}
			continue
		}
		for _, m := range msgs {
			var c hint
			if err := json.Unmarshal([]byte(m.Body), &c); err != nil || c.SessionID == "" {
				h.log.Error("malformed control message dropped", "message_id", m.ID)
			} else if err := h.route(ctx, c); err != nil {
				// Not deleted: it comes back after the visibility timeout.
				h.log.Warn("control hint not handled; will retry", "session_id", c.SessionID, "error", err.Error())
				continue
			}
			if err := q.Delete(ctx, m.Receipt); err != nil && ctx.Err() == nil {
				h.log.Warn("control delete failed", "error", err.Error())
			}
		}
	}
}

// route gets a hint to the session's holder: this host (taking a free
// lease if need be) or, by its inbox, the host that holds it.
func (h *Host) route(ctx context.Context, c hint) error {
	if r := h.runner(c.SessionID); r != nil {
		r.deliver(c)
		return nil
	}
	lease, err := h.store.FindLease(ctx, c.SessionID)
	if errs.Is(err, errs.NotFound) {
		return nil // the session is gone
	}
	if err != nil {
		return err
	}
	if lease.Owner == "" || lease.Owner == h.cfg.ID || !h.now().Before(lease.ExpiresAt) {
		if h.take(ctx, c.SessionID, lease.AccountID) {
			if r := h.runner(c.SessionID); r != nil {
				r.deliver(c)
			}
			return nil
		}
	}
	if c.Hops >= 2 {
		return nil // the holder's resync will see it
	}
	owner, err := h.store.FindHost(ctx, lease.Owner)
	if err != nil {
		return nil // holder unknown or dead: its lease will expire and be claimed
	}
	c.Hops++
	body, _ := json.Marshal(c)
	return h.inboxes.Open(owner.InboxURL).Send(ctx, body, "", "")
}

// Counts returns how many sessions this host holds, by status.
func (h *Host) Counts() map[sessions.Status]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[sessions.Status]int{}
	for _, r := range h.runners {
		out[r.currentStatus()]++
	}
	return out
}

// Held lists the ids of the sessions this host holds.
func (h *Host) Held() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.runners))
	for id := range h.runners {
		out = append(out, id)
	}
	return out
}

// Running reports whether the host is serving (for health checks).
func (h *Host) Running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running
}

// Client returns the WhatsApp client of a held session, if connected (tests).
func (h *Host) Client(sessionID string) wa.Client {
	if r := h.runner(sessionID); r != nil {
		return r.currentClient()
	}
	return nil
}

func tenantCtx(ctx context.Context, acct string) context.Context { return tenant.With(ctx, acct) }
