package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/session-host/wa/simulator"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/tenant"
)

// TestCampaignSurvivesHostKills runs a campaign on a real session-host
// process, SIGKILLs it twice mid-campaign (each time a new host takes the
// session over after the lease expires) and checks that every recipient got
// exactly one message on the simulated WhatsApp server.
func TestCampaignSurvivesHostKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills session-host processes")
	}
	env := apitest.Simulator(t)
	e := apitest.New(t, app.Tuning{RPCTimeout: 15 * time.Second}, env)
	e.StartEventsConsumer()
	e.StartFanout()

	bin := filepath.Join(t.TempDir(), "session-host")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	logs := filepath.Join(t.TempDir(), "hosts.log")
	logf, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var cmds []*exec.Cmd
	start := func(n int) *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "CHATSEND_STAGE="+e.Deps.Config.Resources.Stage, "CHATSEND_WHATSAPP_BACKEND=simulator",
			"CHATSEND_DEVICE_DIR="+env["CHATSEND_DEVICE_DIR"], "CHATSEND_HOST_LEASE_TTL=3s", "CHATSEND_SIM_PACING_SCALE=0.0005",
			"CHATSEND_SIM_DELIVERED_AFTER=50ms", "CHATSEND_SIM_READ_AFTER=100ms", "CHATSEND_LOG_LEVEL=info",
			fmt.Sprintf("CHATSEND_HOST_ID=crash-%d", n), fmt.Sprintf("CHATSEND_HOST_HEALTH_PORT=%d", localtest.FreePort(t)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		return cmd
	}
	t.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logs)
			t.Logf("host logs (tail):\n%s", tail(string(b), 40))
		}
	})
	kill := func(c *exec.Cmd) {
		if err := c.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = c.Wait()
	}

	h1 := start(1)
	ten := e.SignUp("crash@example.com")
	api := ten.API
	ses := api.Must(201, "POST", "/v1/sessions", map[string]any{"label": "crash"}).Str("id")
	api.WaitStatus(ses, "waiting_for_qr", 20*time.Second)
	api.Must(204, "POST", "/v1/simulator/sessions/"+ses+"/scan", nil)
	api.WaitStatus(ses, "connected", 20*time.Second)

	const n = 300
	ctx := tenant.With(context.Background(), ten.AccountID)
	for i := 0; i < n; i++ {
		now := time.Now().UTC()
		if err := e.Deps.DB.CreateContact(ctx, contacts.Contact{ID: ids.New(ids.Contact), AccountID: ten.AccountID,
			Phone: fmt.Sprintf("+49151%08d", 20_000_000+i), FirstName: fmt.Sprint(i), Tags: []string{"crash"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	id := api.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Crash", "session_id": ses, "template": "Hi {{first_name}}",
		"audience": map[string]any{"tags": []string{"crash"}},
		"pacing":   map[string]any{"min_interval_s": 8, "max_interval_s": 20, "daily_cap": 5000, "warm_up": false}}).Str("id")
	api.Must(200, "POST", "/v1/campaigns/"+id+"/start", nil)

	left := func() int {
		c := api.Must(200, "GET", "/v1/campaigns/"+id, nil).JSON["counts"].(map[string]any)
		return int(c["total"].(float64) - c["queued"].(float64) - c["sending"].(float64))
	}
	waitDone := func(atLeast int) {
		apitest.Eventually(t, 2*time.Minute, func() string {
			if d := left(); d < atLeast {
				return fmt.Sprintf("%d of %d messages done, waiting for %d", d, n, atLeast)
			}
			return ""
		})
	}
	waitDone(n / 4)
	kill(h1)
	t.Logf("killed host 1 after %d messages", left())
	h2 := start(2)
	waitDone(n / 2)
	kill(h2)
	t.Logf("killed host 2 after %d messages", left())
	start(3)

	apitest.Eventually(t, 3*time.Minute, func() string {
		r := api.Must(200, "GET", "/v1/campaigns/"+id, nil)
		c := r.JSON["counts"].(map[string]any)
		if r.Str("status") != "completed" || c["read"].(float64) != n {
			return "campaign: " + string(r.Raw)
		}
		return ""
	})

	// Exactly one message per recipient reached the (simulated) WhatsApp server.
	raw, err := os.ReadFile(filepath.Join(env["CHATSEND_DEVICE_DIR"], "simulator", simulator.ServerLog))
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "msg" {
			lines = append(lines, line)
			per[f[2]]++
		}
	}
	if len(lines) != n || len(per) != n {
		t.Fatalf("server got %d messages for %d recipients, want %d each once", len(lines), len(per), n)
	}
	for to, k := range per {
		if k != 1 {
			t.Fatalf("%s received %d messages", to, k)
		}
	}
	b, _ := os.ReadFile(logs)
	t.Logf("resumed sends after kills: %d; repeated ids dropped by the server: %d",
		strings.Count(string(b), "resuming a message left in sending"), strings.Count(string(b), "dropped a repeated message id"))
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
