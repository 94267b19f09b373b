// Command billing-reconcile re-syncs every customer's subscription from the
// Stripe API (after an outage or lost webhooks) and applies time-based
// billing changes such as the end of a past-due grace period. It is a
// Lambda on an hourly schedule; run from the command line it reconciles once
// and exits. Idempotent.
package main

import (
	"context"
	"log/slog"

	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
)

func main() {
	app.Main("billing-reconcile", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		svc := app.Build(cfg, c, log).Billing
		return app.RunTask(ctx, func(ctx context.Context) error {
			_, err := svc.Reconcile(ctx)
			return err
		})
	})
}
