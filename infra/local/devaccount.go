package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/tenant"
)

// DevCredentials are the local developer account's login and API key. They
// are written once to a 0600 file in the local data folder, so a restart
// prints the same ones (the key itself is stored only as a hash).
type DevCredentials struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	APIKey    string `json:"api_key"`
	AccountID string `json:"account_id"`
}

// DevEmail is the local developer account's login.
const DevEmail = "dev@chatsend.local"

// EnsureDevAccount returns the developer account of the local stack,
// creating it (with a random password and a full-scope API key) on first
// start. created reports whether it was made now.
func EnsureDevAccount(ctx context.Context, svc *accounts.Service, dir string) (creds DevCredentials, created bool, err error) {
	path := filepath.Join(dir, "dev-credentials.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &creds); err != nil {
			return creds, false, fmt.Errorf("read %s: %w", path, err)
		}
		// The file may outlive the emulator's data: check the key still works.
		if _, err := svc.AuthenticateKey(ctx, creds.APIKey); err == nil {
			return creds, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return creds, false, fmt.Errorf("read %s: %w", path, err)
	}
	creds = DevCredentials{Email: DevEmail, Password: randomPassword()}
	a, _, err := svc.Signup(ctx, accounts.SignupInput{Email: creds.Email, Password: creds.Password, Name: "Local Developer", ClientIP: "127.0.0.1"})
	if errs.Is(err, errs.Conflict) {
		return creds, false, fmt.Errorf("%s exists in the emulator but %s is missing or stale: delete the local data folder %s to start fresh", DevEmail, path, dir)
	}
	if err != nil {
		return creds, false, fmt.Errorf("create dev account: %w", err)
	}
	_, secret, err := svc.CreateAPIKey(tenant.With(ctx, a.ID), "local development", accounts.ScopeFull)
	if err != nil {
		return creds, false, fmt.Errorf("create dev api key: %w", err)
	}
	creds.APIKey, creds.AccountID = secret, a.ID
	b, _ := json.MarshalIndent(creds, "", "  ")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return creds, false, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return creds, false, fmt.Errorf("write %s: %w", path, err)
	}
	return creds, true, nil
}

func randomPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}
