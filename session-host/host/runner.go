package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/sessions"
)

// runner holds one session on this host: its WhatsApp client, the
// generation of the last control change applied, and the last observation
// written. Control work runs on the runner's goroutine, one thing at a
// time; WhatsApp events arrive on the backend's goroutines.
type runner struct {
	h    *Host
	id   string
	acct string
	log  *slog.Logger

	ctx    context.Context // cancelled by halt
	cancel context.CancelFunc
	done   chan struct{}
	pokes  chan string // "" = reconcile, else an RPC id
	wake   chan struct{}

	mu         sync.Mutex
	client     wa.Client
	applied    int64
	leaseUntil time.Time
	loaded     bool

	// Sender state, used only on the sender goroutine.
	turn    int            // round-robin position among running campaigns
	tz      *time.Location // the account's time zone
	tzUntil time.Time
	// restricted caches whether the account restricted processing (read
	// at most every restrictionTTL), so a restricted account's queued
	// messages stay queued.
	restricted      bool
	restrictedUntil time.Time

	obsMu sync.Mutex // serialises observations (one DynamoDB write at a time)
	obs   sessions.Observation
}

func newRunner(h *Host, id, acct string, until time.Time) *runner {
	ctx, cancel := context.WithCancel(tenantCtx(context.Background(), acct))
	return &runner{h: h, id: id, acct: acct, log: h.log.With("session_id", id, "tenant_id", acct),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), pokes: make(chan string, 256), wake: make(chan struct{}, 1), leaseUntil: until}
}

func (r *runner) extend(until time.Time) {
	r.mu.Lock()
	r.leaseUntil = until
	r.mu.Unlock()
}

func (r *runner) leaseValid(at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return at.Before(r.leaseUntil)
}

func (r *runner) currentClient() wa.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client
}

func (r *runner) currentStatus() sessions.Status {
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	if r.obs.Status == "" {
		return sessions.StatusPending
	}
	return r.obs.Status
}

// poke asks the runner to reconcile ("") or to run an RPC. A full buffer
// drops the poke: the periodic resync recovers it.
func (r *runner) poke(rpcID string) {
	select {
	case r.pokes <- rpcID:
	default:
	}
}

func (r *runner) run() {
	sending := make(chan struct{})
	defer func() {
		r.cancel() // also ends the sender
		<-sending
		close(r.done)
	}()
	go func() {
		defer close(sending)
		r.sendLoop()
	}()
	if r.reconcile() {
		r.finish()
		return
	}
	for {
		select {
		case <-r.ctx.Done():
			return
		case rpcID := <-r.pokes:
			if rpcID != "" {
				r.runRPC(rpcID)
				continue
			}
			if r.reconcile() {
				r.finish()
				return
			}
		}
	}
}

// finish ends a runner whose session is gone.
func (r *runner) finish() {
	r.h.drop(r)
	r.closeClient()
	r.cancel()
}

// halt stops the runner and disconnects its client, keeping the login.
func (r *runner) halt() {
	r.cancel()
	<-r.done
	r.closeClient()
}

func (r *runner) closeClient() {
	r.mu.Lock()
	c := r.client
	r.client = nil
	r.mu.Unlock()
	if c != nil {
		c.Disconnect()
	}
}

// parked reports states that wait for the customer: after a logout, a
// failure or an expired QR code, the host does not reconnect by itself
// until a restart bumps the generation.
func parked(s sessions.Session) bool {
	if s.ObservedGeneration < s.Generation {
		return false
	}
	switch s.Status {
	case sessions.StatusLoggedOut, sessions.StatusFailed:
		return true
	case sessions.StatusDisconnected:
		return s.StatusReason == wa.ReasonQRExpired || s.StatusReason == wa.ReasonStreamReplaced
	}
	return false
}

