package stripeapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/chatsend/chatsend/shared/billing"
)

// Tolerance is how far a signature's timestamp may be from now, in either
// direction.
const Tolerance = 300 * time.Second

// Verification failures.
var (
	// ErrSignature: the Stripe-Signature header is missing, malformed, of
	// another secret, or outside the tolerance (past or future).
	ErrSignature = errors.New("invalid stripe signature")
	// ErrAPIVersion: the signature is valid but the event is of another
	// API version than stripe-go's; it is not parsed.
	ErrAPIVersion = errors.New("stripe event of another api version")
)

// Verifier checks Stripe webhook signatures against any of several
// signing secrets (a secret roll has two).
type Verifier struct {
	secrets []string
	now     func() time.Time
}

// NewVerifier returns a verifier for the signing secrets (whsec_…).
func NewVerifier(secrets []string) *Verifier {
	return &Verifier{secrets: secrets, now: time.Now}
}

// SetClock replaces the clock (tests).
func (v *Verifier) SetClock(now func() time.Time) { v.now = now }

// APIVersion is the Stripe API version events must have.
const APIVersion = stripe.APIVersion

// timestamp returns the header's t= value.
func timestamp(header string) (time.Time, bool) {
	for _, part := range strings.Split(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == "t" {
			sec, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}

// Verify checks header against the exact payload bytes and returns the
// event. Errors wrap ErrSignature or ErrAPIVersion; nothing of an
// unverified payload is parsed.
func (v *Verifier) Verify(payload []byte, header string) (billing.Event, error) {
	if header == "" {
		return billing.Event{}, fmt.Errorf("%w: no Stripe-Signature header", ErrSignature)
	}
	t, ok := timestamp(header)
	if !ok {
		return billing.Event{}, fmt.Errorf("%w: no timestamp", ErrSignature)
	}
	// stripe-go rejects old timestamps only; a future one is as suspect.
	if d := v.now().Sub(t); d > Tolerance || d < -Tolerance {
		return billing.Event{}, fmt.Errorf("%w: timestamp %ds away from now", ErrSignature, int(d.Seconds()))
	}
	for _, secret := range v.secrets {
		// The tolerance was checked above against our clock, in both
		// directions; stripe-go's own check uses the real clock.
		e, err := webhook.ConstructEventWithOptions(payload, header, secret, webhook.ConstructEventOptions{IgnoreTolerance: true})
		switch {
		case err == nil:
			return event(e), nil
		case errors.Is(err, webhook.ErrNoValidSignature):
			continue // maybe the other secret of a roll
		case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrTooOld):
			return billing.Event{}, fmt.Errorf("%w: %v", ErrSignature, err)
		default:
			// The signature is valid (it is checked first), so this is the
			// API version check or an unparsable body.
			return billing.Event{}, fmt.Errorf("%w: %v", ErrAPIVersion, err)
		}
	}
	return billing.Event{}, fmt.Errorf("%w: no signature matches a configured secret", ErrSignature)
}

// event reduces a Stripe event to billing.Event.
func event(e stripe.Event) billing.Event {
	out := billing.Event{ID: e.ID, Type: string(e.Type), Created: unix(e.Created)}
	if e.Data == nil {
		return out
	}
	obj := e.Data.Object
	out.ObjectID, _ = obj["id"].(string)
	switch c := obj["customer"].(type) {
	case string:
		out.CustomerID = c
	case map[string]any:
		out.CustomerID, _ = c["id"].(string)
	}
	if strings.HasPrefix(out.Type, "customer.") && !strings.HasPrefix(out.Type, "customer.subscription.") {
		out.CustomerID = out.ObjectID
	}
	out.AccountID, _ = obj["client_reference_id"].(string)
	return out
}
