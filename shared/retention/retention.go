// Package retention is the one table of ChatSend's data retention classes:
// every stored item belongs to a class, and the class decides the TTL
// attribute (epoch seconds) that DynamoDB's TTL sweep acts on. Reads treat an
// item whose TTL has passed as absent, because the sweep lags by up to days.
package retention

import "time"

// Class names a retention class.
type Class string

// The retention classes. docs/retention.md lists them with the reason for
// each period and the stores they cover (a test keeps the two in step).
const (
	// AccountLifetime items live as long as the account: account, users, API
	// key metadata. They carry no TTL; erasure deletes them.
	AccountLifetime Class = "account_lifetime"
	// LoginSession is a dashboard login: 12 h absolute, 30 min idle.
	LoginSession Class = "login_session"
	// RateLimit is a rate-limit counter window.
	RateLimit Class = "rate_limit"
	// IdempotencyKey remembers an Idempotency-Key for 24 h.
	IdempotencyKey Class = "idempotency_key"
	// QRCode is a session's current pairing QR code: minutes.
	QRCode Class = "qr_code"
	// SessionRPC is a request from the API to a session host.
	SessionRPC Class = "session_rpc"
	// SessionHost is a session host's registration.
	SessionHost Class = "session_host"
	// ImportJob is a contact CSV import's progress and error report.
	ImportJob Class = "import_job"
	// MessageMetadata is who, when, status history of a message.
	MessageMetadata Class = "message_metadata"
	// MessageBody is a message's text and media reference.
	MessageBody Class = "message_body"
	// PacingCounter counts a session's campaign sends of one day.
	PacingCounter Class = "pacing_counter"
	// WebhookLog is a webhook delivery with its attempts and payload.
	WebhookLog Class = "webhook_log"
	// RecipientPhone is the plaintext recipient phone of a message; after
	// it the message keeps only a hash of the number.
	RecipientPhone Class = "recipient_phone"
	// APIRequestLog is an API request log line (CloudWatch Logs retention).
	APIRequestLog Class = "api_request_log"
	// PaymentEvent is a raw Stripe webhook event and its de-duplication
	// record.
	PaymentEvent Class = "payment_event"
	// BillingRecord is an invoice or minimal billing record kept for tax and
	// accounting law, even after account erasure.
	BillingRecord Class = "billing_record"
	// ExportFile is a data export bundle and its download record.
	ExportFile Class = "export_file"
	// PrivacyAudit is the audit record of a privacy request or an account
	// change: hashed subject, no content.
	PrivacyAudit Class = "privacy_audit"
)

// Policy is one row of the retention table.
type Policy struct {
	// Class is the row's name.
	Class Class
	// Period is how long an item lives after it is written (or last
	// touched); zero means "no TTL: deleted with the account".
	Period time.Duration
	// Max, when set, is the longest period an account may configure for
	// the class (Period is then the default).
	Max time.Duration
	// Why is the reason we keep it that long, as told to users.
	Why string
}

// Longest is the longest period an item of the class can be kept: Max
// when the class is configurable, else Period.
func (p Policy) Longest() time.Duration { return max(p.Max, p.Period) }

// Login session limits: absolute lifetime and idle timeout.
const (
	LoginAbsolute = 12 * time.Hour
	LoginIdle     = 30 * time.Minute
)

var policies = map[Class]Policy{
	AccountLifetime: {Class: AccountLifetime, Period: 0, Why: "needed to provide the service while the account exists; deleted on account erasure"},
	LoginSession:    {Class: LoginSession, Period: LoginAbsolute, Why: "keeps a dashboard user signed in; 12 h absolute and 30 min idle limits reduce the harm of a stolen cookie"},
	RateLimit:       {Class: RateLimit, Period: time.Hour, Why: "abuse protection counters; only the current window matters"},
	IdempotencyKey:  {Class: IdempotencyKey, Period: 24 * time.Hour, Why: "lets clients retry a request safely for a day"},
	QRCode:          {Class: QRCode, Period: 5 * time.Minute, Why: "a pairing QR code is useless once WhatsApp rotates it (60 s, then 20 s each)"},
	SessionRPC:      {Class: SessionRPC, Period: 10 * time.Minute, Why: "a request to the host holding a session, such as a pairing code or a number check; kept only to answer it"},
	SessionHost:     {Class: SessionHost, Period: time.Hour, Why: "operational record of a running session host, refreshed while it runs"},
	ImportJob:       {Class: ImportJob, Period: 30 * 24 * time.Hour, Why: "lets the customer check an import's counts and rejected lines; the uploaded file itself is deleted when the job ends"},
	MessageMetadata: {Class: MessageMetadata, Period: 400 * 24 * time.Hour, Why: "delivery records for troubleshooting, disputes and usage reports over a year"},
	MessageBody:     {Class: MessageBody, Period: 30 * 24 * time.Hour, Why: "needed only to send the message and to let the customer check what was sent recently"},
	PacingCounter:   {Class: PacingCounter, Period: 3 * 24 * time.Hour, Why: "enforces a session's daily send cap; only today's count matters"},
	WebhookLog:      {Class: WebhookLog, Period: 30 * 24 * time.Hour, Why: "lets the customer inspect and replay recent webhook deliveries; retries end after about 3 days"},
	RecipientPhone:  {Class: RecipientPhone, Period: 90 * 24 * time.Hour, Why: "the recipient's number in clear helps troubleshoot recent deliveries; after 90 days message records keep only a hash"},
	APIRequestLog:   {Class: APIRequestLog, Period: 30 * 24 * time.Hour, Why: "API request logs are needed to investigate errors and abuse for a month"},
	PaymentEvent:    {Class: PaymentEvent, Period: 30 * 24 * time.Hour, Why: "raw payment-provider events are kept to de-duplicate and debug retries; Stripe retries for 3 days"},
	BillingRecord:   {Class: BillingRecord, Period: 10 * 365 * 24 * time.Hour, Why: "tax and accounting law requires invoices and billing records for up to 10 years, even after erasure"},
	ExportFile:      {Class: ExportFile, Period: 7 * 24 * time.Hour, Why: "a data export is downloaded once; the file is deleted a week later"},
	PrivacyAudit:    {Class: PrivacyAudit, Period: 3 * 365 * 24 * time.Hour, Why: "proves that privacy requests and account changes were handled; holds a hashed subject and no content"},
}

// PolicyFor returns the policy of a class. It panics on an unknown class,
// which is a programming error caught by tests.
func PolicyFor(c Class) Policy {
	p, ok := policies[c]
	if !ok {
		panic("retention: unknown class " + string(c))
	}
	return p
}

// Policies returns every policy, for documentation and audits.
func Policies() []Policy {
	out := make([]Policy, 0, len(policies))
	for _, p := range policies {
		out = append(out, p)
	}
	return out
}

// ExpiresAt returns the TTL for an item of class c written at now, or the
// zero time when the class has no TTL.
func ExpiresAt(c Class, now time.Time) time.Time {
	p := PolicyFor(c)
	if p.Period == 0 {
		return time.Time{}
	}
	return now.Add(p.Period)
}

// Expired reports whether an item with the given TTL is gone at now. A zero
// TTL never expires.
func Expired(ttl, now time.Time) bool {
	return !ttl.IsZero() && !now.Before(ttl)
}
