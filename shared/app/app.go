// Package app wires ChatSend's parts together from configuration and AWS
// clients. Lambda mains, the local dev runner and end-to-end tests all build
// the product through it, so there is one way to assemble it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/httpapi"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/privacy"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/tracking"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// Deps are the built domain services.
type Deps struct {
	Config    config.Config
	DB        *dynamo.DB
	Accounts  *accounts.Service
	Sessions  *sessions.Service
	Messages  *messages.Service
	Tracking  *tracking.Handler
	Campaigns *campaigns.Service
	Contacts  *contacts.Service
	Webhooks  *webhooks.Service
	Billing   *billing.Service
	Privacy   *privacy.Service
	Log       *slog.Logger
	sqs       *sqs.Client
}

// Tuning overrides cost and limit settings; tests use it to keep argon2id
// cheap under the race detector and to exercise rate limits quickly. The
// zero value means production settings.
type Tuning struct {
	Password accounts.PasswordParams
	Limits   accounts.Limits
	Now      func() time.Time
	// RPCTimeout bounds waits for the session host (default 15 s).
	RPCTimeout time.Duration
	// Webhooks compresses the webhook retry schedule and disable policy.
	Webhooks webhooks.Tuning
	// WebhookDialRewrite, when set, rewrites every webhook dial address
	// before the dial-time SSRF check — a test stand-in for DNS answers.
	WebhookDialRewrite func(addr string) string
	// Billing replaces the billing service's data-rights part (tests).
	Billing privacy.Billing
	// PrivacySessionWait bounds an erase's wait for the session host
	// (default 2 min); PrivacyAfterPhase runs after each privacy phase
	// (tests crash jobs midway with it).
	PrivacySessionWait time.Duration
	PrivacyAfterPhase  func(r privacy.Request, phase string) error
}

// Build creates the domain services for cfg on clients.
func Build(cfg config.Config, c awsclient.Clients, log *slog.Logger) *Deps {
	return BuildTuned(cfg, c, log, Tuning{})
}

// BuildTuned is Build with tuning overrides.
func BuildTuned(cfg config.Config, c awsclient.Clients, log *slog.Logger, t Tuning) *Deps {
	db := dynamo.New(c.DynamoDB, cfg.Resources.Main.Name, log)
	if t.Now != nil {
		db.SetClock(t.Now)
	}
	prefix := "cs_live_"
	if cfg.Local() {
		prefix = "cs_test_"
	}
	control, _ := cfg.Resources.QueueByID(resources.QueueControl)
	sendq, _ := cfg.Resources.QueueByID(resources.QueueSend)
	evq, _ := cfg.Resources.QueueByID(resources.QueueEvents)
	evpub := queue.EventPublisher{Q: queue.New(c.SQS, evq.Name)}
	deps := &Deps{
		Config: cfg, DB: db, Log: log, sqs: c.SQS,
		Accounts: accounts.NewService(accounts.Options{Store: db, Limiter: db, Logger: log, KeyPrefix: prefix,
			Password: t.Password, Limits: t.Limits, Now: t.Now}),
	}
	billingSvc, err := buildBilling(cfg, db, deps, log, t)
	if err != nil {
		// Only a plan configured with an unknown price name gets here;
		// fail safe to the built-in plans without prices.
		log.Error("billing plans unusable; checkout disabled", "error", err.Error())
		billingSvc, _ = buildBilling(config.Config{Stage: cfg.Stage, PublicBaseURL: cfg.PublicBaseURL}, db, deps, log, t)
	}
	deps.Billing = billingSvc
	deps.Sessions = sessions.NewService(sessions.Options{Store: db, Notifier: queue.ControlNotifier{Q: queue.New(c.SQS, control.Name)},
		Logger: log, Backend: cfg.WhatsAppBackend, RPCTimeout: t.RPCTimeout, Now: t.Now, Quota: billingSvc})
	deps.Webhooks = buildWebhooks(cfg, c, db, log, t, billingSvc) // before anything that emits events
	deps.Messages = messages.NewService(messages.Options{Store: db, Sessions: db, Suppressions: db, Dispatcher: queue.SendDispatcher{Q: queue.New(c.SQS, sendq.Name)},
		Settings: func(ctx context.Context) (messages.Settings, error) {
			a, err := deps.Accounts.GetAccount(ctx)
			return messages.Settings{Region: a.DefaultRegion, BodyRetention: a.BodyRetention(), Refuse: a.ProcessingError()}, err
		},
		Events: evpub, Logger: log, AllowHTTPMedia: cfg.Local(), Now: t.Now, Quota: billingSvc})
	deps.Tracking = &tracking.Handler{Messages: deps.Messages, Webhooks: webhookEmitter{deps.Webhooks},
		Replier: replier{deps.Messages}, Accounts: deps.Accounts, Log: log}
	jobs, _ := cfg.Resources.QueueByID(resources.QueueCampaignJobs)
	deps.Campaigns = campaigns.NewService(campaigns.Options{Store: db, Sessions: db, Audience: ContactsAudience{Store: db, Counter: db},
		Messages: db, Jobs: queue.CampaignJobs{Q: queue.New(c.SQS, jobs.Name)},
		Dispatcher: queue.SendDispatcher{Q: queue.New(c.SQS, sendq.Name)}, Events: evpub, Gate: deps.Accounts.CheckProcessing, Logger: log, Now: t.Now, Quota: billingSvc,
		BodyRetention: func(ctx context.Context) (time.Duration, error) {
			a, err := deps.Accounts.GetAccount(ctx)
			return a.BodyRetention(), err
		}})
	deps.Contacts = buildContacts(cfg, c, db, log, t, billingSvc)
	deps.Tracking.Consent = consent{deps.Contacts}
	deps.Privacy = buildPrivacy(cfg, c, deps, log, t)
	return deps
}

