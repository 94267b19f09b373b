// Command fanout is the campaign fan-out Lambda (SQS event source on the
// campaign-jobs queue). Outside Lambda it polls the queue itself.
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
	app.Main("fanout", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunSQS(ctx, cfg, c, resources.QueueCampaignJobs, app.Build(cfg, c, log).FanoutHandler(), log)
	})
}
