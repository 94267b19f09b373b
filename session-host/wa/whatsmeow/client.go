package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wm "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"

	"github.com/chatsend/chatsend/session-host/wa"
)

const (
	// pairClientName is how the linked device presents itself when linking
	// by phone number. WhatsApp accepts only "Browser (OS)" names of common
	// browsers and answers 400 otherwise.
	pairClientName = "Chrome (Linux)"
	// qrStopWait bounds how long stopping a QR channel waits for its
	// goroutine (which may be inside a Handler call).
	qrStopWait = 5 * time.Second
	// lidLookupTimeout bounds one LID → phone lookup in the device store.
	lidLookupTimeout = 5 * time.Second
)

// errClosed is returned by a client whose Backend closed it.
var errClosed = errors.New("whatsmeow client closed")

// client is one linked WhatsApp device: a whatsmeow client on its own
// device store.
type client struct {
	sessionID string
	log       *slog.Logger
	cli       *wm.Client
	container *sqlstore.Container
	handle    wa.Handler
	tr        Translator

	// ctx lives as long as the client: whatsmeow's connection loops,
	// auto-reconnects, the QR channel and Handler calls run under it.
	ctx    context.Context
	cancel context.CancelFunc

	// emitMu makes Handler calls one at a time, in the order they come.
	emitMu sync.Mutex

	// connMu serializes Connect, Disconnect, Logout and close.
	connMu sync.Mutex
	qr     *qrSession // guarded by connMu

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ wa.Client = (*client)(nil)

// newClient builds the whatsmeow client for device and registers the one
// event handler. ctx's values are kept but not its cancellation: the client
// outlives the Open call.
func newClient(ctx context.Context, sessionID string, container *sqlstore.Container, device *store.Device,
	handle wa.Handler, log *slog.Logger, walog waLog.Logger) *client {
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cli := wm.NewClient(device, walog)
	// Ack messages and receipts only after every handler returned true, so
	// WhatsApp redelivers what the Handler could not make durable.
	cli.SynchronousAck = true
	// A redelivered message cannot be decrypted twice (the Signal ratchet
	// has moved on): whatsmeow keeps the plaintext in the device store until
	// the handler succeeds, and re-dispatches it from there.
	cli.EnableDecryptedEventBuffer = true
	cli.EnableAutoReconnect = true
	cli.BackgroundEventCtx = life
	c := &client{
		sessionID: sessionID,
		log:       log,
		cli:       cli,
		container: container,
		handle:    handle,
		ctx:       life,
		cancel:    cancel,
	}
	c.tr = Translator{Self: c.self, PhoneForLID: c.phoneForLID, Log: log}
	cli.AddEventHandlerWithSuccessStatus(c.handleEvent)
	return c
}

// handleEvent is the handler registered with whatsmeow. Its result decides
// whether whatsmeow acknowledges a message or receipt: false withholds the
// ack, and WhatsApp delivers the stanza again (after the next reconnect).
func (c *client) handleEvent(evt any) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			// whatsmeow would recover too, but then acknowledge the event.
			c.log.Error("whatsapp_event_handler_panic", "event_type", fmt.Sprintf("%T", evt),
				"panic", redactPhones(fmt.Sprint(r)))
			ok = false
		}
	}()
	ev, translated := c.tr.Translate(evt)
	if !translated {
		return true
	}
	if c.closed.Load() {
		return false
	}
	if err := c.emit(ev); err != nil {
		c.log.Warn("whatsapp_event_not_acknowledged", "event_type", fmt.Sprintf("%T", ev),
			"error", redactPhones(err.Error()))
		return false
	}
	return true
}

// emit hands one event to the Handler, one call at a time.
func (c *client) emit(ev wa.Event) error {
	c.emitMu.Lock()
	defer c.emitMu.Unlock()
	return c.handle(c.ctx, ev)
}

