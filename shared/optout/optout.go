// Package optout recognises consent keywords in inbound WhatsApp messages:
// a contact who replies STOP (or the account's own words) is suppressed,
// START lifts it. A keyword must be the whole message; matching ignores
// case, accents and surrounding punctuation, so "Stop!", " stop " and
// "PARÁR" all count, while "please stop sending" does not.
package optout

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// DefaultKeywords opt a contact out unless the account sets its own.
var DefaultKeywords = []string{"STOP", "UNSUBSCRIBE", "CANCEL", "PARAR", "SAIR", "BAJA"}

// OptInKeywords reverse an opt-out.
var OptInKeywords = []string{"START"}

// Normalize folds text for matching: accents removed, lower case, outer
// spaces and punctuation trimmed, inner spaces collapsed.
func Normalize(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // combining accent
		}
		b.WriteRune(unicode.ToLower(r))
	}
	folded := strings.TrimFunc(b.String(), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	return strings.Join(strings.Fields(folded), " ")
}

// Match reports whether text, as a whole, is one of keywords.
func Match(text string, keywords []string) bool {
	t := Normalize(text)
	if t == "" {
		return false
	}
	for _, k := range keywords {
		if Normalize(k) == t {
			return true
		}
	}
	return false
}

// Keywords returns the account's opt-out keywords, or the defaults.
func Keywords(custom []string) []string {
	if len(custom) == 0 {
		return DefaultKeywords
	}
	return custom
}