// reconcile applies the session's desired state; true means the session
// is gone and the runner should end.
func (r *runner) reconcile() (gone bool) {
	ctx := r.ctx
	ses, err := r.h.store.FindSession(ctx, r.id)
	if errs.Is(err, errs.NotFound) {
		return true
	}
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("session read failed", "error", err.Error())
		}
		return false
	}
	// Lock order everywhere: obsMu before mu.
	r.mu.Lock()
	first := !r.loaded
	if first {
		r.loaded = true
		r.applied = ses.ObservedGeneration
	}
	client, applied := r.client, r.applied
	r.mu.Unlock()
	if first {
		r.obsMu.Lock()
		r.obs = sessions.Observation{Status: ses.Status, StatusReason: ses.StatusReason, Phone: ses.Phone, PushName: ses.PushName,
			ConnectedSince: ses.ConnectedSince, PairedAt: ses.PairedAt, ObservedGeneration: ses.ObservedGeneration, HostID: ses.HostID}
		r.obsMu.Unlock()
	}

	switch ses.Desired {
	case sessions.DesiredDeleted:
		r.unlink(ctx, client)
		if err := r.h.store.DeleteSessionData(ctx, r.id); err != nil {
			r.log.Warn("session delete failed; will retry", "error", err.Error())
			return false
		}
		r.log.Info("session deleted; device logged out and keys removed")
		return true

	case sessions.DesiredLoggedOut:
		if applied >= ses.Generation && ses.Status == sessions.StatusLoggedOut {
			break
		}
		r.unlink(ctx, client)
		r.setApplied(ses.Generation)
		_ = r.observe(func(o *sessions.Observation) {
			*o = sessions.Observation{Status: sessions.StatusLoggedOut, StatusReason: wa.ReasonLoggedOutByUser}
		})

	case sessions.DesiredActive:
		switch {
		case client == nil && parked(ses):
			// Waits for a restart.
		case client == nil:
			if err := r.open(ctx); err != nil {
				r.log.Error("whatsapp client start failed", "error", err.Error())
				_ = r.observe(func(o *sessions.Observation) {
					o.Status, o.StatusReason = sessions.StatusFailed, wa.ReasonConnectFailure
				})
				break
			}
			r.setApplied(ses.Generation)
		case ses.Generation > applied:
			r.log.Info("session restart")
			client.Disconnect()
			if err := client.Connect(ctx); err != nil {
				r.log.Warn("reconnect failed", "error", err.Error())
			}
			r.setApplied(ses.Generation)
		}
		if r.currentApplied() > ses.ObservedGeneration {
			_ = r.observe(func(o *sessions.Observation) {})
		}
	}

	rpcs, err := r.h.store.PendingRPCs(ctx, r.id)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("pending rpcs read failed", "error", err.Error())
		}
		return false
	}
	for _, rpc := range rpcs {
		r.runRPC(rpc.ID)
	}
	return false
}

func (r *runner) setApplied(g int64) {
	r.mu.Lock()
	r.applied = g
	r.mu.Unlock()
}

