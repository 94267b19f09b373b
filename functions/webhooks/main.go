// Command webhooks is the webhook delivery Lambda (SQS event source on the
// webhooks queue): it signs and POSTs each delivery and schedules retries.
// Outside Lambda it polls the queue itself.
package main

import (
	"context"
	"log/slog"

	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/resources"
)

func main() {
	app.Main("webhooks", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunSQS(ctx, cfg, c, resources.QueueWebhooks, app.Build(cfg, c, log).WebhooksHandler(), log)
	})
}
