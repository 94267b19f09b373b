// Package phone normalises phone numbers to E.164 ("+4915112345678") with
// libphonenumber's rules (github.com/nyaruka/phonenumbers), the one format
// ChatSend stores and sends to.
package phone

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize parses raw (with or without a country code; region is the
// ISO 3166 region used when raw has none, "" to require one) and returns
// the E.164 form. The second result is empty on success, else a message
// saying what is wrong.
func Normalize(raw, region string) (string, string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "phone number is required"
	}
	if len(s) > 32 {
		return "", "phone number is too long"
	}
	if !strings.HasPrefix(s, "+") && region == "" {
		return "", "phone number must be in E.164 form with a country code, such as +4915112345678"
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", "phone number is not valid: " + strings.ToLower(err.Error())
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", "phone number is not a valid number for its country"
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

// NormalizeE164 accepts only numbers that already carry a country code.
func NormalizeE164(raw string) (string, string) { return Normalize(raw, "") }

// Hash is the pseudonym of an E.164 number used wherever a number must stay
// recognisable without being kept in clear: suppression keys and message
// records past the recipient-phone retention. It is the hex SHA-256 of the
// number.
func Hash(e164 string) string {
	sum := sha256.Sum256([]byte(e164))
	return hex.EncodeToString(sum[:])
}
