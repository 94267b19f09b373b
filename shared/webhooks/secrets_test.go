package webhooks_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/webhooks"
)

func TestSealer(t *testing.T) {
	s, err := webhooks.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	secret := webhooks.NewSecret()
	if !strings.HasPrefix(secret, webhooks.SecretPrefix) {
		t.Fatalf("secret %q", secret[:6])
	}
	sealed := s.Seal(secret, "whe_a")
	if bytes.Contains(sealed, []byte(secret)) {
		t.Fatal("sealed secret contains the plaintext")
	}
	if got, err := s.Open(sealed, "whe_a"); err != nil || got != secret {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.Open(sealed, "whe_b"); err == nil {
		t.Fatal("a secret sealed for one endpoint opened for another")
	}
	if _, err := webhooks.NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}
