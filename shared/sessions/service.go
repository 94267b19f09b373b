package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/tenant"
)

// RPC arguments and results, as stored in RPC.Args and RPC.Result.
type (
	// PairPhoneArgs asks for a pairing code.
	PairPhoneArgs struct {
		Phone string `json:"phone"`
	}
	// PairPhoneResult is the code to type on the phone.
	PairPhoneResult struct {
		Code string `json:"code"`
	}
	// Group is a WhatsApp group.
	Group struct {
		JID          string    `json:"jid"`
		Name         string    `json:"name"`
		Participants int       `json:"participants"`
		IsAnnounce   bool      `json:"is_announce"`
		CreatedAt    time.Time `json:"created_at"`
	}
	// CheckNumbersArgs lists phones to check.
	CheckNumbersArgs struct {
		Phones []string `json:"phones"`
	}
	// NumberStatus says whether a phone has WhatsApp.
	NumberStatus struct {
		Phone      string `json:"phone"`
		OnWhatsApp bool   `json:"on_whatsapp"`
	}
	// SimInboundArgs makes a contact write to a simulated session.
	SimInboundArgs struct {
		From string `json:"from"`
		Text string `json:"text"`
	}
)

// MaxCheckNumbers bounds one check-numbers request.
const MaxCheckNumbers = 100

// Options configure a Service.
type Options struct {
	Store    Store
	Notifier Notifier
	Logger   *slog.Logger
	// Backend is the configured WhatsApp backend, stamped on new sessions.
	Backend string
	// RPCTimeout bounds how long the API waits for the host (default 15 s,
	// inside API Gateway's 30 s).
	RPCTimeout time.Duration
	Now        func() time.Time
	// Quota enforces the plan's session limit (nil: unlimited).
	Quota Quota
}

// Quota enforces a plan limit (package billing).
type Quota interface {
	// Check refuses adding more of a limited resource beyond the plan.
	Check(ctx context.Context, l billing.Limit, adding int64) error
}

// Service implements the sessions API.
type Service struct {
	store   Store
	notify  Notifier
	log     *slog.Logger
	backend string
	timeout time.Duration
	now     func() time.Time
	quota   Quota
}

