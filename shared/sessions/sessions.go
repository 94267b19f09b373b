// Package sessions is the domain of WhatsApp sessions: one linked WhatsApp
// number of an account. The API records what the customer wants (the
// desired state, with a generation bumped on every change) and the session
// host that holds the session's lease reconciles it and records what it
// observes (status, reason, phone, QR code). Operations that need the live
// WhatsApp client (pairing by phone, groups, number checks) are RPCs: the
// API stores a request item, notifies the host and waits for its result.
package sessions

import (
	"context"
	"encoding/json"
	"time"
)

// Status is a session's observed connection state.
type Status string

// Statuses.
const (
	StatusPending      Status = "pending"        // created; no host has started it yet
	StatusWaitingForQR Status = "waiting_for_qr" // a QR code is ready to scan
	StatusPairing      Status = "pairing"        // the phone linked; finishing set-up
	StatusConnected    Status = "connected"
	StatusDisconnected Status = "disconnected" // temporarily; see the reason
	StatusLoggedOut    Status = "logged_out"   // unlinked; restart pairs again
	StatusFailed       Status = "failed"       // cannot connect; see the reason
)

// Desired is what the customer asked for.
type Desired string

// Desired states.
const (
	DesiredActive    Desired = "active"     // connected (pairing first if needed)
	DesiredLoggedOut Desired = "logged_out" // unlinked, device keys deleted
	DesiredDeleted   Desired = "deleted"    // logged out and removed
)

// Session is one WhatsApp session.
type Session struct {
	ID        string
	AccountID string
	Label     string
	// Backend is "whatsmeow" or "simulator"; simulated sessions say so.
	Backend string

	Desired Desired
	// Generation counts control changes (restart, logout, delete); the
	// host applies a change once, when it sees a newer generation.
	Generation int64

	Status         Status
	StatusReason   string
	Phone          string // E.164 of the linked number
	PushName       string
	ConnectedSince time.Time
	// PairedAt is when the number was last linked (warm-up starts there).
	PairedAt    time.Time
	LastEventAt time.Time
	// ObservedGeneration is the generation the host last applied.
	ObservedGeneration int64
	HostID             string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Observation is what a host reports about a session.
type Observation struct {
	Status             Status
	StatusReason       string
	Phone              string
	PushName           string
	ConnectedSince     time.Time
	PairedAt           time.Time
	ObservedGeneration int64
	HostID             string
	At                 time.Time
}

// QR is the current QR code of a session waiting for a scan.
type QR struct {
	Code      string
	ExpiresAt time.Time
}

// RPCKind names an operation the host runs on the live client.
type RPCKind string

// RPC kinds.
const (
	RPCPairPhone    RPCKind = "pair_phone"
	RPCGroups       RPCKind = "groups"
	RPCCheckNumbers RPCKind = "check_numbers"
	RPCSimScan      RPCKind = "sim_scan"
	RPCSimInbound   RPCKind = "sim_inbound"
)

// RPCStatus is an RPC's progress.
type RPCStatus string

// RPC statuses.
const (
	RPCPending RPCStatus = "pending"
	RPCDone    RPCStatus = "done"
	RPCFailed  RPCStatus = "failed"
)

// RPC is a request to the host holding a session.
type RPC struct {
	ID        string
	SessionID string
	AccountID string
	Kind      RPCKind
	Args      json.RawMessage
	Status    RPCStatus
	Result    json.RawMessage
	// ErrorCode is an errs.Code when Status is failed.
	ErrorCode    string
	ErrorMessage string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// Lease says which session host holds a session. Exactly one host may
// hold it at a time: WhatsApp would replace one connection with the other.
type Lease struct {
	SessionID string
	AccountID string
	Owner     string // host id, "" when free
	ExpiresAt time.Time
}

// Host is a running session host, registered with its inbox queue.
type Host struct {
	ID        string
	InboxURL  string
	ExpiresAt time.Time
}

// Store persists sessions. Every method is tenant-scoped (package tenant).
type Store interface {
	// CreateSession stores a new session with an unowned lease.
	CreateSession(ctx context.Context, s Session) error
	// FindSession returns a session, including one being deleted.
	FindSession(ctx context.Context, id string) (Session, error)
	// ListSessions lists the account's sessions, oldest first, without
	// those being deleted.
	ListSessions(ctx context.Context) ([]Session, error)
	// SetDesired records a control change and bumps the generation.
	SetDesired(ctx context.Context, id string, d Desired, now time.Time) (Session, error)
	// FindQR returns the live QR code of a session.
	FindQR(ctx context.Context, sessionID string) (QR, error)
	// CreateRPC stores a pending RPC.
	CreateRPC(ctx context.Context, r RPC) error
	// FindRPC reads an RPC (strongly consistent).
	FindRPC(ctx context.Context, sessionID, rpcID string) (RPC, error)
}

// Finder reads one session; the other domains (messages, campaigns) need
// only this of the sessions store.
type Finder interface {
	FindSession(ctx context.Context, id string) (Session, error)
}

// Control is a hint to the session hosts that a session needs attention:
// its desired state changed, or an RPC waits. Hints may be lost or
// duplicated; the stored state is the truth.
type Control struct {
	SessionID string `json:"session_id"`
	AccountID string `json:"account_id"`
	RPCID     string `json:"rpc_id,omitempty"`
}

// Notifier delivers control hints to the session hosts.
type Notifier interface {
	Notify(ctx context.Context, c Control) error
}
