package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/session-host/wa/simulator"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// sessionHostRSS runs the real session-host binary with n simulated,
// already-paired sessions for each n, and reports its resident memory once
// all are connected.
func sessionHostRSS(r *report, work string, clients awsclient.Clients, counts []int) error {
	bin := filepath.Join(work, "session-host")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./session-host")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build session-host: %v: %s", err, out)
	}
	r.add("\n## Session host memory\n\nThe session-host binary (simulator backend, already-paired sessions) holding n sessions; RSS is the median of 3 samples taken after every session reported `connected`.\n\n")
	r.add("| sessions | RSS | time to all connected | RSS per session over the 1-session baseline |\n|---|---|---|---|\n")
	var base float64
	for _, n := range counts {
		rss, took, err := hostRun(work, clients, n)
		if err != nil {
			return err
		}
		per := "—"
		if n == counts[0] {
			base = rss
		} else {
			per = fmt.Sprintf("%.1f KiB", (rss-base)*1024/float64(n-counts[0]))
		}
		r.add("| %d | %.1f MiB | %s | %s |\n", n, rss, took.Round(10*time.Millisecond), per)
	}
	return nil
}

func hostRun(work string, clients awsclient.Clients, n int) (float64, time.Duration, error) {
	ctx := context.Background()
	stage := fmt.Sprintf("rss%d", n)
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		if k == "CHATSEND_STAGE" {
			return stage, true
		}
		if k == "CHATSEND_WHATSAPP_BACKEND" {
			return "simulator", true
		}
		if k == "CHATSEND_PLAN_LIMITS_FREE" {
			return local.GenerousPlanLimits, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		return 0, 0, err
	}
	if err := local.Provision(ctx, clients, cfg.Resources); err != nil {
		return 0, 0, err
	}
	devices := filepath.Join(work, stage)
	simDir := filepath.Join(devices, "simulator")
	if err := os.MkdirAll(simDir, 0o700); err != nil {
		return 0, 0, err
	}
	deps := app.Build(cfg, clients, logging.Discard())
	tctx := tenant.With(ctx, ids.New(ids.Account))
	for i := 0; i < n; i++ {
		ses, err := deps.Sessions.Create(tctx, fmt.Sprintf("bench %d", i))
		if err != nil {
			return 0, 0, err
		}
		// A paired simulated device store, so the session connects at once.
		st, _ := json.Marshal(map[string]any{"paired": true, "phone": simulator.MadeUpPhone(ses.ID), "push_name": "bench"})
		if err := os.WriteFile(filepath.Join(simDir, ses.ID+".json"), st, 0o600); err != nil {
			return 0, 0, err
		}
	}
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(filepath.Join(work, "session-host"))
	cmd.Env = append(os.Environ(), "CHATSEND_STAGE="+stage, "CHATSEND_WHATSAPP_BACKEND=simulator", "CHATSEND_DEVICE_DIR="+devices,
		fmt.Sprintf("CHATSEND_HOST_HEALTH_PORT=%d", port), "CHATSEND_LOG_LEVEL=error", fmt.Sprintf("CHATSEND_HOST_ID=bench-%d", n))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	var took time.Duration
	for deadline := start.Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%d sessions not all connected within 3 min", n)
		}
		res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			continue
		}
		var h struct {
			ByStatus map[string]int `json:"by_status"`
		}
		_ = json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if h.ByStatus["connected"] == n {
			took = time.Since(start)
			break
		}
	}
	var samples []float64
	for i := 0; i < 3; i++ {
		time.Sleep(time.Second)
		kib, err := rssKiB(cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		samples = append(samples, float64(kib)/1024)
	}
	sort.Float64s(samples)
	return samples[1], took, nil
}

func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
