package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret (Standard Webhooks convention).
const SecretPrefix = "whsec_"

// Sealer encrypts signing secrets at rest with AES-256-GCM under a key
// from the environment (CHATSEND_SECRETS_KEY).
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; the random nonce leads the result. additional binds
// the ciphertext to its owner (the endpoint id), so a sealed secret copied
// to another endpoint does not open.
func (s *Sealer) Seal(plain, additional string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux ≥ 3.17
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), []byte(additional))
}

// Open decrypts a value made by Seal with the same additional data.
func (s *Sealer) Open(sealed []byte, additional string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("open secret: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(additional))
	if err != nil {
		return "", fmt.Errorf("open secret: %w", err)
	}
	return string(plain), nil
}

// NewSecret returns a signing secret: "whsec_" + base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns one Standard Webhooks v1 signature ("v1,<base64>") of body
// for message id and timestamp: HMAC-SHA256, keyed with the secret's bytes
// (the base64 after "whsec_"), of "<id>.<unix seconds>.<body>".
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return "", fmt.Errorf("decode secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
