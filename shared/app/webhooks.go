package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/tenant"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// buildWebhooks wires the webhooks service: the table, the webhooks queue,
// the secrets key and the SSRF-safe HTTP client.
func buildWebhooks(cfg config.Config, c awsclient.Clients, db *dynamo.DB, log *slog.Logger, t Tuning, quota webhooks.Quota) *webhooks.Service {
	q, _ := cfg.Resources.QueueByID(resources.QueueWebhooks)
	var sealer *webhooks.Sealer
	if cfg.SecretsKey != nil {
		var err error
		if sealer, err = webhooks.NewSealer(cfg.SecretsKey); err != nil {
			log.Error("webhook secrets key unusable; endpoints cannot be created", "error", err.Error())
		}
	}
	client := netguard.NewClient(netguard.Options{AllowLoopback: cfg.WebhooksAllowLoopback})
	if t.WebhookDialRewrite != nil {
		// The rewritten address still passes netguard's dial-time check:
		// the dialer's Control hook sees the final IP.
		tr := client.Transport.(*http.Transport).Clone()
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(ctx, network, t.WebhookDialRewrite(addr))
		}
		client.Transport = tr
	}
	return webhooks.NewService(webhooks.Options{Store: db, Jobs: queue.WebhookJobs{Q: queue.New(c.SQS, q.Name)}, Sealer: sealer,
		HTTP: client, AllowLoopback: cfg.WebhooksAllowLoopback, Tuning: t.Webhooks, Logger: log, Now: t.Now, Quota: quota})
}

// WebhooksHandler is the functions/webhooks handler: each record is one
// delivery job. Records are independent (each outcome is a conditional
// write on its delivery), so a batch is handled concurrently.
func (d *Deps) WebhooksHandler() SQSHandler {
	return d.batchHandler(resources.QueueWebhooks, true, func(ctx context.Context, body string) error {
		var j webhooks.Job
		if err := json.Unmarshal([]byte(body), &j); err != nil || j.AccountID == "" || j.DeliveryID == "" {
			return fmt.Errorf("malformed webhook job")
		}
		return d.Webhooks.HandleJob(tenant.With(ctx, j.AccountID), j)
	})
}
