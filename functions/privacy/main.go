// Command privacy is the data-rights Lambda (SQS event source on the
// privacy queue): each message names a privacy request (export, erase,
// restrict, …, contact erasure), which runs from its checkpoint. Outside
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
	app.Main("privacy", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunSQS(ctx, cfg, c, resources.QueuePrivacy, app.Build(cfg, c, log).PrivacyHandler(), log)
	})
}
