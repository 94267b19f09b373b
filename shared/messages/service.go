package messages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/phone"
	"github.com/chatsend/chatsend/shared/retention"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tenant"
)

// Limits of a message.
const (
	MaxText     = 4096
	MaxCaption  = 1024
	MaxFilename = 255
	MaxKey      = 255
)

// SuppressionChecker tells which phones may not be messaged.
type SuppressionChecker interface {
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
}

// Settings are the account settings that messages follow.
type Settings struct {
	// Region is the default phone region ("" for none).
	Region string
	// BodyRetention is how long a body is kept once its message is final.
	BodyRetention time.Duration
	// Refuse, when set, refuses new sends (errs.AccountRestricted while
	// the account's processing is restricted).
	Refuse error
}

// Options configure a Service.
type Options struct {
	Store    Store
	Sessions sessions.Finder
	// Suppressions, when set, turns sends to suppressed phones into
	// skipped messages.
	Suppressions SuppressionChecker
	// Settings returns the caller's account settings messages follow.
	Settings   func(ctx context.Context) (Settings, error)
	Dispatcher Dispatcher
	// Events receives a message.status event for each new message.
	Events events.Publisher
	Logger *slog.Logger
	// AllowHTTPMedia permits plain-http media URLs (local development).
	AllowHTTPMedia bool
	Now            func() time.Time
	// Quota reserves the month's message quota before a message is
	// queued (nil: unlimited).
	Quota Quota
}

// Quota is the monthly message quota (package billing).
type Quota interface {
	// ReserveMessages reserves n messages; a plan-limit or suspended
	// problem when they do not fit.
	ReserveMessages(ctx context.Context, n int64) error
	// ReleaseMessages gives back n reserved messages that are not sent.
	ReleaseMessages(ctx context.Context, n int64) error
}

// Service implements the messages API.
type Service struct{ o Options }

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settings == nil {
		o.Settings = func(context.Context) (Settings, error) {
			return Settings{BodyRetention: retention.PolicyFor(retention.MessageBody).Period}, nil
		}
	}
	return &Service{o: o}
}

// SendInput is the body of POST /v1/messages.
type SendInput struct {
	SessionID      string
	To             string
	Text           string
	Media          *Media
	IdempotencyKey string
}

// Send validates and queues a message. With an idempotency key, a repeat
// of the same request returns the first message (replayed = true) and a
// different request with the same key is errs.Conflict.
func (s *Service) Send(ctx context.Context, in SendInput) (m Message, replayed bool, err error) {
	set, err := s.o.Settings(ctx)
	if err != nil {
		return Message{}, false, err
	}
	to, err := s.validate(&in, set.Region)
	if err != nil {
		return Message{}, false, err
	}
	if set.Refuse != nil {
		return Message{}, false, set.Refuse
	}
	var idem *Idempotency
	if in.IdempotencyKey != "" {
		idem = &Idempotency{Key: in.IdempotencyKey, RequestHash: requestHash(in, to)}
		if prev, ok, err := s.replay(ctx, *idem); err != nil || ok {
			return prev, ok, err
		}
	}
	ses, err := s.o.Sessions.FindSession(ctx, in.SessionID)
	if err != nil || ses.Desired == sessions.DesiredDeleted {
		return Message{}, false, errs.E(errs.NotFound, "no session %q", in.SessionID)
	}
	if ses.Status != sessions.StatusConnected {
		return Message{}, false, errs.E(errs.Conflict, "session %s is %s; messages can be sent only on a connected session", ses.ID, ses.Status)
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return Message{}, false, err
	}
	now := s.o.Now().UTC()
	m = Message{ID: ids.New(ids.Message), AccountID: acct, SessionID: ses.ID, To: to, Text: in.Text, Media: in.Media,
		Status: StatusQueued, BodyRetention: &set.BodyRetention, CreatedAt: now, UpdatedAt: now}
	m.History = []Change{{Status: StatusQueued, At: now}}
	if s.o.Suppressions != nil {
		sup, err := s.o.Suppressions.Suppressed(ctx, []string{to})
		if err != nil {
			return Message{}, false, fmt.Errorf("check suppression: %w", err)
		}
		if sup[to] {
			m.Status, m.Reason = StatusSkipped, ReasonSuppressed
			m.History = append(m.History, Change{Status: StatusSkipped, Reason: ReasonSuppressed, At: now})
		}
	}
	if idem != nil {
		idem.MessageID = m.ID
	}
	// A skipped (suppressed) message is never sent, so it reserves nothing.
	reserved := s.o.Quota != nil && m.Status == StatusQueued
	if reserved {
		if err := s.o.Quota.ReserveMessages(ctx, 1); err != nil {
			return Message{}, false, err
		}
	}
	log := logging.Or(ctx, s.o.Logger)
	if err := s.o.Store.CreateMessage(ctx, m, idem); err != nil {
		if reserved {
			if rerr := s.o.Quota.ReleaseMessages(ctx, 1); rerr != nil {
				log.WarnContext(ctx, "message quota not released", "error", rerr.Error())
			}
		}
		if errs.Is(err, errs.Conflict) && idem != nil { // a concurrent request with the same key won
			return s.mustReplay(ctx, *idem)
		}
		return Message{}, false, fmt.Errorf("create message: %w", err)
	}
	if s.o.Events != nil {
		if err := events.PublishMessageStatus(ctx, s.o.Events, acct, events.MessageStatusData{MessageID: m.ID, SessionID: m.SessionID,
			To: m.To, Status: string(m.Status), Reason: m.Reason, At: now}); err != nil {
			log.WarnContext(ctx, "message status event publish failed", "message_id", m.ID, "error", err.Error())
		}
	}
	if m.Status == StatusQueued {
		if err := s.o.Dispatcher.Wake(ctx, acct, ses.ID, m.ID); err != nil {
			// The host's periodic scan of the session's queue sends it anyway.
			log.WarnContext(ctx, "send wake-up failed", "message_id", m.ID, "error", err.Error())
		}
	}
	log.InfoContext(ctx, "message queued", "message_id", m.ID, "session_id", ses.ID, "to", logging.MaskPhone(to), "status", string(m.Status))
	return m, false, nil
}