// NewService returns a Service.
func NewService(o Options) *Service {
	s := &Service{store: o.Store, notify: o.Notifier, log: o.Logger, backend: o.Backend, timeout: o.RPCTimeout, now: o.Now, quota: o.Quota}
	if s.log == nil {
		s.log = logging.Discard()
	}
	if s.timeout == 0 {
		s.timeout = 15 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Simulated reports whether sessions run on the simulator backend.
func (s *Service) Simulated() bool { return s.backend == "simulator" }

// Create makes a session and asks a host to start pairing it.
func (s *Service) Create(ctx context.Context, label string) (Session, error) {
	label = strings.TrimSpace(label)
	if n := len([]rune(label)); n == 0 || n > 100 {
		return Session{}, errs.InvalidFields(errs.FieldError{Field: "body.label", Message: "label must be 1 to 100 characters"})
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Session{}, err
	}
	if s.quota != nil {
		if err := s.quota.Check(ctx, billing.LimitSessions, 1); err != nil {
			return Session{}, err
		}
	}
	now := s.now().UTC()
	ses := Session{ID: ids.New(ids.Session), AccountID: acct, Label: label, Backend: s.backend,
		Desired: DesiredActive, Generation: 1, Status: StatusPending, CreatedAt: now, UpdatedAt: now, LastEventAt: now}
	if err := s.store.CreateSession(ctx, ses); err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	s.hint(ctx, ses.ID, "")
	logging.Or(ctx, s.log).InfoContext(ctx, "session created", "session_id", ses.ID, "backend", ses.Backend)
	return ses, nil
}

// hint notifies the hosts; a lost hint only delays the change until the
// host's periodic resync, so failures are logged, not returned.
func (s *Service) hint(ctx context.Context, sessionID, rpcID string) {
	acct, _ := tenant.AccountID(ctx)
	if err := s.notify.Notify(ctx, Control{SessionID: sessionID, AccountID: acct, RPCID: rpcID}); err != nil {
		logging.Or(ctx, s.log).WarnContext(ctx, "session control hint failed", "session_id", sessionID, "error", err.Error())
	}
}

// Get returns one session.
func (s *Service) Get(ctx context.Context, id string) (Session, error) {
	if !ids.Valid(ids.Session, id) {
		return Session{}, errs.E(errs.NotFound, "no session %q", id)
	}
	ses, err := s.store.FindSession(ctx, id)
	if err == nil && ses.Desired == DesiredDeleted {
		return Session{}, errs.E(errs.NotFound, "no session %q", id)
	}
	return ses, err
}

// List returns the account's sessions.
func (s *Service) List(ctx context.Context) ([]Session, error) { return s.store.ListSessions(ctx) }

// Delete logs the session out, deletes its device keys and removes it.
func (s *Service) Delete(ctx context.Context, id string) error {
	_, err := s.control(ctx, id, DesiredDeleted)
	return err
}

// Restart reconnects a session (pairing again if it was logged out).
func (s *Service) Restart(ctx context.Context, id string) (Session, error) {
	return s.control(ctx, id, DesiredActive)
}

// Logout unlinks the session's device and deletes its keys; the session
// stays, logged out, until restarted or deleted.
func (s *Service) Logout(ctx context.Context, id string) (Session, error) {
	return s.control(ctx, id, DesiredLoggedOut)
}

func (s *Service) control(ctx context.Context, id string, d Desired) (Session, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Session{}, err
	}
	ses, err := s.store.SetDesired(ctx, id, d, s.now().UTC())
	if err != nil {
		return Session{}, fmt.Errorf("set desired %s: %w", d, err)
	}
	s.hint(ctx, id, "")
	logging.Or(ctx, s.log).InfoContext(ctx, "session control", "session_id", id, "desired", string(d), "generation", ses.Generation)
	return ses, nil
}

// QR returns the QR code to scan; errs.Conflict unless the session is
// waiting for a scan.
func (s *Service) QR(ctx context.Context, id string) (QR, error) {
	ses, err := s.Get(ctx, id)
	if err != nil {
		return QR{}, err
	}
	if ses.Status != StatusWaitingForQR {
		return QR{}, errs.E(errs.Conflict, "session is %s, not waiting_for_qr: a QR code exists only while pairing (restart a logged-out session to pair again)", ses.Status)
	}
	qr, err := s.store.FindQR(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return QR{}, errs.E(errs.Conflict, "the QR code expired; the next one is on its way, retry in a few seconds")
	}
	return qr, err
}

// PairCode asks WhatsApp for a code to link the session by phone number.
func (s *Service) PairCode(ctx context.Context, id, rawPhone string) (string, error) {
	p, msg := phone.NormalizeE164(rawPhone)
	if msg != "" {
		return "", errs.InvalidFields(errs.FieldError{Field: "body.phone", Message: msg})
	}
	ses, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if ses.Status != StatusWaitingForQR {
		return "", errs.E(errs.Conflict, "session is %s: pairing by phone works only while it waits for pairing (waiting_for_qr)", ses.Status)
	}
	var res PairPhoneResult
	if err := s.call(ctx, ses, RPCPairPhone, PairPhoneArgs{Phone: p}, &res); err != nil {
		return "", err
	}
	return res.Code, nil
}

// Groups lists the WhatsApp groups of a connected session.
func (s *Service) Groups(ctx context.Context, id string) ([]Group, error) {
	ses, err := s.connected(ctx, id)
	if err != nil {
		return nil, err
	}
	var res []Group
	if err := s.call(ctx, ses, RPCGroups, struct{}{}, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// CheckNumbers reports which phones have WhatsApp.
func (s *Service) CheckNumbers(ctx context.Context, id string, phones []string) ([]NumberStatus, error) {
	if len(phones) == 0 || len(phones) > MaxCheckNumbers {
		return nil, errs.InvalidFields(errs.FieldError{Field: "body.phones", Message: fmt.Sprintf("phones must list 1 to %d numbers", MaxCheckNumbers)})
	}
	var fields []errs.FieldError
	norm := make([]string, len(phones))
	for i, raw := range phones {
		p, msg := phone.NormalizeE164(raw)
		if msg != "" {
			fields = append(fields, errs.FieldError{Field: fmt.Sprintf("body.phones[%d]", i), Message: msg})
		}
		norm[i] = p
	}
	if len(fields) > 0 {
		return nil, errs.InvalidFields(fields...)
	}
	ses, err := s.connected(ctx, id)
	if err != nil {
		return nil, err
	}
	var res []NumberStatus
	if err := s.call(ctx, ses, RPCCheckNumbers, CheckNumbersArgs{Phones: norm}, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// SimulateScan scans a simulated session's QR code (simulator only).
func (s *Service) SimulateScan(ctx context.Context, id string) error {
	ses, err := s.simulated(ctx, id)
	if err != nil {
		return err
	}
	if ses.Status != StatusWaitingForQR {
		return errs.E(errs.Conflict, "session is %s: only a session waiting_for_qr can be scanned", ses.Status)
	}
	return s.call(ctx, ses, RPCSimScan, struct{}{}, nil)
}

// SimulateInbound makes a contact write to a simulated session.
func (s *Service) SimulateInbound(ctx context.Context, id, from, text string) error {
	p, msg := phone.NormalizeE164(from)
	if msg != "" {
		return errs.InvalidFields(errs.FieldError{Field: "body.from", Message: msg})
	}
	if text == "" || len(text) > 4096 {
		return errs.InvalidFields(errs.FieldError{Field: "body.text", Message: "text must be 1 to 4096 bytes"})
	}
	ses, err := s.simulated(ctx, id)
	if err != nil {
		return err
	}
	if ses.Status != StatusConnected {
		return errs.E(errs.Conflict, "session is %s: only a connected session receives messages", ses.Status)
	}
	return s.call(ctx, ses, RPCSimInbound, SimInboundArgs{From: p, Text: text}, nil)
}

func (s *Service) simulated(ctx context.Context, id string) (Session, error) {
	ses, err := s.Get(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if ses.Backend != "simulator" {
		return Session{}, errs.E(errs.Conflict, "session %s runs on the real WhatsApp backend; simulator controls do not apply", id)
	}
	return ses, nil
}

func (s *Service) connected(ctx context.Context, id string) (Session, error) {
	ses, err := s.Get(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if ses.Status != StatusConnected {
		return Session{}, errs.E(errs.Conflict, "session is %s; this needs a connected session", ses.Status)
	}
	return ses, nil
}

// call runs an RPC on the host holding the session and waits for it.
func (s *Service) call(ctx context.Context, ses Session, kind RPCKind, args, out any) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s args: %w", kind, err)
	}
	now := s.now().UTC()
	r := RPC{ID: ids.New("rpc"), SessionID: ses.ID, AccountID: ses.AccountID, Kind: kind, Args: raw,
		Status: RPCPending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.store.CreateRPC(ctx, r); err != nil {
		return fmt.Errorf("create rpc: %w", err)
	}
	s.hint(ctx, ses.ID, r.ID)
	deadline := time.Now().Add(s.timeout)
	wait := 20 * time.Millisecond
	for {
		got, err := s.store.FindRPC(ctx, ses.ID, r.ID)
		if err != nil {
			return fmt.Errorf("read rpc: %w", err)
		}
		switch got.Status {
		case RPCDone:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(got.Result, out); err != nil {
				return fmt.Errorf("decode %s result: %w", kind, err)
			}
			return nil
		case RPCFailed:
			return &errs.Error{Code: errs.Code(got.ErrorCode), Message: got.ErrorMessage}
		}
		if time.Now().After(deadline) {
			return errs.E(errs.Unavailable, "the session host did not answer within %s; retry shortly", s.timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}
