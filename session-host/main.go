// Command session-host is the always-on service holding WhatsApp
// connections (ECS Fargate). Run with -healthcheck it probes a running
// host's /healthz and exits 0 or 1 (the container health check: the image
// has no curl).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/chatsend/chatsend/session-host/host"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-healthcheck" {
		os.Exit(healthcheck())
	}
	app.Main("session-host", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		h, err := host.FromConfig(cfg, c, log, host.Config{})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.HostHealthPort))
		if err != nil {
			return err
		}
		go func() { _ = app.Serve(ctx, ln, h.HealthHandler(), log) }()
		return h.Run(ctx)
	})
}

func healthcheck() int {
	port := os.Getenv("CHATSEND_HOST_HEALTH_PORT")
	if port == "" {
		port = "8081"
	}
	res, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
