package whatsmeow

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsend/chatsend/session-host/wa"
)

// Translator turns whatsmeow events into wa events. It holds no connection,
// so it can be fed whatsmeow's event structs in tests. The zero value works:
// without Self, Connected carries no phone; without PhoneForLID, senders known
// only by LID come out with an empty phone.
type Translator struct {
	// Self returns the account's own JID and push name. Connected carries no
	// data in whatsmeow: the logged-in account is read from the device store.
	Self func() (jid types.JID, pushName string)
	// PhoneForLID returns the phone-number JID behind a LID (WhatsApp's
	// privacy-preserving user id), or an empty JID when the mapping is
	// unknown. The client reads whatsmeow's LID map in the device store.
	PhoneForLID func(lid types.JID) types.JID
	// Log receives a debug line for each event that is not translated.
	// Nil discards.
	Log *slog.Logger
}

// Translate maps one whatsmeow event to a wa event. ok is false for events
// ChatSend ignores. Every whatsmeow event type is named below, either
// translated or ignored with its reason; unknown ones are logged at debug.
func (t *Translator) Translate(evt any) (ev wa.Event, ok bool) {
	switch e := evt.(type) {
	// Pairing. QR codes come from the client's QR channel, not from here.
	case *events.QR:
		// Ignored: the QR channel (GetQRChannel) rotates the codes with their
		// timeouts and the client emits wa.QR from it.
	case *events.PairSuccess:
		return wa.PairSuccess{
			Phone: phoneOfJID(e.ID),
			// No push name exists yet at pairing time (it arrives with the
			// app state sync and is on wa.Connected); a business account's
			// verified name is the best display name available now.
			PushName: e.BusinessName,
			Platform: e.Platform,
		}, true
	case *events.PairError:
		t.log().Warn("whatsapp_pair_error", "error", redactPhones(fmt.Sprint(e.Error)))
		return wa.PairError{Reason: wa.ReasonPairFailed}, true
	case *events.QRScannedWithoutMultidevice:
		// The phone scanned the code but has multi-device off (old app).
		return wa.PairError{Reason: wa.ReasonPairFailed}, true

	// Connection state.
	case *events.Connected:
		jid, pushName := t.self()
		return wa.Connected{Phone: phoneOfJID(jid), PushName: pushName}, true
	case *events.Disconnected:
		// whatsmeow reconnects by itself (EnableAutoReconnect).
		return wa.Disconnected{Reason: wa.ReasonNetwork}, true
	case *events.LoggedOut:
		// whatsmeow has already deleted the device from the store.
		return wa.LoggedOut{Reason: loggedOutReason(e)}, true
	case *events.StreamReplaced:
		// Another process connected with this session's keys. whatsmeow does
		// not reconnect, which is right: reconnecting would kick the other.
		return wa.StreamReplaced{}, true
	case *events.TemporaryBan:
		return wa.TemporaryBan{Code: strconv.Itoa(int(e.Code)), Expires: e.Expire}, true
	case *events.ConnectFailure:
		return wa.ConnectFailure{Reason: wa.ReasonConnectFailure, Code: int(e.Reason)}, true
	case *events.ClientOutdated:
		// 405: WhatsApp rejects this whatsmeow version; only an upgrade helps.
		return wa.ConnectFailure{Reason: wa.ReasonClientOutdated, Code: int(events.ConnectFailureClientOutdated)}, true
	case *events.KeepAliveTimeout:
		return wa.KeepAliveTimeout{ErrorCount: e.ErrorCount}, true
	case *events.KeepAliveRestored:
		return wa.KeepAliveRestored{}, true
	case *events.StreamError:
		// Ignored: an unknown stream error; the socket closes right after and
		// Disconnected follows. Logged because it is unusual.
		t.log().Warn("whatsapp_stream_error", "code", e.Code)
	case *events.ManualLoginReconnect:
		// Ignored: only sent when DisableLoginAutoReconnect is set; it is not.
	case *events.CATRefreshError:
		// Ignored: crypto auth tokens are for Messenger logins only.

	// Messages and receipts.
	case *events.Message:
		return t.message(e)
	case *events.Receipt:
		return t.receipt(e)
	case *events.UndecryptableMessage:
		// Ignored: whatsmeow already asked the sender's phone to re-encrypt
		// (retry receipt); a decryptable copy arrives as a Message.
		t.log().Debug("whatsapp_undecryptable_message",
			"message_id", e.Info.ID, "is_group", e.Info.IsGroup, "unavailable", e.IsUnavailable)
	case *events.FBMessage:
		// Ignored: Messenger/Instagram transport, not WhatsApp.

	// Sync traffic after connecting: history, app state, offline queue.
	case *events.HistorySync:
		// Ignored: ChatSend does not import chat history.
	case *events.AppStateSyncComplete, *events.AppState:
		// Ignored: app state (contacts, chat settings) is whatsmeow's business.
	case *events.OfflineSyncPreview, *events.OfflineSyncCompleted:
		// Ignored: counts of events missed while offline; they arrive as
		// ordinary events.
	case *events.PushNameSetting:
		// Ignored: our own push name changed; wa.Connected reads it from the
		// store on the next connect.

	// Contacts, presence and profile noise.
	case *events.Presence, *events.ChatPresence:
		// Ignored: online/typing indicators.
	case *events.Contact, *events.PushName, *events.BusinessName, *events.Picture, *events.UserAbout:
		// Ignored: other users' names, pictures and about texts.
	case *events.IdentityChange:
		// Ignored: a contact reinstalled WhatsApp or changed phones; whatsmeow
		// trusts the new identity (AutoTrustIdentity).
	case *events.PrivacySettings, *events.Blocklist:
		// Ignored: our account's privacy settings and block list.

	// Groups and newsletters.
	case *events.GroupInfo, *events.JoinedGroup:
		// Ignored: JoinedGroups reads the current group list on demand.
	case *events.NewsletterJoin, *events.NewsletterLeave, *events.NewsletterMuteChange, *events.NewsletterLiveUpdate:
		// Ignored: ChatSend does not use channels (newsletters).

	// Calls: a messaging API cannot answer them.
	case *events.CallOffer, *events.CallOfferNotice, *events.CallAccept, *events.CallPreAccept,
		*events.CallTransport, *events.CallRelayLatency, *events.CallTerminate, *events.CallReject,
		*events.UnknownCallEvent:
		// Ignored.

	// Chat actions from the phone's app state.
	case *events.Pin, *events.Star, *events.DeleteForMe, *events.Mute, *events.Archive,
		*events.MarkChatAsRead, *events.ClearChat, *events.DeleteChat, *events.UnarchiveChatsSetting,
		*events.UserStatusMute, *events.LabelEdit, *events.LabelAssociationChat,
		*events.LabelAssociationMessage:
		// Ignored.
	case *events.MediaRetry:
		// Ignored: ChatSend does not download inbound media.

	default:
		t.log().Debug("whatsapp_event_unhandled", "event_type", fmt.Sprintf("%T", evt))
	}
	return nil, false
}