func (c *client) self() (types.JID, string) {
	return c.cli.Store.GetJID(), c.cli.Store.PushName
}

// phoneForLID reads whatsmeow's LID ↔ phone map, which whatsmeow fills from
// message stanzas, group member lists and usync answers.
func (c *client) phoneForLID(lid types.JID) types.JID {
	ctx, cancel := context.WithTimeout(c.ctx, lidLookupTimeout)
	defer cancel()
	pn, err := c.container.LIDMap.GetPNForLID(ctx, lid)
	if err != nil {
		c.log.Debug("whatsapp_lid_lookup_failed", "error", err)
		return types.EmptyJID
	}
	return pn
}

// Connect connects in the background. A device without a login first gets
// a QR channel; its codes reach the Handler as wa.QR, and wa.QRTimeout when
// they run out unscanned (about 160 s: one 60 s code, then 20 s ones), after
// which whatsmeow disconnects. ctx is checked before dialling, but the
// connection outlives it: whatsmeow ties its loops to the context it
// connects with, so that is the client's own.
func (c *client) Connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect session %s: %w", c.sessionID, err)
	}
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("connect session %s: %w", c.sessionID, errClosed)
	}
	if c.cli.IsConnected() {
		return nil
	}
	if c.cli.Store.ID == nil {
		if err := c.prepareQRLocked(); err != nil {
			return fmt.Errorf("connect session %s: %w", c.sessionID, err)
		}
	}
	if err := c.cli.ConnectContext(c.ctx); err != nil && !errors.Is(err, wm.ErrAlreadyConnected) {
		return fmt.Errorf("connect session %s: %w", c.sessionID, redact(err))
	}
	return nil
}

// Disconnect closes the connection; the login stays. whatsmeow emits no
// event for a disconnect it was asked for.
func (c *client) Disconnect() {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	c.disconnectLocked()
}

func (c *client) disconnectLocked() {
	c.cli.Disconnect()
	// A QR channel whose codes are rotating would go on emitting them, and
	// disconnect whatever connection is up when they run out: stop it. One
	// that never got a code stays for the next Connect (see prepareQRLocked).
	if q := c.qr; q != nil && q.started() {
		c.stopQR(q)
		c.qr = nil
	}
}

// Paired reports whether the device store holds a login.
func (c *client) Paired() bool {
	return c.cli.Store.ID != nil
}

// Logout unlinks the device on WhatsApp's side and deletes it from the
// store. Without a login it only disconnects. Without a connection WhatsApp
// cannot be told: the device is deleted locally and the phone keeps listing
// it under Linked devices until WhatsApp drops it for inactivity. If
// WhatsApp refuses the logout, nothing is deleted (whatsmeow's behaviour)
// and the error is returned.
func (c *client) Logout(ctx context.Context) error {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.cli.Store.ID == nil {
		c.disconnectLocked()
		return nil
	}
	if c.cli.IsLoggedIn() {
		// Disconnects and deletes the device from the store on success.
		if err := c.cli.Logout(ctx); err != nil {
			return fmt.Errorf("logout session %s: %w", c.sessionID, redact(err))
		}
		return nil
	}
	c.disconnectLocked()
	if err := c.cli.Store.Delete(ctx); err != nil {
		return fmt.Errorf("logout session %s: delete device: %w", c.sessionID, err)
	}
	c.log.Warn("whatsapp_logout_local_only")
	return nil
}