func (r *runner) currentApplied() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// open starts a client for the session and connects it.
func (r *runner) open(ctx context.Context) error {
	c, err := r.h.backend.Open(ctx, r.id, func(_ context.Context, ev wa.Event) error { return r.onEvent(ev) })
	if err != nil {
		return fmt.Errorf("open device store: %w", err)
	}
	r.mu.Lock()
	r.client = c
	r.mu.Unlock()
	if !c.Paired() {
		_ = r.observe(func(o *sessions.Observation) {
			o.Status, o.StatusReason, o.Phone, o.PushName = sessions.StatusPending, "", "", ""
		})
	}
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// unlink logs the device out (best effort: WhatsApp may be unreachable, or
// the phone already removed it) and deletes its keys.
func (r *runner) unlink(ctx context.Context, c wa.Client) {
	if c == nil {
		var err error
		c, err = r.h.backend.Open(ctx, r.id, func(context.Context, wa.Event) error { return nil })
		if err != nil {
			r.log.Warn("device store open for logout failed", "error", err.Error())
		}
	}
	if c != nil {
		if c.Paired() {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := c.Logout(lctx); err != nil {
				r.log.Warn("whatsapp logout failed; deleting keys anyway", "error", err.Error())
			}
			cancel()
		}
		c.Disconnect()
	}
	r.mu.Lock()
	if r.client == c {
		r.client = nil
	}
	r.mu.Unlock()
	if err := r.h.backend.Delete(ctx, r.id); err != nil {
		r.log.Error("device store delete failed", "error", err.Error())
	}
	if err := r.h.store.DeleteQR(ctx, r.id); err != nil {
		r.log.Warn("qr delete failed", "error", err.Error())
	}
}

// observe applies f to the last observation and writes it if it changed;
// a status change also publishes a session.status event.
func (r *runner) observe(f func(o *sessions.Observation)) error {
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	now := r.h.now().UTC()
	if !r.leaseValid(now) {
		return errors.New("lease expired; not writing")
	}
	prev := r.obs
	next := prev
	f(&next)
	next.HostID = r.h.cfg.ID
	next.ObservedGeneration = r.currentApplied()
	next.At = prev.At
	if next == prev {
		return nil
	}
	next.At = now
	if err := r.h.store.ObserveSession(r.ctx, r.id, next); err != nil {
		if errs.Is(err, errs.Conflict) {
			r.log.Warn("lease lost while writing state; stopping session")
			r.h.drop(r)
			go r.halt()
		}
		return fmt.Errorf("observe: %w", err)
	}
	r.obs = next
	if next.Status != prev.Status || next.StatusReason != prev.StatusReason {
		r.log.Info("session status", "status", string(next.Status), "reason", next.StatusReason)
		ev, err := events.New(events.SessionStatus, r.acct, r.id, now,
			events.SessionStatusData{Status: string(next.Status), Reason: next.StatusReason, Phone: next.Phone, PushName: next.PushName},
			string(next.Status), next.StatusReason, now.Format(time.RFC3339Nano))
		if err == nil {
			err = r.h.events.Publish(r.ctx, ev)
		}
		if err != nil {
			r.log.Warn("session.status event publish failed", "error", err.Error())
		}
	}
	return nil
}

// onEvent is the one switch over WhatsApp events. It returns nil only when
// the event's effect is durable, so the backend acknowledges it then.
func (r *runner) onEvent(ev wa.Event) error {
	set := func(st sessions.Status, reason string) error {
		return r.observe(func(o *sessions.Observation) { o.Status, o.StatusReason = st, reason })
	}
	switch e := ev.(type) {
	case wa.QR:
		if err := r.h.store.PutQR(r.ctx, r.id, sessions.QR{Code: e.Code, ExpiresAt: e.ExpiresAt}); err != nil {
			return fmt.Errorf("store qr: %w", err)
		}
		return set(sessions.StatusWaitingForQR, "")
	case wa.QRTimeout:
		_ = r.h.store.DeleteQR(r.ctx, r.id)
		return set(sessions.StatusDisconnected, wa.ReasonQRExpired)
	case wa.PairSuccess:
		_ = r.h.store.DeleteQR(r.ctx, r.id)
		return r.observe(func(o *sessions.Observation) {
			o.Status, o.StatusReason, o.Phone, o.PushName = sessions.StatusPairing, "", e.Phone, e.PushName
			o.PairedAt = r.h.now().UTC()
		})
	case wa.PairError:
		return set(sessions.StatusFailed, wa.ReasonPairFailed)
	case wa.Connected:
		defer r.wakeSender() // messages may be waiting for the connection
		return r.observe(func(o *sessions.Observation) {
			o.Status, o.StatusReason, o.Phone, o.PushName = sessions.StatusConnected, "", e.Phone, e.PushName
			o.ConnectedSince = r.h.now().UTC()
		})
	case wa.Disconnected:
		return set(sessions.StatusDisconnected, wa.ReasonNetwork) // the backend reconnects by itself
	case wa.LoggedOut:
		reason := e.Reason
		if reason == "" {
			reason = wa.ReasonLoggedOutByPhone
		}
		go r.forget() // not from inside the backend's own callback
		return r.observe(func(o *sessions.Observation) {
			o.Status, o.StatusReason, o.Phone, o.PushName = sessions.StatusLoggedOut, reason, "", ""
		})
	case wa.StreamReplaced:
		// Another client uses these keys; reconnecting would fight it.
		go r.closeClient()
		return set(sessions.StatusDisconnected, wa.ReasonStreamReplaced)
	case wa.TemporaryBan:
		return set(sessions.StatusDisconnected, wa.ReasonTemporarilyBanned)
	case wa.ConnectFailure:
		reason := e.Reason
		if reason == "" {
			reason = wa.ReasonConnectFailure
		}
		return set(sessions.StatusFailed, reason)
	case wa.KeepAliveTimeout:
		return r.observe(func(o *sessions.Observation) { o.StatusReason = wa.ReasonKeepAliveTimeout })
	case wa.KeepAliveRestored:
		return r.observe(func(o *sessions.Observation) {
			if o.StatusReason == wa.ReasonKeepAliveTimeout {
				o.StatusReason = ""
			}
		})
	case wa.Receipt:
		ev, err := events.New(events.MessageReceipt, r.acct, r.id, e.At,
			events.ReceiptData{WhatsAppIDs: e.MessageIDs, From: e.From, Type: string(e.Type), At: e.At},
			append([]string{string(e.Type)}, e.MessageIDs...)...)
		if err != nil {
			return err
		}
		return r.h.events.Publish(r.ctx, ev)
	case wa.Message:
		data := events.InboundData{WhatsAppID: e.ID, From: e.From, PushName: e.PushName, Chat: e.Chat, IsGroup: e.IsGroup,
			FromMe: e.FromMe, Text: e.Text, At: e.At}
		if e.Media != nil {
			data.Media = &events.MediaData{Type: e.Media.Type, MimeType: e.Media.MimeType, Size: e.Media.Size, Filename: e.Media.Filename}
		}
		ev, err := events.New(events.MessageReceived, r.acct, r.id, e.At, data, e.ID)
		if err != nil {
			return err
		}
		return r.h.events.Publish(r.ctx, ev)
	default:
		r.log.Debug("whatsapp event ignored", "type", fmt.Sprintf("%T", ev))
		return nil
	}
}

// forget drops a client whose login WhatsApp revoked and deletes its keys.
func (r *runner) forget() {
	r.closeClient()
	if err := r.h.backend.Delete(r.ctx, r.id); err != nil {
		r.log.Error("device store delete failed", "error", err.Error())
	}
}

// runRPC executes one pending RPC on the live client and records the result.
func (r *runner) runRPC(rpcID string) {
	ctx := r.ctx
	rpc, err := r.h.store.FindRPC(ctx, r.id, rpcID)
	if err != nil || rpc.Status != sessions.RPCPending {
		return
	}
	result, err := r.execRPC(ctx, rpc)
	if err != nil {
		rpc.Status = sessions.RPCFailed
		e, ok := errs.As(err)
		if !ok {
			r.log.Warn("rpc failed", "kind", string(rpc.Kind), "error", err.Error())
			e = errs.E(errs.Unavailable, "WhatsApp did not complete the request; retry shortly")
		}
		rpc.ErrorCode, rpc.ErrorMessage = string(e.Code), e.Message
	} else {
		rpc.Status = sessions.RPCDone
		rpc.Result, err = json.Marshal(result)
		if err != nil {
			rpc.Status, rpc.ErrorCode, rpc.ErrorMessage = sessions.RPCFailed, string(errs.Internal), "internal error"
		}
	}
	if err := r.h.store.CompleteRPC(ctx, rpc); err != nil && !errs.Is(err, errs.Conflict) {
		r.log.Warn("rpc completion failed", "kind", string(rpc.Kind), "error", err.Error())
	}
}

func (r *runner) execRPC(ctx context.Context, rpc sessions.RPC) (any, error) {
	c := r.currentClient()
	if c == nil {
		return nil, errs.E(errs.Conflict, "the session is not running; restart it")
	}
	mapErr := func(err error) error {
		switch {
		case errors.Is(err, wa.ErrNotConnected):
			return errs.E(errs.Conflict, "the session is not connected to WhatsApp")
		case errors.Is(err, wa.ErrAlreadyPaired):
			return errs.E(errs.Conflict, "the session is already paired")
		}
		return err
	}
	switch rpc.Kind {
	case sessions.RPCPairPhone:
		var a sessions.PairPhoneArgs
		if err := json.Unmarshal(rpc.Args, &a); err != nil {
			return nil, errs.E(errs.Invalid, "bad arguments")
		}
		code, err := c.PairPhone(ctx, a.Phone)
		if err != nil {
			return nil, mapErr(err)
		}
		return sessions.PairPhoneResult{Code: code}, nil
	case sessions.RPCGroups:
		groups, err := c.JoinedGroups(ctx)
		if err != nil {
			return nil, mapErr(err)
		}
		out := make([]sessions.Group, len(groups))
		for i, g := range groups {
			out[i] = sessions.Group{JID: g.JID, Name: g.Name, Participants: g.Participants, IsAnnounce: g.IsAnnounce, CreatedAt: g.CreatedAt}
		}
		return out, nil
	case sessions.RPCCheckNumbers:
		var a sessions.CheckNumbersArgs
		if err := json.Unmarshal(rpc.Args, &a); err != nil {
			return nil, errs.E(errs.Invalid, "bad arguments")
		}
		res, err := c.CheckNumbers(ctx, a.Phones)
		if err != nil {
			return nil, mapErr(err)
		}
		out := make([]sessions.NumberStatus, len(res))
		for i, n := range res {
			out[i] = sessions.NumberStatus{Phone: n.Phone, OnWhatsApp: n.OnWhatsApp}
		}
		return out, nil
	case sessions.RPCSimScan, sessions.RPCSimInbound:
		sim, ok := c.(wa.Simulated)
		if !ok {
			return nil, errs.E(errs.Conflict, "this session does not run on the simulator")
		}
		if rpc.Kind == sessions.RPCSimScan {
			if err := sim.Scan(); err != nil {
				return nil, errs.E(errs.Conflict, "%s", err.Error())
			}
			return struct{}{}, nil
		}
		var a sessions.SimInboundArgs
		if err := json.Unmarshal(rpc.Args, &a); err != nil {
			return nil, errs.E(errs.Invalid, "bad arguments")
		}
		return struct{}{}, mapErr(sim.Inbound(a.From, a.Text))
	}
	return nil, errs.E(errs.Invalid, "unknown request kind %q", rpc.Kind)
}