// loggedOutReason maps whatsmeow's logout codes to ChatSend status reasons.
func loggedOutReason(e *events.LoggedOut) string {
	if !e.OnConnect {
		// stream:error device_removed: the device was removed under Linked
		// devices on the phone while connected.
		return wa.ReasonLoggedOutByPhone
	}
	switch e.Reason {
	case events.ConnectFailureLoggedOut:
		return wa.ReasonLoggedOutByPhone
	case events.ConnectFailureMainDeviceGone:
		// 403, "LOCKED" in WhatsApp Web's code: the phone itself was logged
		// out. whatsmeow notes it is seen both for bans and for switching
		// phones; re-pairing is the user's next step either way.
		return wa.ReasonLoggedOutByPhone
	case events.ConnectFailureUnknownLogout:
		// 406, "BANNED" in WhatsApp Web's code.
		return wa.ReasonAccountBanned
	case events.ConnectFailureClientOutdated:
		return wa.ReasonClientOutdated
	default:
		return wa.ReasonLoggedOutByPhone
	}
}

// receipt translates receipts about messages we sent. Receipts our own other
// devices send (IsFromMe) are about messages we received and are ignored.
func (t *Translator) receipt(e *events.Receipt) (wa.Event, bool) {
	if e.IsFromMe || e.Chat == types.StatusBroadcastJID {
		return nil, false
	}
	var typ wa.ReceiptType
	switch e.Type {
	case types.ReceiptTypeDelivered: // "": reached one of the recipient's devices
		typ = wa.ReceiptDelivered
	case types.ReceiptTypeRead:
		typ = wa.ReceiptRead
	case types.ReceiptTypePlayed: // voice note played / view-once opened
		typ = wa.ReceiptPlayed
	case types.ReceiptTypeReadSelf, types.ReceiptTypePlayedSelf:
		// Ignored: we read or played a message on another of our devices.
		return nil, false
	case types.ReceiptTypeSender:
		// Ignored: our other devices got a copy of what we sent.
		return nil, false
	case types.ReceiptTypeRetry:
		// Ignored: the recipient could not decrypt; whatsmeow re-sends.
		return nil, false
	case types.ReceiptTypeServerError, types.ReceiptTypeInactive, types.ReceiptTypePeerMsg,
		types.ReceiptTypeHistorySync:
		// Ignored: server-side and device-sync receipts, not recipient state.
		return nil, false
	default:
		t.log().Debug("whatsapp_receipt_unhandled", "receipt_type", string(e.Type))
		return nil, false
	}
	return wa.Receipt{
		MessageIDs: slices.Clone(e.MessageIDs),
		From:       t.phoneFor(e.Sender, e.SenderAlt),
		Type:       typ,
		At:         e.Timestamp,
	}, true
}

