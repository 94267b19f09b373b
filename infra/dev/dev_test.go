package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatsend/chatsend/infra/local/localtest"
)

var keyLine = regexp.MustCompile(`API key:\s+(cs_test_\S+)`)

// start runs the dev binary and returns once it printed its API key.
func start(t *testing.T, bin, dir string, port, awsPort int) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), fmt.Sprintf("CHATSEND_AWS_PORT=%d", awsPort), "KUMO_DATA_DIR=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var text strings.Builder
		sent := false
		for sc.Scan() {
			text.WriteString(sc.Text() + "\n")
			if m := keyLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- [2]string{m[1], text.String()}
				sent = true
			}
		}
		if !sent {
			found <- [2]string{"", text.String()}
		}
	}()
	select {
	case f := <-found:
		if f[0] == "" {
			t.Fatalf("dev exited without printing a key:\n%s", f[1])
		}
		return cmd, f[0], f[1]
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("dev did not start within 60 s")
	}
	return nil, "", ""
}

func getAccount(t *testing.T, port int, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1/account", port), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET /v1/account: %d %s", res.StatusCode, b)
			}
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/account: %v", err)
		}
	}
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev did not exit cleanly on Ctrl-C: %v", err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("dev did not stop within 20 s of Ctrl-C")
	}
}

// TestDevRunsAndPersists is make dev end to end: first start creates and
// prints a developer account whose key works; Ctrl-C exits cleanly; a second
// start finds the same account in the persisted emulator state.
func TestDevRunsAndPersists(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dev")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port, awsPort := localtest.FreePort(t), localtest.FreePort(t)

	cmd, key, out := start(t, bin, dir, port, awsPort)
	if !strings.Contains(out, "Created developer account") || !strings.Contains(out, "dev@chatsend.local") || !strings.Contains(out, "password:") {
		t.Fatalf("first start output:\n%s", out)
	}
	first := getAccount(t, port, key)
	stop(t, cmd)

	cmd, key2, out := start(t, bin, dir, port, awsPort)
	defer stop(t, cmd)
	if key2 != key || !strings.Contains(out, "Existing developer account") {
		t.Fatalf("second start made a new account (key %q vs %q):\n%s", key2, key, out)
	}
	if second := getAccount(t, port, key); !strings.Contains(second, `"dev@chatsend.local"`) || first[:40] != second[:40] {
		t.Fatalf("account changed across restart:\n%s\n%s", first, second)
	}
	if _, err := os.Stat(filepath.Join(dir, ".dev", "kumo", "dynamodb.json")); err != nil {
		t.Fatalf("no persisted emulator state: %v", err)
	}
}
