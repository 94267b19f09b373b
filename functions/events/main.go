// Command events is the events Lambda (SQS event source on the events
// queue): delivery tracking from the session host's receipts. Outside
// Lambda it polls the queue itself.
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
	app.Main("events", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunSQS(ctx, cfg, c, resources.QueueEvents, app.Build(cfg, c, log).EventsHandler(), log)
	})
}
