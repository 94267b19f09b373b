// Package ids makes the identifiers ChatSend hands out: a type prefix and a
// time-ordered random part (48-bit milliseconds + 80 random bits, Crockford
// base32, like a ULID), so ids sort by creation and say what they name.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// Prefixes of the id kinds. The prefix is part of the public id format.
const (
	Account  = "acct"
	User     = "usr"
	APIKey   = "key"
	Request  = "req"
	Session  = "ses"
	Contact  = "con"
	Message  = "msg"
	Campaign = "cmp"
	Import   = "imp"
	// Privacy is a data-rights request (export, erase, restrict, …).
	Privacy = "prq"
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// New returns prefix_<26 chars>.
func New(prefix string) string {
	return NewAt(prefix, time.Now())
}

// NewAt is New with an explicit time, for tests and backfills.
func NewAt(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux ≥ 3.17
	}
	return FromBytes(prefix, b)
}

// Valid reports whether id has the given prefix and a well-formed body. It lets
// handlers reject garbage before touching storage.
func Valid(prefix, id string) bool {
	body, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(body) != 26 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(alphabet, body[i]) < 0 {
			return false
		}
	}
	return true
}

// Bytes returns the 16 bytes behind an id of the given prefix.
func Bytes(prefix, id string) ([16]byte, bool) {
	var out [16]byte
	if !Valid(prefix, id) {
		return out, false
	}
	body := id[len(prefix)+1:]
	var hi, lo uint64
	for i := 0; i < len(body); i++ {
		v := uint64(strings.IndexByte(alphabet, body[i]))
		hi = hi<<5 | lo>>59
		lo = lo<<5 | v
	}
	// 26 digits carry 130 bits; the top two are always zero for our ids.
	binary.BigEndian.PutUint64(out[:8], hi)
	binary.BigEndian.PutUint64(out[8:], lo)
	return out, true
}

// FromBytes is the inverse of Bytes.
func FromBytes(prefix string, b [16]byte) string {
	var out [26]byte
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return prefix + "_" + string(out[:])
}
