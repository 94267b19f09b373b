// Command imports is the contact import Lambda (SQS event source on the
// imports queue): each message names a CSV import job, which runs from its
// checkpoint. Outside Lambda it polls the queue itself.
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
	app.Main("imports", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunSQS(ctx, cfg, c, resources.QueueImports, app.Build(cfg, c, log).ImportsHandler(), log)
	})
}
