// Package errs is ChatSend's one error vocabulary. Domain code returns *Error
// values whose Code decides the user-facing outcome; the HTTP layer maps each
// code to exactly one RFC 9457 problem type. Anything that is not an *Error is
// an internal failure: it is logged once at the edge and never shown to clients.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies a user-facing outcome.
type Code string

// The codes. Their string values are part of the public API (they end the
// problem `type` URI), so never rename one.
const (
	Invalid          Code = "invalid-request"        // the request is well-formed but its content is wrong (422)
	Malformed        Code = "malformed-request"      // the request cannot be parsed (400)
	Unauthorized     Code = "unauthorized"           // no or bad credentials (401)
	PaymentRequired  Code = "plan-limit"             // the plan does not allow it (402)
	Forbidden        Code = "forbidden"              // credentials are fine but not enough (403)
	NotFound         Code = "not-found"              // absent, expired, or another tenant's (404)
	Conflict         Code = "conflict"               // clashes with current state (409)
	TooLarge         Code = "payload-too-large"      // body over the limit (413)
	UnsupportedMedia Code = "unsupported-media-type" // content type not accepted (415)
	RateLimited      Code = "rate-limited"           // too many requests (429)
	Internal         Code = "internal"               // a bug or an outage (500)
	Unavailable      Code = "unavailable"            // a dependency is down; retry later (503)
	// ReauthRequired: the action needs proof beyond an API key (the
	// account password or a recent dashboard login) (403).
	ReauthRequired Code = "reauthentication-required"
	// AccountRestricted: the account asked to restrict processing; sends
	// and campaign starts are refused until it is lifted (403).
	AccountRestricted Code = "account-restricted"
)

// FieldError names one invalid field of a request body.
type FieldError struct {
	// Field is a JSON path such as "body.email".
	Field string
	// Message says what is wrong, in words a user can act on.
	Message string
}

// Error is a user-facing failure.
type Error struct {
	// Code decides the HTTP status and problem type.
	Code Code
	// Message is the human detail shown to the client. It never contains
	// secrets or internal error text.
	Message string
	// Fields lists per-field problems for Invalid.
	Fields []FieldError
	// RetryAfterSeconds, when positive, is sent as a Retry-After header.
	RetryAfterSeconds int
	// Limit, when set, names the plan limit a PaymentRequired or
	// RateLimited error is about; the problem then carries the members
	// limit, usage, allowed and upgrade_url (RFC 9457 extension members).
	Limit *LimitInfo
	// Err is an optional cause kept for logs, never shown.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// LimitInfo describes an exceeded plan limit for the problem's extension
// members.
type LimitInfo struct {
	// Name is the limit ("messages_per_month", "contacts", …).
	Name string
	// Usage is what the account uses now.
	Usage int64
	// Allowed is the plan's limit.
	Allowed int64
	// UpgradeURL is where the customer can raise the limit.
	UpgradeURL string
}

// E builds an *Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields builds an Invalid error listing field problems.
func InvalidFields(fields ...FieldError) *Error {
	msg := "the request body has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Message
	}
	return &Error{Code: Invalid, Message: msg, Fields: fields}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool {
	return err != nil && CodeOf(err) == code
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Fields collects field problems of one request; Add ignores an empty
// message, so validators can be called unconditionally.
type Fields []FieldError

// Add records a problem with field unless msg is empty.
func (f *Fields) Add(field, msg string) {
	if msg != "" {
		*f = append(*f, FieldError{Field: field, Message: msg})
	}
}

// Err returns an Invalid error listing the problems, or nil if none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return InvalidFields(f...)
}
