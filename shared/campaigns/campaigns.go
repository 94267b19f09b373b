// Package campaigns is the domain of bulk, personalised sends: a campaign
// renders a template for every contact of its audience on one session,
// paced so the customer's number stays safe. The fan-out turns a started
// campaign into queued messages page by page, checkpointing as it goes, so
// a crashed or timed-out fan-out resumes where it stopped; message ids are
// derived from (campaign, contact), so a page processed twice creates
// nothing twice. Counters per status are updated in the same transaction as
// each message's own change, so they are exact.
package campaigns

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/messages"
)

// Status is a campaign's state.
type Status string

// Statuses.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed" // every message left the queue
	StatusCancelled Status = "cancelled"
)

// Pause and cancel reasons.
const (
	ReasonUser       = "user"
	ReasonBilling    = "billing"
	ReasonRestricted = "restricted"
	ReasonCancelled  = "cancelled"
)

// Pacing keeps a number safe: a random pause between sends, a daily cap,
// optional quiet hours in the account's time zone and a warm-up ramp for
// a newly paired number.
type Pacing struct {
	MinIntervalS int    `json:"min_interval_s"`
	MaxIntervalS int    `json:"max_interval_s"`
	DailyCap     int    `json:"daily_cap"`
	QuietStart   string `json:"quiet_start,omitempty"` // "22:00"
	QuietEnd     string `json:"quiet_end,omitempty"`   // "08:00"
	WarmUp       bool   `json:"warm_up"`
}

// DefaultPacing is safe for a personal number.
var DefaultPacing = Pacing{MinIntervalS: 8, MaxIntervalS: 20, DailyCap: 200, WarmUp: true}

// Audience selects recipients: contacts with any of Tags, or ContactIDs.
type Audience struct {
	Tags       []string `json:"tags,omitempty"`
	ContactIDs []string `json:"contact_ids,omitempty"`
}

// Counts are the campaign's messages by current status.
type Counts struct {
	Total     int64 `json:"total"`
	Queued    int64 `json:"queued"`
	Sending   int64 `json:"sending"`
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Read      int64 `json:"read"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
}

// Pending is how many messages still wait to be sent.
func (c Counts) Pending() int64 { return c.Queued + c.Sending }

// Campaign is one bulk send.
type Campaign struct {
	ID           string
	AccountID    string
	Name         string
	SessionID    string
	Template     string
	Audience     Audience
	ScheduleAt   time.Time
	Pacing       Pacing
	Status       Status
	StatusReason string
	Counts       Counts
	// FanoutDone is set when every recipient has a message.
	FanoutDone bool
	// FanoutCursor is the fan-out's checkpoint.
	FanoutCursor string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	StartedAt    time.Time
	CompletedAt  time.Time
}

// Recipient is one contact as the fan-out sees it.
type Recipient struct {
	ContactID string
	Phone     string
	Name      string
	FirstName string
	Custom    map[string]string
}

// AudiencePage is one page of recipients.
type AudiencePage struct {
	Recipients []Recipient
	Next       string // "" at the end
}

// AudienceSource pages through contacts and tells suppressed phones
// (implemented over package contacts).
type AudienceSource interface {
	// ByTag pages contacts with the tag.
	ByTag(ctx context.Context, tag, cursor string, limit int) (AudiencePage, error)
	// ByIDs returns the existing contacts among ids.
	ByIDs(ctx context.Context, ids []string) ([]Recipient, error)
	// CountByTag counts the contacts with the tag.
	CountByTag(ctx context.Context, tag string) (int64, error)
	// Suppressed tells which phones may not receive campaign messages.
	Suppressed(ctx context.Context, phones []string) (map[string]bool, error)
}

// Store persists campaigns. Tenant-scoped.
type Store interface {
	CreateCampaign(ctx context.Context, c Campaign) error
	FindCampaign(ctx context.Context, id string) (Campaign, error)
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	// SetCampaignStatus moves a campaign to to if it is in one of from.
	SetCampaignStatus(ctx context.Context, id string, from []Status, to Status, reason string, at time.Time) (Campaign, error)
	// AddCampaignMessages stores fan-out messages that do not exist yet and
	// counts them on the campaign, atomically; it returns how many were new.
	AddCampaignMessages(ctx context.Context, campaignID string, ms []messages.Message) (int, error)
	// SaveFanout records the fan-out's checkpoint (and its end).
	SaveFanout(ctx context.Context, id, cursor string, done bool) error
	// CompleteIfDone marks a running campaign completed when its fan-out is
	// done and nothing is queued or sending; true if it did now.
	CompleteIfDone(ctx context.Context, id string, at time.Time) (bool, error)
}

// Jobs enqueues fan-out work (the campaign-jobs queue).
type Jobs interface {
	// Enqueue asks for the campaign's fan-out to run after delay.
	Enqueue(ctx context.Context, accountID, campaignID string, delay time.Duration) error
}

// MessageID is the id of the campaign's message to a contact: the
// campaign's start time and a hash of (campaign, contact). The same pair
// always gets the same id, so the fan-out is idempotent, and ids still sort
// by campaign start.
func MessageID(campaignID, contactID string, started time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(started.UnixMilli())<<16)
	sum := sha256.Sum256([]byte(campaignID + "\x00" + contactID))
	copy(b[6:], sum[:10])
	return ids.FromBytes(ids.Message, b)
}
