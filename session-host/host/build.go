package host

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/session-host/wa/simulator"
	"github.com/chatsend/chatsend/session-host/wa/whatsmeow"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// NewBackend builds the configured WhatsApp backend: the real whatsmeow one
// by default, the simulator only when configured (and it says so in logs).
func NewBackend(cfg config.Config, log *slog.Logger) (wa.Backend, error) {
	switch cfg.WhatsAppBackend {
	case config.BackendSimulator:
		log.Warn("WhatsApp SIMULATOR backend: no real WhatsApp connections; for offline development and tests only")
		return simulator.New(simulator.Options{Dir: filepath.Join(cfg.DeviceDir, "simulator"),
			DeliveredAfter: cfg.SimDeliveredAfter, ReadAfter: cfg.SimReadAfter, AutoScanAfter: cfg.SimAutoScanAfter, Logger: log})
	case config.BackendWhatsmeow:
		return whatsmeow.New(filepath.Join(cfg.DeviceDir, "whatsmeow"), log)
	}
	return nil, fmt.Errorf("unknown WhatsApp backend %q", cfg.WhatsAppBackend)
}

// FromConfig builds a host from the process configuration.
func FromConfig(cfg config.Config, c awsclient.Clients, log *slog.Logger, tune Config) (*Host, error) {
	backend, err := NewBackend(cfg, log)
	if err != nil {
		return nil, err
	}
	control, ok := cfg.Resources.QueueByID(resources.QueueControl)
	if !ok {
		return nil, fmt.Errorf("no session-control queue defined")
	}
	evq, _ := cfg.Resources.QueueByID(resources.QueueEvents)
	sendq, _ := cfg.Resources.QueueByID(resources.QueueSend)
	tune.ID = cfg.HostID
	if tune.LeaseTTL == 0 {
		tune.LeaseTTL = cfg.HostLeaseTTL
	}
	if tune.CampaignIntervalScale == 0 && cfg.WhatsAppBackend == config.BackendSimulator {
		tune.CampaignIntervalScale = cfg.SimPacingScale
	}
	tune.InboxPrefix = resources.HostInboxPrefix(cfg.Stage)
	return New(tune, Deps{
		Store:   dynamo.New(c.DynamoDB, cfg.Resources.Main.Name, log),
		Backend: backend,
		Control: queue.New(c.SQS, control.Name),
		Send:    queue.New(c.SQS, sendq.Name),
		Inboxes: SQSInboxes{Client: c.SQS},
		Events:  queue.EventPublisher{Q: queue.New(c.SQS, evq.Name)},
		// Loopback media only for local runs (make dev, tests).
		Media:  netguard.NewClient(netguard.Options{AllowLoopback: cfg.Local()}),
		Logger: log,
	}), nil
}
