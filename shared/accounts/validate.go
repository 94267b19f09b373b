package accounts

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	_ "time/tzdata" // time zones must validate the same in a bare Lambda image
)

// Password length limits. The upper bound keeps argon2 input bounded.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// NormalizeEmail trims and lower-cases an email address and checks that it
// is a bare address with a dotted domain. The second result is empty when
// the address is fine, else it says what is wrong.
func NormalizeEmail(raw string) (string, string) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", "email is required"
	}
	if len(e) > 254 {
		return "", "email must be at most 254 characters"
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", "email must be a plain address such as name@example.com"
	}
	_, domain, _ := strings.Cut(e, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", "email must have a domain such as example.com"
	}
	return e, ""
}

// commonPasswords are frequent passwords long enough to pass the length
// rule; attackers try these first.
var commonPasswords = map[string]bool{
	"password123": true, "password1234": true, "password12345": true, "1234567890": true,
	"12345678910": true, "123456789a": true, "0987654321": true, "1111111111": true,
	"qwertyuiop": true, "qwerty1234": true, "qwerty12345": true, "1q2w3e4r5t": true,
	"1qaz2wsx3edc": true, "abcdefghij": true, "abcd123456": true, "iloveyou123": true,
	"passw0rd123": true, "letmein123": true, "welcome123": true, "welcome1234": true,
	"administrator": true, "changeme123": true, "qwertyuiop123": true, "football123": true,
	"baseball123": true, "princess123": true, "sunshine123": true, "superman123": true,
	"trustno1234": true, "whatsapp123": true, "chatsend123": true, "monkey12345": true,
	"dragon12345": true, "master12345": true, "zaq12wsxcde": true, "asdfghjkl1": true,
	"asdfghjkl123": true, "zxcvbnm123": true, "password!": true, "p@ssw0rd123": true,
}

// CheckPassword returns "" for an acceptable password, else why it is weak.
// It follows NIST SP 800-63B: a length floor and a block-list instead of
// composition rules; it also refuses passwords built from the email or name.
func CheckPassword(pw, email, name string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return "password must be at least 10 characters"
	case len(pw) > MaxPasswordLen:
		return "password must be at most 256 bytes"
	case !utf8.ValidString(pw):
		return "password must be valid UTF-8"
	}
	lower := strings.ToLower(pw)
	if commonPasswords[lower] {
		return "password is one of the most common passwords; choose another"
	}
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	if len(distinct) < 5 {
		return "password repeats too few characters; use at least 5 different ones"
	}
	if isSequence(lower) {
		return "password is a keyboard or number sequence; choose another"
	}
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	if len(local) >= 4 && strings.Contains(lower, local) {
		return "password must not contain your email address"
	}
	for _, word := range strings.Fields(strings.ToLower(name)) {
		if utf8.RuneCountInString(word) >= 4 && strings.Contains(lower, word) {
			return "password must not contain your name"
		}
	}
	return ""
}

// isSequence reports runs like "abcdefghij" or "9876543210".
func isSequence(s string) bool {
	r := []rune(s)
	up, down := true, true
	for i := 1; i < len(r); i++ {
		up = up && r[i] == r[i-1]+1
		down = down && r[i] == r[i-1]-1
	}
	return up || down
}

// CheckName returns "" for an acceptable display name.
func CheckName(field, name string) string {
	n := utf8.RuneCountInString(strings.TrimSpace(name))
	if n == 0 {
		return field + " is required"
	}
	if n > 100 {
		return field + " must be at most 100 characters"
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return field + " must not contain control characters"
		}
	}
	return ""
}

// CheckTimeZone returns "" for a valid IANA zone name.
func CheckTimeZone(tz string) string {
	if tz == "" || tz == "Local" {
		return "time_zone must be an IANA zone such as Europe/Berlin"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return "time_zone must be an IANA zone such as Europe/Berlin"
	}
	return ""
}

// CheckRegion returns "" for an ISO 3166-1 alpha-2 region code.
func CheckRegion(r string) string {
	if len(r) != 2 || r[0] < 'A' || r[0] > 'Z' || r[1] < 'A' || r[1] > 'Z' {
		return "default_region must be a two-letter ISO 3166 code such as US"
	}
	return ""
}
