package contacts

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatsend/chatsend/shared/phone"
)

// Limits of a contact's fields.
const (
	MaxTags            = 50
	MaxTagLength       = 50 // characters
	MaxCustomFields    = 50
	MaxCustomValue     = 1000 // bytes
	MaxNameLength      = 200  // characters
	MaxFirstNameLength = 100  // characters
	maxCustomKeyLen    = 40
	tagPunctuation     = " -_.:/+&@'"
	tagRuleDesc        = "letters, digits, spaces and - _ . : / + & @ '"
	customKeyRuleDesc  = "1 to 40 characters of a-z, 0-9 and _"
)

var customKeyRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// NormalizePhone returns the E.164 form of raw, read with the account's
// default region when it has no country code, or a message saying what is
// wrong.
func NormalizePhone(raw, region string) (string, string) {
	return phone.Normalize(raw, region)
}

// NormalizeTag trims and lowercases a tag and checks it: 1 to 50 letters,
// digits, spaces and a few punctuation marks. '#' is never allowed: it
// separates the parts of storage keys.
func NormalizeTag(raw string) (string, string) {
	t := strings.ToLower(strings.TrimSpace(raw))
	if t == "" {
		return "", "tag is empty"
	}
	if !utf8.ValidString(t) {
		return "", "tag is not valid UTF-8"
	}
	if utf8.RuneCountInString(t) > MaxTagLength {
		return "", fmt.Sprintf("tag is longer than %d characters", MaxTagLength)
	}
	for _, r := range t {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune(tagPunctuation, r) {
			return "", fmt.Sprintf("tag %q has a character other than %s", t, tagRuleDesc)
		}
	}
	return t, ""
}

// NormalizeTags normalises every tag, drops duplicates and sorts them, so
// a contact's tags compare equal whatever order they were given in.
func NormalizeTags(raw []string) ([]string, string) {
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		t, msg := NormalizeTag(r)
		if msg != "" {
			return nil, msg
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, fmt.Sprintf("a contact has at most %d tags", MaxTags)
	}
	return out, ""
}

// CheckCustom checks custom fields: at most 50, keys of [a-z0-9_]{1,40},
// values of at most 1000 bytes of UTF-8 text.
func CheckCustom(custom map[string]string) string {
	if len(custom) > MaxCustomFields {
		return fmt.Sprintf("a contact has at most %d custom fields", MaxCustomFields)
	}
	keys := make([]string, 0, len(custom))
	for k := range custom {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same message for the same input
	for _, k := range keys {
		if msg := CheckCustomKey(k); msg != "" {
			return msg
		}
		if msg := checkCustomValue(k, custom[k]); msg != "" {
			return msg
		}
	}
	return ""
}

// CheckCustomKey checks one custom field name.
func CheckCustomKey(k string) string {
	if !customKeyRE.MatchString(k) {
		return fmt.Sprintf("custom field name %q must be %s", truncate(k, maxCustomKeyLen+5), customKeyRuleDesc)
	}
	return ""
}

func checkCustomValue(k, v string) string {
	if len(v) > MaxCustomValue {
		return fmt.Sprintf("custom field %q is longer than %d bytes", k, MaxCustomValue)
	}
	if !utf8.ValidString(v) {
		return fmt.Sprintf("custom field %q is not valid UTF-8", k)
	}
	return ""
}

// CheckName checks a name field: at most max characters of UTF-8 text
// without control characters (such as line breaks).
func CheckName(field, v string, max int) string {
	if !utf8.ValidString(v) {
		return field + " is not valid UTF-8"
	}
	if utf8.RuneCountInString(v) > max {
		return fmt.Sprintf("%s is longer than %d characters", field, max)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return field + " must not contain control characters such as line breaks"
	}
	return ""
}

// NormalizeReason checks a suppression reason; "" means manual.
func NormalizeReason(r string) (string, string) {
	r = strings.ToLower(strings.TrimSpace(r))
	switch r {
	case "":
		return defaultReason, ""
	case ReasonManual, ReasonOptedOut, ReasonComplaint, ReasonBlocked:
		return r, ""
	}
	return "", "reason must be one of " + reasonsList
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
