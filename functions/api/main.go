// Command api is the public API Lambda (API Gateway HTTP API, payload v2).
// Outside Lambda it serves the same handler on 127.0.0.1:$PORT.
package main

import (
	"context"
	"log/slog"

	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
)

func main() {
	app.Main("api", func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error {
		return app.RunHTTP(ctx, cfg, app.Build(cfg, c, log).API(), log)
	})
}