// PairPhone asks WhatsApp for a code ("ABCD-EFGH") to type on the phone,
// linking by phone number instead of QR. It waits (up to ctx) for the
// connection's first QR code, as whatsmeow requires.
func (c *client) PairPhone(ctx context.Context, phone string) (string, error) {
	op := "pair phone for session " + c.sessionID
	if c.Paired() {
		return "", fmt.Errorf("%s: %w", op, wa.ErrAlreadyPaired)
	}
	if !c.cli.IsConnected() {
		return "", fmt.Errorf("%s: %w", op, wa.ErrNotConnected)
	}
	digits, err := phoneDigits(phone)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	c.connMu.Lock()
	q := c.qr
	c.connMu.Unlock()
	if q != nil {
		select {
		case <-q.firstCode:
		case <-q.done:
			return "", fmt.Errorf("%s: pairing window closed: %w", op, wa.ErrNotConnected)
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
	code, err := c.cli.PairPhone(ctx, digits, true, wm.PairClientChrome, pairClientName)
	if err != nil {
		return "", c.opError(op, err)
	}
	return code, nil
}

// JoinedGroups lists the groups the account is in.
func (c *client) JoinedGroups(ctx context.Context) ([]wa.Group, error) {
	op := "list groups of session " + c.sessionID
	if !c.cli.IsLoggedIn() {
		return nil, fmt.Errorf("%s: %w", op, wa.ErrNotConnected)
	}
	groups, err := c.cli.GetJoinedGroups(ctx)
	if err != nil {
		return nil, c.opError(op, err)
	}
	out := make([]wa.Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, wa.Group{
			JID:  g.JID.String(),
			Name: g.Name,
			// Community parent groups list no members but carry a count.
			Participants: max(len(g.Participants), g.ParticipantCount),
			IsAnnounce:   g.IsAnnounce,
			CreatedAt:    g.GroupCreated,
		})
	}
	return out, nil
}

// CheckNumbers reports which phones have WhatsApp, in the order given, each
// phone in E.164 form. Phones WhatsApp does not answer for have none.
func (c *client) CheckNumbers(ctx context.Context, phones []string) ([]wa.NumberStatus, error) {
	op := "check numbers for session " + c.sessionID
	digits := make([]string, len(phones))
	queries := make([]string, len(phones))
	for i, p := range phones {
		d, err := phoneDigits(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		digits[i], queries[i] = d, "+"+d
	}
	if len(phones) == 0 {
		return []wa.NumberStatus{}, nil
	}
	if !c.cli.IsLoggedIn() {
		return nil, fmt.Errorf("%s: %w", op, wa.ErrNotConnected)
	}
	// whatsmeow sends each string as the user part of a "c.us" JID; WhatsApp
	// expects "+"-prefixed international numbers and echoes them in Query.
	// The canonical JID may differ from the query (Brazil's extra 9, for
	// one), so answers are matched by Query.
	resp, err := c.cli.IsOnWhatsApp(ctx, queries)
	if err != nil {
		return nil, c.opError(op, err)
	}
	on := make(map[string]bool, len(resp))
	for _, r := range resp {
		d := strings.TrimPrefix(r.Query, "+")
		if d == "" {
			d = r.JID.User
		}
		on[d] = on[d] || r.IsIn
	}
	out := make([]wa.NumberStatus, len(digits))
	for i, d := range digits {
		out[i] = wa.NumberStatus{Phone: "+" + d, OnWhatsApp: on[d]}
	}
	return out, nil
}

// Send sends one message under the given WhatsApp message id. It does not
// check the recipient first; a recipient WhatsApp does not know gives
// wa.ErrNotOnWhatsApp where whatsmeow makes that recognisable.
func (c *client) Send(ctx context.Context, m wa.Outgoing) (wa.SendResult, error) {
	op := fmt.Sprintf("send message %s to %s", m.ID, maskPhone(m.To))
	if m.ID == "" {
		return wa.SendResult{}, fmt.Errorf("%s: empty message id", op)
	}
	digits, err := phoneDigits(m.To)
	if err != nil {
		return wa.SendResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkOutgoing(m); err != nil {
		return wa.SendResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if !c.cli.IsLoggedIn() {
		return wa.SendResult{}, fmt.Errorf("%s: %w", op, wa.ErrNotConnected)
	}
	msg, err := c.buildMessage(ctx, m)
	if err != nil {
		return wa.SendResult{}, c.opError(op, err)
	}
	to := types.NewJID(digits, types.DefaultUserServer)
	resp, err := c.cli.SendMessage(ctx, to, msg, wm.SendRequestExtra{ID: types.MessageID(m.ID)})
	if err != nil {
		return wa.SendResult{}, c.opError(op, err)
	}
	return wa.SendResult{ID: resp.ID, Timestamp: resp.Timestamp}, nil
}

// mediaTypes maps wa.Media types to whatsmeow's upload key types.
var mediaTypes = map[string]wm.MediaType{
	"image":    wm.MediaImage,
	"document": wm.MediaDocument,
	"audio":    wm.MediaAudio,
	"video":    wm.MediaVideo,
}

// checkOutgoing validates what can be checked without a connection.
func checkOutgoing(m wa.Outgoing) error {
	if m.Media == nil {
		if m.Text == "" {
			return errors.New("message has neither text nor media")
		}
		return nil
	}
	if _, ok := mediaTypes[m.Media.Type]; !ok {
		return fmt.Errorf("unsupported media type %q", m.Media.Type)
	}
	if len(m.Media.Data) == 0 {
		return errors.New("media has no data")
	}
	if m.Media.Type == "audio" && m.Text != "" {
		// WhatsApp audio messages have no caption field; dropping the text
		// silently would lose it.
		return errors.New("audio messages cannot carry a caption")
	}
	return nil
}

// buildMessage turns m into a WhatsApp message, uploading its media (the
// upload encrypts it with a fresh media key).
func (c *client) buildMessage(ctx context.Context, m wa.Outgoing) (*waE2E.Message, error) {
	if m.Media == nil {
		return &waE2E.Message{Conversation: proto.String(m.Text)}, nil
	}
	media := m.Media
	mimeType := media.MimeType
	if mimeType == "" {
		mimeType = http.DetectContentType(media.Data)
	}
	up, err := c.cli.Upload(ctx, media.Data, mediaTypes[media.Type])
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", media.Type, err)
	}
	caption := optString(m.Text)
	switch media.Type {
	case "image":
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
			Mimetype: proto.String(mimeType), Caption: caption,
		}}, nil
	case "video":
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
			Mimetype: proto.String(mimeType), Caption: caption,
		}}, nil
	case "audio":
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
			Mimetype: proto.String(mimeType),
		}}, nil
	default: // document
		filename := media.Filename
		if filename == "" {
			filename = "file"
		}
		doc := &waE2E.DocumentMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
			Mimetype: proto.String(mimeType), FileName: proto.String(filename), Title: proto.String(filename),
			Caption: caption,
		}
		if caption == nil {
			return &waE2E.Message{DocumentMessage: doc}, nil
		}
		// WhatsApp's apps send a captioned document inside this envelope
		// and look for the caption there.
		return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{
			Message: &waE2E.Message{DocumentMessage: doc},
		}}, nil
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// opError wraps a whatsmeow error with op, mapping the failures callers act
// on to wa's errors and masking phone numbers in whatsmeow's text.
func (c *client) opError(op string, err error) error {
	switch {
	case errors.Is(err, wm.ErrNotConnected), errors.Is(err, wm.ErrNotLoggedIn):
		return fmt.Errorf("%s: %w: %w", op, wa.ErrNotConnected, redact(err))
	case isNotOnWhatsApp(err):
		return fmt.Errorf("%s: %w: %w", op, wa.ErrNotOnWhatsApp, redact(err))
	}
	return fmt.Errorf("%s: %w", op, redact(err))
}

