package whatsmeow_test

import (
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
)

// Feeds whatsmeow's own event structs through the one type switch.
func TestTranslate(t *testing.T) {
	ts := time.Unix(1_700_000_000, 0)
	peerDevice := types.NewADJID("4915112345678", 0, 3)
	lidDevice := types.NewADJID("187654321098765", 0, 5)
	lidDevice.Server = types.HiddenUserServer
	unknownLID := types.NewJID("111111111111111", types.HiddenUserServer)
	group := types.NewJID("120363012345678901", types.GroupServer)
	member := types.NewJID("4917699999999", types.DefaultUserServer)

	tr := &whatsmeow.Translator{
		Self: func() (types.JID, string) { return ownJID, "Shop" },
		PhoneForLID: func(lid types.JID) types.JID {
			if lid == peerLID {
				return peerPN
			}
			return types.EmptyJID
		},
	}

	dm := func(sender, alt types.JID, msg *waE2E.Message) *events.Message {
		return &events.Message{
			Info: types.MessageInfo{
				MessageSource: types.MessageSource{Chat: sender.ToNonAD(), Sender: sender, SenderAlt: alt},
				ID:            "3EB0MSG", PushName: "Peer", Timestamp: ts,
			},
			Message: msg,
		}
	}
	wantDM := func(text string, media *wa.MediaInfo) wa.Message {
		return wa.Message{ID: "3EB0MSG", From: "+4915112345678", PushName: "Peer", Chat: "+4915112345678",
			Text: text, Media: media, At: ts}
	}
	receipt := func(typ types.ReceiptType, sender, alt types.JID) *events.Receipt {
		return &events.Receipt{
			MessageSource: types.MessageSource{Chat: sender.ToNonAD(), Sender: sender, SenderAlt: alt},
			MessageIDs:    []types.MessageID{"3EB0A", "3EB0B"},
			Timestamp:     ts,
			Type:          typ,
		}
	}
	wantReceipt := func(typ wa.ReceiptType) wa.Receipt {
		return wa.Receipt{MessageIDs: []string{"3EB0A", "3EB0B"}, From: "+4915112345678", Type: typ, At: ts}
	}

	tests := []struct {
		name string
		evt  any
		want wa.Event // nil: ignored
	}{
		// Receipts about messages we sent.
		{"receipt delivered", receipt(types.ReceiptTypeDelivered, peerDevice, types.EmptyJID), wantReceipt(wa.ReceiptDelivered)},
		{"receipt read", receipt(types.ReceiptTypeRead, peerDevice, types.EmptyJID), wantReceipt(wa.ReceiptRead)},
		{"receipt played", receipt(types.ReceiptTypePlayed, peerDevice, types.EmptyJID), wantReceipt(wa.ReceiptPlayed)},
		{"receipt from LID with phone alt", receipt(types.ReceiptTypeRead, lidDevice, peerDevice), wantReceipt(wa.ReceiptRead)},
		{"receipt from LID via LID map", receipt(types.ReceiptTypeDelivered, withDevice(peerLID, 2), types.EmptyJID), wantReceipt(wa.ReceiptDelivered)},
		{"receipt read-self", receipt(types.ReceiptTypeReadSelf, peerDevice, types.EmptyJID), nil},
		{"receipt played-self", receipt(types.ReceiptTypePlayedSelf, peerDevice, types.EmptyJID), nil},
		{"receipt sender", receipt(types.ReceiptTypeSender, peerDevice, types.EmptyJID), nil},
		{"receipt retry", receipt(types.ReceiptTypeRetry, peerDevice, types.EmptyJID), nil},
		{"receipt server-error", receipt(types.ReceiptTypeServerError, peerDevice, types.EmptyJID), nil},
		{"receipt inactive", receipt(types.ReceiptTypeInactive, peerDevice, types.EmptyJID), nil},
		{"receipt peer_msg", receipt(types.ReceiptTypePeerMsg, peerDevice, types.EmptyJID), nil},
		{"receipt hist_sync", receipt(types.ReceiptTypeHistorySync, peerDevice, types.EmptyJID), nil},
		{"receipt unknown type", receipt("enc_rekey_retry", peerDevice, types.EmptyJID), nil},
		{"receipt from own device", func() any {
			r := receipt(types.ReceiptTypeDelivered, ownJID, types.EmptyJID)
			r.IsFromMe = true
			return r
		}(), nil},

		// Messages.
		{"message conversation", dm(peerDevice, types.EmptyJID, &waE2E.Message{Conversation: proto.String("hello")}), wantDM("hello", nil)},
		{"message extended text", dm(peerDevice, types.EmptyJID, &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("see https://example.com")}}), wantDM("see https://example.com", nil)},
		{"message image with caption", dm(peerDevice, types.EmptyJID, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(2048)}}),
			wantDM("look", &wa.MediaInfo{Type: "image", MimeType: "image/jpeg", Size: 2048})},
		{"message document", dm(peerDevice, types.EmptyJID, &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			FileName: proto.String("invoice.pdf"), Mimetype: proto.String("application/pdf"), FileLength: proto.Uint64(99)}}),
			wantDM("", &wa.MediaInfo{Type: "document", MimeType: "application/pdf", Size: 99, Filename: "invoice.pdf"})},
		{"message audio", dm(peerDevice, types.EmptyJID, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			Mimetype: proto.String("audio/ogg; codecs=opus"), FileLength: proto.Uint64(7), PTT: proto.Bool(true)}}),
			wantDM("", &wa.MediaInfo{Type: "audio", MimeType: "audio/ogg; codecs=opus", Size: 7})},
		{"message video", dm(peerDevice, types.EmptyJID, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			Caption: proto.String("clip"), Mimetype: proto.String("video/mp4"), FileLength: proto.Uint64(5)}}),
			wantDM("clip", &wa.MediaInfo{Type: "video", MimeType: "video/mp4", Size: 5})},
		{"message sticker", dm(peerDevice, types.EmptyJID, &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			Mimetype: proto.String("image/webp"), FileLength: proto.Uint64(3)}}),
			wantDM("", &wa.MediaInfo{Type: "sticker", MimeType: "image/webp", Size: 3})},
		{"message from LID with phone alt", dm(lidDevice, peerDevice, &waE2E.Message{Conversation: proto.String("hi")}), wantDM("hi", nil)},
		{"message from LID via LID map", dm(withDevice(peerLID, 1), types.EmptyJID, &waE2E.Message{Conversation: proto.String("hi")}), wantDM("hi", nil)},
		{"message from unknown LID", dm(unknownLID, types.EmptyJID, &waE2E.Message{Conversation: proto.String("hi")}),
			wa.Message{ID: "3EB0MSG", PushName: "Peer", Text: "hi", At: ts}},
		{"group message", &events.Message{
			Info: types.MessageInfo{
				MessageSource: types.MessageSource{Chat: group, Sender: member, IsGroup: true},
				ID:            "3EB0GRP", PushName: "Member", Timestamp: ts,
			},
			Message: &waE2E.Message{Conversation: proto.String("hi all")},
		}, wa.Message{ID: "3EB0GRP", From: "+4917699999999", PushName: "Member", Chat: "120363012345678901@g.us",
			IsGroup: true, Text: "hi all", At: ts}},
		{"message sent from the phone", &events.Message{
			Info: types.MessageInfo{
				MessageSource: types.MessageSource{Chat: peerLID, Sender: ownJID, IsFromMe: true, RecipientAlt: peerPN},
				ID:            "3EB0ME", Timestamp: ts,
			},
			Message: &waE2E.Message{Conversation: proto.String("sent on phone")},
		}, wa.Message{ID: "3EB0ME", From: "+4915100000001", Chat: "+4915112345678", FromMe: true, Text: "sent on phone", At: ts}},
		{"status update", &events.Message{
			Info:    types.MessageInfo{MessageSource: types.MessageSource{Chat: types.StatusBroadcastJID, Sender: peerPN}, ID: "S"},
			Message: &waE2E.Message{Conversation: proto.String("my status")},
		}, nil},
		{"reaction", dm(peerDevice, types.EmptyJID, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}), nil},
		{"protocol message", dm(ownJID, types.EmptyJID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{}}), nil},

		// Connection state.
		{"connected", &events.Connected{}, wa.Connected{Phone: "+4915100000001", PushName: "Shop"}},
		{"disconnected", &events.Disconnected{}, wa.Disconnected{Reason: wa.ReasonNetwork}},
		{"logged out by stream error", &events.LoggedOut{OnConnect: false, Reason: events.ConnectFailureLoggedOut},
			wa.LoggedOut{Reason: wa.ReasonLoggedOutByPhone}},
		{"logged out 401", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut},
			wa.LoggedOut{Reason: wa.ReasonLoggedOutByPhone}},
		{"logged out 403 main device gone", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone},
			wa.LoggedOut{Reason: wa.ReasonLoggedOutByPhone}},
		{"logged out 406 banned", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureUnknownLogout},
			wa.LoggedOut{Reason: wa.ReasonAccountBanned}},
		{"logged out 405 outdated", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureClientOutdated},
			wa.LoggedOut{Reason: wa.ReasonClientOutdated}},
		{"logged out other code", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureGeneric},
			wa.LoggedOut{Reason: wa.ReasonLoggedOutByPhone}},
		{"stream replaced", &events.StreamReplaced{}, wa.StreamReplaced{}},
		{"temporary ban", &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: 24 * time.Hour},
			wa.TemporaryBan{Code: "101", Expires: 24 * time.Hour}},
		{"connect failure", &events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "bad ua"},
			wa.ConnectFailure{Reason: wa.ReasonConnectFailure, Code: 409}},
		{"client outdated", &events.ClientOutdated{}, wa.ConnectFailure{Reason: wa.ReasonClientOutdated, Code: 405}},
		{"keepalive timeout", &events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: ts}, wa.KeepAliveTimeout{ErrorCount: 3}},
		{"keepalive restored", &events.KeepAliveRestored{}, wa.KeepAliveRestored{}},

		// Pairing.
		{"pair success", &events.PairSuccess{ID: ownJID, BusinessName: "Shop GmbH", Platform: "android"},
			wa.PairSuccess{Phone: "+4915100000001", PushName: "Shop GmbH", Platform: "android"}},
		{"pair error", &events.PairError{ID: ownJID, Error: errors.New("invalid device signature")},
			wa.PairError{Reason: wa.ReasonPairFailed}},
		{"scanned without multidevice", &events.QRScannedWithoutMultidevice{}, wa.PairError{Reason: wa.ReasonPairFailed}},
		{"QR event (the QR channel handles codes)", &events.QR{Codes: []string{"2@abc"}}, nil},

		// Noise.
		{"history sync", &events.HistorySync{}, nil},
		{"app state sync complete", &events.AppStateSyncComplete{}, nil},
		{"app state", &events.AppState{}, nil},
		{"push name setting", &events.PushNameSetting{}, nil},
		{"offline sync preview", &events.OfflineSyncPreview{Total: 3}, nil},
		{"offline sync completed", &events.OfflineSyncCompleted{Count: 3}, nil},
		{"presence", &events.Presence{From: peerPN}, nil},
		{"chat presence", &events.ChatPresence{State: types.ChatPresenceComposing}, nil},
		{"privacy settings", &events.PrivacySettings{}, nil},
		{"identity change", &events.IdentityChange{JID: peerPN}, nil},
		{"contact", &events.Contact{JID: peerPN}, nil},
		{"push name", &events.PushName{JID: peerPN, NewPushName: "P"}, nil},
		{"business name", &events.BusinessName{JID: peerPN}, nil},
		{"picture", &events.Picture{JID: peerPN}, nil},
		{"group info", &events.GroupInfo{JID: group}, nil},
		{"joined group", &events.JoinedGroup{}, nil},
		{"undecryptable message", &events.UndecryptableMessage{Info: types.MessageInfo{ID: "X"}}, nil},
		{"call offer", &events.CallOffer{}, nil},
		{"stream error", &events.StreamError{Code: "999"}, nil},
		{"mark chat as read", &events.MarkChatAsRead{}, nil},
		{"newsletter join", &events.NewsletterJoin{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tr.Translate(tt.evt)
			if ok != (tt.want != nil) {
				t.Fatalf("Translate ok = %v, want %v (event %#v)", ok, tt.want != nil, got)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Translate =\n  %#v\nwant\n  %#v", got, tt.want)
			}
		})
	}
}

func withDevice(jid types.JID, device uint16) types.JID {
	jid.Device = device
	return jid
}

// Unknown events go to the debug log with their type; the zero Translator
// works.
func TestTranslateUnknownEventIsLogged(t *testing.T) {
	capture := newCapture(slog.LevelDebug)
	tr := &whatsmeow.Translator{Log: slog.New(capture)}
	type futureEvent struct{}
	if ev, ok := tr.Translate(&futureEvent{}); ok || ev != nil {
		t.Fatalf("Translate(unknown) = %v, %v; want nil, false", ev, ok)
	}
	recs := capture.all()
	if len(recs) != 1 || recs[0].Message != "whatsapp_event_unhandled" || recs[0].Level != slog.LevelDebug {
		t.Fatalf("log records = %v, want one debug whatsapp_event_unhandled", recs)
	}
	if got := attr(recs[0], "event_type"); got != "*whatsmeow_test.futureEvent" {
		t.Errorf("event_type = %q", got)
	}

	var zero whatsmeow.Translator
	if ev, ok := zero.Translate(&events.Connected{}); !ok || ev != (wa.Connected{}) {
		t.Errorf("zero Translator on Connected = %#v, %v", ev, ok)
	}
}
