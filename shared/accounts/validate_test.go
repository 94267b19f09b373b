package accounts_test

import (
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/accounts"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" Ana@Example.COM ", "ana@example.com"},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
		{"", ""},
		{"ana", ""},
		{"Ana <ana@example.com>", ""},
		{"ana@localhost", ""},
		{"ana@example.", ""},
		{"ana@@example.com", ""},
		{strings.Repeat("a", 250) + "@example.com", ""},
	} {
		got, msg := accounts.NormalizeEmail(tc.in)
		if got != tc.want || (tc.want == "") != (msg != "") {
			t.Errorf("NormalizeEmail(%q) = %q, %q; want %q", tc.in, got, msg, tc.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw, email, name string
		ok              bool
	}{
		{"correct horse battery staple", "a@example.com", "Ana", true},
		{"Zq8#vL2!pW", "a@example.com", "Ana", true},
		{"short1!", "a@example.com", "Ana", false},
		{"password123", "a@example.com", "Ana", false},
		{"PASSWORD123", "a@example.com", "Ana", false},
		{"ababababababab", "a@example.com", "Ana", false},
		{"abcdefghijkl", "a@example.com", "Ana", false},
		{"9876543210", "a@example.com", "Ana", false},
		{"johnsmith-rocks-2024", "johnsmith@example.com", "X", false},
		{"i am Gabriela forever", "g@example.com", "Gabriela Souza", false},
		{strings.Repeat("xyzzy-plugh", 30), "a@example.com", "Ana", false},
		{"pässwörter-sind-lang", "a@example.com", "Ana", true},
	} {
		msg := accounts.CheckPassword(tc.pw, tc.email, tc.name)
		if (msg == "") != tc.ok {
			t.Errorf("CheckPassword(%q) = %q; want ok=%v", tc.pw, msg, tc.ok)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	p := accounts.PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	h, err := accounts.HashPassword("correct horse battery staple", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash format: %s", h)
	}
	h2, _ := accounts.HashPassword("correct horse battery staple", p)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	if !accounts.VerifyPassword(h, "correct horse battery staple") {
		t.Fatal("right password rejected")
	}
	for _, bad := range []string{"correct horse battery stapl", "", "Correct horse battery staple"} {
		if accounts.VerifyPassword(h, bad) {
			t.Fatalf("wrong password %q accepted", bad)
		}
	}
	for _, broken := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA", strings.Replace(h, "m=1024", "m=99999999", 1), "$argon2id$v=19$m=1024,t=1,p=1$!!$AAAA"} {
		if accounts.VerifyPassword(broken, "correct horse battery staple") {
			t.Fatalf("malformed hash %q verified", broken)
		}
	}
}

func TestDefaultParamsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id at production cost")
	}
	h, err := accounts.HashPassword("correct horse battery staple", accounts.DefaultPasswordParams)
	if err != nil || !strings.Contains(h, "m=19456,t=2,p=1") || !accounts.VerifyPassword(h, "correct horse battery staple") {
		t.Fatalf("production params: %v %s", err, h)
	}
}

func TestScopeAllows(t *testing.T) {
	full, send, read := accounts.ScopeFull, accounts.ScopeSend, accounts.ScopeRead
	for _, tc := range []struct {
		have, need accounts.Scope
		ok         bool
	}{
		{full, full, true}, {full, read, true}, {send, send, true}, {send, read, true},
		{send, full, false}, {read, send, false}, {read, read, true},
		{"admin", read, false}, {full, "", false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.ok {
			t.Errorf("%q.Allows(%q) = %v", tc.have, tc.need, got)
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := accounts.HashPassword("correct horse battery staple", accounts.DefaultPasswordParams); err != nil {
			b.Fatal(err)
		}
	}
}
