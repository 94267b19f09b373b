// Command dev runs the whole ChatSend product locally in one process: the
// embedded AWS emulator (kumo) with every table, queue and bucket, and the
// API on http://127.0.0.1:8080 ($PORT). State persists in .dev/ between runs.
// make dev runs it; Ctrl-C stops everything cleanly.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/session-host/host"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

func main() {
	dir := envOr("CHATSEND_DEV_DIR", ".dev")
	if os.Getenv("CHATSEND_DEVICE_DIR") == "" {
		os.Setenv("CHATSEND_DEVICE_DIR", filepath.Join(dir, "devices"))
	}
	if os.Getenv("KUMO_DATA_DIR") == "" {
		// kumo reads KUMO_DATA_DIR when its package initialises, before
		// main: set it and start again so local data survives restarts.
		abs, _ := filepath.Abs(filepath.Join(dir, "kumo"))
		os.Setenv("KUMO_DATA_DIR", abs)
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, os.Environ())
		}
		fmt.Fprintln(os.Stderr, "dev: restart with KUMO_DATA_DIR:", err)
		os.Exit(1)
	}
	emu, err := local.StartEmulator("127.0.0.1:" + envOr("CHATSEND_AWS_PORT", "4566"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
	emu.UseEnv()
	defer emu.Close()
	// stripe-mock stands in for Stripe: with CHATSEND_STRIPE_SECRET_KEY set
	// (any sk_test_… value) and no CHATSEND_STRIPE_API_URL, billing calls
	// go to it; without a key the free plan applies and checkout says
	// billing is not configured.
	if sm, err := local.StartStripeMock("127.0.0.1:"+envOr("CHATSEND_STRIPE_MOCK_PORT", "12111"),
		"127.0.0.1:"+envOr("CHATSEND_STRIPE_MOCK_HTTPS_PORT", "12112")); err != nil {
		fmt.Fprintln(os.Stderr, "dev: stripe-mock not started (billing stays unconfigured):", err)
	} else {
		defer sm.Close()
		if os.Getenv("CHATSEND_STRIPE_API_URL") == "" {
			os.Setenv("CHATSEND_STRIPE_API_URL", sm.URL)
		}
	}
	app.Main("dev", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return run(ctx, cfg, c, log, dir, emu.URL)
	})
}

func run(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger, dir, awsURL string) error {
	if err := local.Provision(ctx, c, cfg.Resources); err != nil {
		return err
	}
	deps := app.Build(cfg, c, log)
	creds, created, err := local.EnsureDevAccount(ctx, deps.Accounts, dir)
	if err != nil {
		return err
	}
	word := "Existing"
	if created {
		word = "Created"
	}
	fmt.Printf("\nChatSend is running locally (stage %q, WhatsApp backend %q)\n", cfg.Stage, cfg.WhatsAppBackend)
	fmt.Printf("  API:        %s   (docs: %s/docs)\n", cfg.PublicBaseURL, cfg.PublicBaseURL)
	fmt.Printf("  AWS (kumo): %s   data in %s\n", awsURL, os.Getenv("KUMO_DATA_DIR"))
	fmt.Printf("  %s developer account (saved in %s):\n", word, filepath.Join(dir, "dev-credentials.json"))
	fmt.Printf("    email:    %s\n    password: %s\n    API key:  %s\n", creds.Email, creds.Password, creds.APIKey)
	fmt.Printf("  Try: curl -H \"Authorization: Bearer %s\" %s/v1/account\n\n", creds.APIKey, cfg.PublicBaseURL)
	h, err := host.FromConfig(cfg, c, logging.New(os.Stdout, cfg.LogLevel, "session-host"), host.Config{PollWait: 2 * time.Second})
	if err != nil {
		return err
	}
	// Workers that are Lambdas in AWS run here as queue pollers.
	evq, _ := cfg.Resources.QueueByID(resources.QueueEvents)
	go app.PollSQS(ctx, queue.New(c.SQS, evq.Name), deps.EventsHandler(), 2*time.Second, log)
	jobq, _ := cfg.Resources.QueueByID(resources.QueueCampaignJobs)
	go app.PollSQS(ctx, queue.New(c.SQS, jobq.Name), deps.FanoutHandler(), 2*time.Second, log)
	impq, _ := cfg.Resources.QueueByID(resources.QueueImports)
	go app.PollSQS(ctx, queue.New(c.SQS, impq.Name), deps.ImportsHandler(), 2*time.Second, log.With("component", "imports"))
	whq, _ := cfg.Resources.QueueByID(resources.QueueWebhooks)
	go app.PollSQS(ctx, queue.New(c.SQS, whq.Name), deps.WebhooksHandler(), 2*time.Second, log.With("component", "webhooks"))
	prq, _ := cfg.Resources.QueueByID(resources.QueuePrivacy)
	go app.PollSQS(ctx, queue.New(c.SQS, prq.Name), deps.PrivacyHandler(), 2*time.Second, log.With("component", "privacy"))
	hostDone := make(chan error, 1)
	go func() { hostDone <- h.Run(ctx) }()
	err = app.RunHTTP(ctx, cfg, deps.API(), log)
	if herr := <-hostDone; herr != nil && err == nil {
		err = herr
	}
	log.Info("shutting down; flushing local AWS state")
	local.WaitForFlush()
	return err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