// isNotOnWhatsApp recognises whatsmeow's failure to send to a number that
// has no account. Accounts migrated to LIDs (LIDMigrationTimestamp set) look
// the recipient's LID up before sending, and whatsmeow reports a missing one
// as a plain formatted error, so only its text identifies it.
func isNotOnWhatsApp(err error) bool {
	return strings.Contains(err.Error(), "no LID found for")
}

// close disconnects for good and closes the device store; Backend calls it.
func (c *client) close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.connMu.Lock()
		c.cli.Disconnect()
		c.cancel() // ends auto-reconnects, QR emitters and the QR goroutine
		q := c.qr
		c.qr = nil
		c.connMu.Unlock()
		if q != nil {
			q.wait(qrStopWait)
		}
		if err := c.container.Close(); err != nil {
			c.closeErr = fmt.Errorf("close device store: %w", err)
		}
	})
	return c.closeErr
}

// qrSession is one whatsmeow QR channel and the goroutine draining it into
// the Handler.
type qrSession struct {
	items     <-chan wm.QRChannelItem
	cancel    context.CancelFunc
	firstCode chan struct{} // closed at the first code
	firstOnce sync.Once
	done      chan struct{} // closed when the draining goroutine ends
}

func (q *qrSession) started() bool  { return isClosed(q.firstCode) }
func (q *qrSession) finished() bool { return isClosed(q.done) }

