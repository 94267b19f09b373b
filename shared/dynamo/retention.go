package dynamo

import (
	"maps"

	"github.com/chatsend/chatsend/shared/retention"
)

// itemClasses maps every item type this adapter writes (the `type`
// attribute) to its retention class. The TTL audit run by the tests and
// docs/retention.md are both checked against it, so a new item type
// without a class fails the build's tests.
var itemClasses = map[string]retention.Class{
	"account":           retention.AccountLifetime,
	"user":              retention.AccountLifetime,
	"email":             retention.AccountLifetime,
	"api_key":           retention.AccountLifetime,
	"api_key_hash":      retention.AccountLifetime,
	"login_session":     retention.LoginSession,
	"rate_limit":        retention.RateLimit,
	"session":           retention.AccountLifetime,
	"session_lease":     retention.AccountLifetime,
	"session_qr":        retention.QRCode,
	"session_rpc":       retention.SessionRPC,
	"session_host":      retention.SessionHost,
	"contact":           retention.AccountLifetime,
	"contact_phone":     retention.AccountLifetime,
	"contact_tag":       retention.AccountLifetime,
	"suppression":       retention.AccountLifetime,
	"import_job":        retention.ImportJob,
	"import_errors":     retention.ImportJob,
	"message":           retention.MessageMetadata,
	"message_body":      retention.MessageBody,
	"message_recipient": retention.RecipientPhone,
	"idempotency_key":   retention.IdempotencyKey,
	"campaign":          retention.AccountLifetime,
	"pacing_counter":    retention.PacingCounter,
	"webhook_endpoint":  retention.AccountLifetime,
	"webhook_delivery":  retention.WebhookLog,
	"billing_state":     retention.AccountLifetime,
	"billing_customer":  retention.AccountLifetime,
	"billing_record":    retention.BillingRecord,
	"stripe_event":      retention.PaymentEvent,
	"usage_counter":     retention.UsageCounter,
	"campaign_quota":    retention.UsageCounter,
	"privacy_request":   retention.PrivacyAudit,
	"audit":             retention.PrivacyAudit,
	"export":            retention.ExportFile,
}

// ItemClasses returns the retention class of every item type the adapter
// writes, for audits and documentation.
func ItemClasses() map[string]retention.Class { return maps.Clone(itemClasses) }
