// Command bench is ChatSend's load harness (make bench). It starts the local
// stack (embedded AWS emulator), builds and starts the real API binary as its
// own process, measures it, and writes a Markdown report. All traffic goes
// to 127.0.0.1; every loop is bounded in count and time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/logging"
)

func main() {
	out := flag.String("out", ".build/bench/report.md", "report path")
	rate := flag.Int("rate", 200, "requests per second for the fixed-rate run")
	dur := flag.Duration("duration", 10*time.Second, "length of each load run")
	recipients = flag.Int("recipients", 100_000, "recipients of the fan-out benchmark")
	only := flag.String("only", "", "comma-separated sections to run (api, import, host, campaign, webhooks); all when empty")
	flag.Parse()
	want = func(section string) bool {
		return *only == "" || slices.Contains(strings.Split(*only, ","), section)
	}
	if err := run(*out, *rate, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(out string, rate int, dur time.Duration) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "chatsend-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	emu, err := local.StartEmulator("")
	if err != nil {
		return err
	}
	defer emu.Close()
	emu.UseEnv()
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		if k == "CHATSEND_STAGE" {
			return "bench", true
		}
		if k == "CHATSEND_PLAN_LIMITS_FREE" {
			return local.GenerousPlanLimits, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		return err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return err
	}
	if err := local.Provision(ctx, clients, cfg.Resources); err != nil {
		return err
	}
	creds, _, err := local.EnsureDevAccount(ctx, app.Build(cfg, clients, logging.Discard()).Accounts, work)
	if err != nil {
		return err
	}

	r := &report{}
	r.add("# ChatSend benchmark report\n\n%s · %s/%s · %d CPUs · %s\n\n"+
		"Numbers from a shared 2-core machine are noisy: compare medians and ratios, not single runs.\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())

	if want("api") {
		bin, err := binarySizes(r, work)
		if err != nil {
			return err
		}
		env := append(os.Environ(), "CHATSEND_STAGE=bench", "CHATSEND_LOG_LEVEL=warn")
		if err := startupTimes(r, bin, env, 5); err != nil {
			return err
		}
		api, err := startAPI(bin, env)
		if err != nil {
			return err
		}
		defer api.stop()
		if err := apiLoad(r, api.url, creds.APIKey, rate, dur); err != nil {
			return err
		}
		if want("import") {
			if err := contactImport(r, api.url, creds.APIKey, cfg, clients, 100_000); err != nil {
				return err
			}
		}
	}
	if want("host") {
		if err := sessionHostRSS(r, work, clients, []int{1, 100, 1000}); err != nil {
			return err
		}
	}
	if want("campaign") {
		if err := campaignBench(r, *recipients, work); err != nil {
			return err
		}
	}
	if want("webhooks") {
		if err := webhookBench(r, clients, 2000); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(r.String()), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}

var (
	recipients *int
	// want reports whether a section runs (-only).
	want func(section string) bool
)

type report struct{ strings.Builder }

func (r *report) add(format string, args ...any) { fmt.Fprintf(&r.Builder, format, args...) }