func (q *qrSession) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// prepareQRLocked makes sure a QR channel listens before an unpaired device
// connects (GetQRChannel must come before Connect). whatsmeow offers no way
// to remove a QR channel's event handler from outside, so one that never got
// a code (its connection failed first) is reused: a second channel would
// also react to the next QR event, and its emitter would disconnect the
// client when its codes ran out.
func (c *client) prepareQRLocked() error {
	if q := c.qr; q != nil && !q.finished() {
		if !q.started() {
			return nil
		}
		c.stopQR(q)
	}
	c.qr = nil
	qctx, cancel := context.WithCancel(c.ctx)
	items, err := c.cli.GetQRChannel(qctx)
	if err != nil {
		cancel()
		return fmt.Errorf("get QR channel: %w", err)
	}
	q := &qrSession{items: items, cancel: cancel, firstCode: make(chan struct{}), done: make(chan struct{})}
	c.qr = q
	go c.drainQR(q)
	return nil
}

// stopQR cancels a started QR channel (whatsmeow's emitter then closes it)
// and waits, bounded, for its goroutine to end.
func (c *client) stopQR(q *qrSession) {
	q.cancel()
	q.wait(qrStopWait)
}

// drainQR turns QR channel items into wa events. Only codes and the
// timeout are emitted from here; success and pairing errors reach the
// Handler through the event switch (PairSuccess, PairError,
// QRScannedWithoutMultidevice, ClientOutdated), which also covers pairing
// by phone number, where no code is scanned.
func (c *client) drainQR(q *qrSession) {
	defer close(q.done)
	for {
		select {
		case <-c.ctx.Done():
			return
		case item, ok := <-q.items:
			if !ok {
				return
			}
			switch item.Event {
			case wm.QRChannelEventCode:
				q.firstOnce.Do(func() { close(q.firstCode) })
				c.emitQR(wa.QR{Code: item.Code, ExpiresAt: time.Now().Add(item.Timeout)})
			case wm.QRChannelTimeout.Event:
				c.emitQR(wa.QRTimeout{})
			case wm.QRChannelSuccess.Event, wm.QRChannelEventError:
				// Covered by *events.PairSuccess / *events.PairError.
			default:
				// err-unexpected-state, err-client-outdated,
				// err-scanned-without-multidevice: the event that caused
				// them goes through the event switch.
				c.log.Debug("whatsapp_qr_channel_item", "item", item.Event)
			}
		}
	}
}

// emitQR hands a QR-channel event to the Handler. Nothing can be withheld
// from WhatsApp for these, so a Handler error is only logged.
func (c *client) emitQR(ev wa.Event) {
	if c.ctx.Err() != nil {
		return
	}
	if err := c.emit(ev); err != nil {
		c.log.Warn("whatsapp_qr_event_failed", "event_type", fmt.Sprintf("%T", ev), "error", redactPhones(err.Error()))
	}
}