// API returns the public HTTP API handler.
func (d *Deps) API() *httpapi.Server {
	return httpapi.New(httpapi.Options{Accounts: d.Accounts, Sessions: d.Sessions, Messages: d.Messages, Campaigns: d.Campaigns, Contacts: d.Contacts, Webhooks: d.Webhooks,
		Billing: d.Billing, Privacy: d.Privacy, StripeWebhook: d.StripeWebhook(), Logger: d.Log, SecureCookies: d.Config.SecureCookies})
}

// Serve serves h on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// RunHTTP runs h as an API Gateway HTTP API (payload v2) Lambda when started
// by the Lambda runtime, and otherwise serves it on 127.0.0.1:cfg.Port.
func RunHTTP(ctx context.Context, cfg config.Config, h http.Handler, log *slog.Logger) error {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.StartWithOptions(httpadapter.NewV2(h).ProxyWithContext, lambda.WithContext(ctx))
		return nil
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("http listening", "addr", ln.Addr().String())
	return Serve(ctx, ln, h, log)
}

// Main is the body of every command: it loads the configuration, the
// logger (tagged with component) and the AWS clients, then calls run. It
// exits non-zero, after printing the error, when run fails.
func Main(component string, run func(ctx context.Context, cfg config.Config, c awsclient.Clients, log *slog.Logger) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := func() error {
		cfg, err := config.Load()
		if err != nil {
			return err
		}
		log := logging.New(os.Stdout, cfg.LogLevel, component)
		clients, err := awsclient.Load(ctx)
		if err != nil {
			return err
		}
		if cfg.SecretsKey == nil && cfg.SecretsKeyARN != "" {
			raw, err := clients.SecretString(ctx, cfg.SecretsKeyARN)
			if err != nil {
				return err
			}
			if cfg.SecretsKey, err = config.DeriveSecretsKey(raw); err != nil {
				return err
			}
		}
		if cfg.Stripe.SecretARN != "" {
			raw, err := clients.SecretString(ctx, cfg.Stripe.SecretARN)
			if err != nil {
				return err
			}
			if err := cfg.Stripe.ApplyStripeSecret(raw); err != nil {
				return err
			}
		}
		return run(ctx, cfg, clients, log)
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", component, err)
		os.Exit(1)
	}
}

// RunTask runs task as a scheduled Lambda (one invocation per event) when
// started by the Lambda runtime, and otherwise once, from the command line.
func RunTask(ctx context.Context, task func(ctx context.Context) error) error {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.StartWithOptions(func(ctx context.Context) error { return task(ctx) }, lambda.WithContext(ctx))
		return nil
	}
	return task(ctx)
}
