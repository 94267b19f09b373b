// Command stripe-webhook is the Stripe webhook Lambda (API Gateway HTTP API
// route POST /stripe/webhook, payload v2): it verifies each event's
// signature and hands it to billing. Outside Lambda it serves the same
// handler on 127.0.0.1:$PORT (make dev serves it inside the API as well).
package main

import (
	"context"
	"log/slog"

	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
)

func main() {
	app.Main("stripe-webhook", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunHTTP(ctx, cfg, handler(app.Build(cfg, c, log)), log)
	})
}