func (s *Service) replay(ctx context.Context, idem Idempotency) (Message, bool, error) {
	prev, err := s.o.Store.FindIdempotency(ctx, idem.Key)
	if errs.Is(err, errs.NotFound) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if prev.RequestHash != idem.RequestHash {
		return Message{}, false, errs.E(errs.Conflict, "this Idempotency-Key was used with a different request body; use a new key")
	}
	m, err := s.o.Store.FindMessage(ctx, prev.MessageID)
	if err != nil {
		return Message{}, false, fmt.Errorf("read replayed message: %w", err)
	}
	return m, true, nil
}

func (s *Service) mustReplay(ctx context.Context, idem Idempotency) (Message, bool, error) {
	m, ok, err := s.replay(ctx, idem)
	if err == nil && !ok {
		err = errs.E(errs.Conflict, "a request with this Idempotency-Key is in progress; retry")
	}
	return m, ok, err
}

// requestHash fingerprints what makes two requests "the same".
func requestHash(in SendInput, to string) string {
	b, _ := json.Marshal(struct {
		S, T, X string
		M       *Media
	}{in.SessionID, to, in.Text, in.Media})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Service) validate(in *SendInput, region string) (string, error) {
	var fields []errs.FieldError
	add := func(f, msg string) { fields = append(fields, errs.FieldError{Field: f, Message: msg}) }
	if !ids.Valid(ids.Session, in.SessionID) {
		add("body.session_id", "session_id must be a session id (ses_…)")
	}
	to, msg := phone.Normalize(in.To, region)
	if msg != "" {
		add("body.to", msg)
	}
	if len(in.Text) > MaxText {
		add("body.text", fmt.Sprintf("text must be at most %d bytes", MaxText))
	}
	if in.Media == nil && strings.TrimSpace(in.Text) == "" {
		add("body.text", "text is required unless media is sent")
	}
	if m := in.Media; m != nil {
		switch m.Type {
		case "image", "document", "audio", "video":
		default:
			add("body.media.type", "media.type must be one of image, document, audio, video")
		}
		if err := netguard.CheckURL(m.URL, s.o.AllowHTTPMedia); err != nil {
			add("body.media.url", "media.url "+err.Error())
		}
		if len(m.Caption) > MaxCaption {
			add("body.media.caption", fmt.Sprintf("caption must be at most %d bytes", MaxCaption))
		}
		if len(m.Filename) > MaxFilename || strings.ContainsAny(m.Filename, "/\\\x00") {
			add("body.media.filename", "filename must be a plain file name of at most 255 bytes")
		}
		if m.Type == "audio" && (m.Caption != "" || in.Text != "") {
			add("body.media.caption", "audio messages cannot carry text or a caption on WhatsApp")
		}
	}
	if len(in.IdempotencyKey) > MaxKey {
		add("header.Idempotency-Key", "Idempotency-Key must be at most 255 characters")
	}
	if len(fields) > 0 {
		return "", errs.InvalidFields(fields...)
	}
	return to, nil
}

// Get returns one message.
func (s *Service) Get(ctx context.Context, id string) (Message, error) {
	if !ids.Valid(ids.Message, id) {
		return Message{}, errs.E(errs.NotFound, "no message %q", id)
	}
	return s.o.Store.FindMessage(ctx, id)
}

// List lists messages.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	if f.To != "" {
		set, err := s.o.Settings(ctx)
		if err != nil {
			return Page{}, err
		}
		to, msg := phone.Normalize(f.To, set.Region)
		if msg != "" {
			return Page{}, errs.InvalidFields(errs.FieldError{Field: "query.to", Message: msg})
		}
		f.To = to
	}
	if f.Status != "" && f.Status.Rank() < 0 {
		return Page{}, errs.InvalidFields(errs.FieldError{Field: "query.status", Message: "unknown status"})
	}
	return s.o.Store.ListMessages(ctx, f)
}

// ApplyReceipt moves the messages behind WhatsApp ids to delivered or read
// and returns those that changed. Unknown ids (sent from the phone) are
// ignored; stale or repeated receipts change nothing. Tenant-scoped.
func (s *Service) ApplyReceipt(ctx context.Context, waIDs []string, typ string, at time.Time) ([]Message, error) {
	to := StatusDelivered
	if typ == "read" || typ == "played" {
		to = StatusRead
	}
	var changed []Message
	for _, wa := range waIDs {
		id, ok := IDFromWhatsApp(wa)
		if !ok {
			continue
		}
		m, err := s.o.Store.Transition(ctx, id, Update{From: Before(to), To: to, At: at})
		switch {
		case err == nil:
			changed = append(changed, m)
		case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
		default:
			return changed, fmt.Errorf("apply %s receipt to %s: %w", typ, id, err)
		}
	}
	return changed, nil
}
