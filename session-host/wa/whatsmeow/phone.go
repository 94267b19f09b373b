package whatsmeow

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalidPhone is returned for a phone number that is not E.164
// ("+" optional, 7 to 15 digits, no leading zero).
var ErrInvalidPhone = errors.New("invalid E.164 phone number")

// phoneDigits returns the digits of an E.164 number: "+4915112345678" gives
// "4915112345678", which is the user part of a WhatsApp phone JID.
func phoneDigits(phone string) (string, error) {
	d := strings.TrimPrefix(phone, "+")
	if len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("phone %s: %w", maskPhone(phone), ErrInvalidPhone)
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "", fmt.Errorf("phone %s: %w", maskPhone(phone), ErrInvalidPhone)
		}
	}
	return d, nil
}

// maskPhone keeps only the last four digits of a phone number, for logs and
// error texts: "+4915112345678" gives "***5678".
func maskPhone(phone string) string {
	var b strings.Builder
	for i := 0; i < len(phone); i++ {
		if phone[i] >= '0' && phone[i] <= '9' {
			b.WriteByte(phone[i])
		}
	}
	d := b.String()
	if len(d) <= 4 {
		return "***"
	}
	return "***" + d[len(d)-4:]
}

// phoneInText finds phone numbers in free text: phone-number JIDs (with an
// optional agent/device part, "4915112345678:12@s.whatsapp.net", and the
// legacy "@c.us" server) and "+"-prefixed E.164 numbers. LIDs and group JIDs
// are pseudonymous and stay readable for debugging.
var phoneInText = regexp.MustCompile(`\+?\d{5,}(?:[.:]\d+)*@(?:s\.whatsapp\.net|c\.us)|\+\d{6,15}`)

// redactPhones masks every phone number found in text (see phoneInText).
// whatsmeow's own log lines and errors name users by JID; they pass through
// here so that a full phone number never reaches our logs.
func redactPhones(text string) string {
	return phoneInText.ReplaceAllStringFunc(text, func(m string) string {
		if at := strings.IndexByte(m, '@'); at >= 0 {
			user, rest := m[:at], m[at:]
			if sep := strings.IndexAny(user, ".:"); sep >= 0 {
				user, rest = user[:sep], user[sep:]+m[at:]
			}
			return maskPhone(user) + rest
		}
		return maskPhone(m)
	})
}

// redactedError hides phone numbers in a wrapped error's text while keeping
// it reachable for errors.Is and errors.As.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redactPhones(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

// redact wraps err so its text carries no full phone number; nil stays nil.
func redact(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err: err}
}
