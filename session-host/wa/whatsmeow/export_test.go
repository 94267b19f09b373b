package whatsmeow

import (
	"context"
	"log/slog"

	wm "go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/chatsend/chatsend/session-host/wa"
)

// Internals opened up to the external tests.
var (
	PhoneDigits  = phoneDigits
	MaskPhone    = maskPhone
	RedactPhones = redactPhones
	StoreDSN     = storeDSN
)

// LevelTrace is the slog level of whatsmeow's socket dumps.
const LevelTrace = levelTrace

// NewWALogger exposes the waLog → slog adapter.
func NewWALogger(log *slog.Logger, module string) waLog.Logger { return newWALogger(log, module) }

// HandleEvent calls the handler the client registered with whatsmeow, as
// whatsmeow's dispatcher would; the result is whether whatsmeow may ack.
func HandleEvent(c wa.Client, evt any) bool { return c.(*client).handleEvent(evt) }

// PutLIDMapping stores a LID ↔ phone mapping in the client's device store,
// as whatsmeow does when a stanza carries both.
func PutLIDMapping(ctx context.Context, c wa.Client, lid, pn types.JID) error {
	return c.(*client).container.LIDMap.PutLIDMapping(ctx, lid, pn)
}

// FakePairing sets the device's JID and push name in memory only, as if a
// phone had linked it, without touching the network.
func FakePairing(c wa.Client, jid types.JID, pushName string) {
	cl := c.(*client)
	cl.cli.Store.ID = &jid
	cl.cli.Store.PushName = pushName
}

// DrainQR runs the client's QR goroutine over items, as if GetQRChannel had
// returned them. firstCode closes at the first code, done when it ends.
func DrainQR(c wa.Client, items <-chan wm.QRChannelItem) (firstCode, done <-chan struct{}) {
	q := &qrSession{items: items, cancel: func() {}, firstCode: make(chan struct{}), done: make(chan struct{})}
	go c.(*client).drainQR(q)
	return q.firstCode, q.done
}
