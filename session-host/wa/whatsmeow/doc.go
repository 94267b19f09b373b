// Package whatsmeow is the real WhatsApp backend of the session host: it
// implements wa.Backend and wa.Client on top of go.mau.fi/whatsmeow.
//
// Each ChatSend session owns one SQLite device store file, <dir>/<sessionID>.db,
// opened with the pure-Go modernc.org/sqlite driver (the binary builds with
// CGO_ENABLED=0). One file per session means deleting a session deletes its
// Signal keys, and sessions never contend on a shared SQLite write lock.
//
// Events follow mautrix/whatsapp's discipline: one handler per client, one
// type switch over every whatsmeow event (Translator.Translate) with explicit
// ignored cases and a debug log for the rest. Reconnects are left to
// whatsmeow. Messages and receipts are acknowledged to WhatsApp only after the
// wa.Handler returned nil (SynchronousAck + AddEventHandlerWithSuccessStatus),
// and decrypted plaintext is buffered in the device store until then so a
// redelivered message can still be decrypted.
package whatsmeow