// message translates an inbound message, or one sent from the phone (FromMe).
// Messages without text or media (reactions, edits, revokes, polls and the
// protocol messages whatsmeow exchanges with our own devices) are ignored.
func (t *Translator) message(e *events.Message) (wa.Event, bool) {
	info := &e.Info
	switch {
	case info.Chat == types.StatusBroadcastJID:
		// Ignored: contacts' status updates.
		return nil, false
	case info.Chat.Server == types.NewsletterServer:
		// Ignored: channel posts.
		return nil, false
	}
	text, media := messageContent(e.Message)
	if text == "" && media == nil {
		t.log().Debug("whatsapp_message_without_content", "message_id", info.ID)
		return nil, false
	}
	m := wa.Message{
		ID:       info.ID,
		From:     t.phoneFor(info.Sender, info.SenderAlt),
		PushName: info.PushName,
		FromMe:   info.IsFromMe,
		Text:     text,
		Media:    media,
		At:       info.Timestamp,
	}
	if m.FromMe && m.From == "" {
		jid, _ := t.self()
		m.From = phoneOfJID(jid)
	}
	switch {
	case info.Chat.Server == types.GroupServer:
		m.IsGroup = true
		m.Chat = info.Chat.String()
	case info.Chat.Server == types.BroadcastServer:
		// A broadcast-list message shows up in the direct chat with its sender.
		m.Chat = m.From
	case info.IsFromMe:
		m.Chat = t.phoneFor(info.Chat, info.RecipientAlt)
	default:
		m.Chat = t.phoneFor(info.Chat, info.SenderAlt)
	}
	return m, true
}

// messageContent extracts the text (body or caption) and media description.
// whatsmeow has already unwrapped ephemeral, view-once and
// document-with-caption envelopes.
func messageContent(msg *waE2E.Message) (string, *wa.MediaInfo) {
	switch {
	case msg.GetConversation() != "":
		return msg.GetConversation(), nil
	case msg.GetExtendedTextMessage() != nil:
		return msg.GetExtendedTextMessage().GetText(), nil
	case msg.GetImageMessage() != nil:
		m := msg.GetImageMessage()
		return m.GetCaption(), &wa.MediaInfo{Type: "image", MimeType: m.GetMimetype(), Size: m.GetFileLength()}
	case msg.GetDocumentMessage() != nil:
		m := msg.GetDocumentMessage()
		return m.GetCaption(), &wa.MediaInfo{Type: "document", MimeType: m.GetMimetype(), Size: m.GetFileLength(), Filename: m.GetFileName()}
	case msg.GetAudioMessage() != nil:
		m := msg.GetAudioMessage()
		return "", &wa.MediaInfo{Type: "audio", MimeType: m.GetMimetype(), Size: m.GetFileLength()}
	case msg.GetVideoMessage() != nil:
		m := msg.GetVideoMessage()
		return m.GetCaption(), &wa.MediaInfo{Type: "video", MimeType: m.GetMimetype(), Size: m.GetFileLength()}
	case msg.GetPtvMessage() != nil:
		// A round video note.
		m := msg.GetPtvMessage()
		return "", &wa.MediaInfo{Type: "video", MimeType: m.GetMimetype(), Size: m.GetFileLength()}
	case msg.GetStickerMessage() != nil:
		m := msg.GetStickerMessage()
		return "", &wa.MediaInfo{Type: "sticker", MimeType: m.GetMimetype(), Size: m.GetFileLength()}
	}
	return "", nil
}

// phoneFor returns the E.164 phone of a user addressed by jid, whose
// alternative address (phone number for a LID, LID for a phone number)
// whatsmeow may have found on the stanza. A LID with no phone-number
// alternative is looked up in the LID map; "" when the phone is unknown.
func (t *Translator) phoneFor(jid, alt types.JID) string {
	if jid.Server == types.DefaultUserServer {
		return phoneOfJID(jid)
	}
	if alt.Server == types.DefaultUserServer {
		return phoneOfJID(alt)
	}
	if jid.Server == types.HiddenUserServer && t.PhoneForLID != nil {
		if pn := t.PhoneForLID(jid.ToNonAD()); pn.Server == types.DefaultUserServer {
			return phoneOfJID(pn)
		}
	}
	if !jid.IsEmpty() {
		t.log().Debug("whatsapp_phone_unresolved", "server", jid.Server)
	}
	return ""
}

// phoneOfJID returns "+<user>" for a phone-number JID, "" otherwise.
func phoneOfJID(jid types.JID) string {
	if jid.Server != types.DefaultUserServer || jid.User == "" {
		return ""
	}
	return "+" + jid.User
}

func (t *Translator) self() (types.JID, string) {
	if t.Self == nil {
		return types.EmptyJID, ""
	}
	return t.Self()
}

func (t *Translator) log() *slog.Logger {
	if t.Log == nil {
		return discardLogger
	}
	return t.Log
}

var discardLogger = slog.New(slog.DiscardHandler)
