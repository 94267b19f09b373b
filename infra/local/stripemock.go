package local

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// StripeMockVersion is the stripe-mock release the tests and make dev use
// (the newest the Go module proxy offers).
const StripeMockVersion = "v0.203.0"

// StripeMockProcess is a running stripe-mock.
type StripeMockProcess struct {
	// URL is its plain-http base URL.
	URL string
	cmd *exec.Cmd
}

// Close stops it.
func (p *StripeMockProcess) Close() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// StartStripeMock starts stripe-mock with both listeners on the given
// loopback addresses and waits until it answers.
func StartStripeMock(httpAddr, httpsAddr string) (*StripeMockProcess, error) {
	bin, err := StripeMockBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	p := &StripeMockProcess{URL: "http://" + httpAddr, cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", p.URL+"/v1/customers/cus_ready", nil)
		req.SetBasicAuth("sk_test_ready", "")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("stripe-mock did not start on %s: %v", httpAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StripeMockBinary returns the path of stripe-mock: $STRIPE_MOCK_BIN,
// <repo>/.build/tools/stripe-mock (where make tools puts it), one on PATH,
// or else it is installed into <repo>/.build/tools with go install.
func StripeMockBinary() (string, error) {
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	tools := filepath.Join(root, ".build", "tools")
	local := filepath.Join(tools, "stripe-mock")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	installMu.Lock()
	defer installMu.Unlock()
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	cmd := exec.Command("go", "install", "github.com/stripe/stripe-mock@"+StripeMockVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tools, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install stripe-mock: %v: %s", err, out)
	}
	return local, nil
}

var installMu sync.Mutex

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
