// Package config is ChatSend's one configuration loader. Every process reads
// its settings from the environment (12-factor); resource names come from
// package resources so the CDK stack and the local stack agree.
package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/resources"
)

// WhatsApp backends.
const (
	BackendWhatsmeow = "whatsmeow"
	BackendSimulator = "simulator"
)

// Config is the environment of one process.
type Config struct {
	// Stage names the deployment ("local" under make dev and tests).
	Stage string
	// Resources are the physical names of tables, queues and buckets.
	Resources resources.Set
	// Port is the local HTTP port (make dev); unused in Lambda.
	Port int
	// SecureCookies marks the login cookie Secure; off only for local
	// development over plain http.
	SecureCookies bool
	// LogLevel is the slog level.
	LogLevel slog.Level
	// WhatsAppBackend is "whatsmeow" (real) or "simulator".
	WhatsAppBackend string
	// PublicBaseURL is where the API is reachable, for links in responses.
	PublicBaseURL string

	// DeviceDir holds the WhatsApp device stores of the session host.
	DeviceDir string
	// HostID names this session host process (unique among live hosts).
	HostID string
	// HostHealthPort serves the session host's /healthz.
	HostHealthPort int
	// Simulator timings: receipts after a send, and an optional QR
	// auto-scan (0 = only the scan endpoint pairs).
	SimDeliveredAfter, SimReadAfter, SimAutoScanAfter time.Duration
	// SimPacingScale compresses campaign pacing (0.001 turns seconds into
	// milliseconds); it applies only with the simulator backend.
	SimPacingScale float64
	// HostLeaseTTL is how long a session host's lease lasts unrenewed.
	HostLeaseTTL time.Duration

	// SecretsKey (CHATSEND_SECRETS_KEY, 32 bytes in base64) encrypts
	// stored webhook signing secrets (AES-256-GCM). Nil outside the local
	// stage when unset: webhook endpoints then cannot be created.
	SecretsKey []byte
	// SecretsKeyARN names a Secrets Manager secret whose value the process
	// reads at start (app.Main) to derive SecretsKey, so the key is never
	// in the environment of deployed functions.
	SecretsKeyARN string
	// WebhooksAllowLoopback (CHATSEND_WEBHOOKS_ALLOW_LOOPBACK) lets webhook
	// endpoints use plain-http loopback URLs; local stage only (tests).
	WebhooksAllowLoopback bool

	// Stripe holds the billing settings (all optional: without an API key
	// the free plan applies and checkout answers 503).
	Stripe Stripe
}

// Stripe is the billing configuration.
type Stripe struct {
	// SecretKey is the Stripe API key (CHATSEND_STRIPE_SECRET_KEY; local
	// and tests only — deployed functions read SecretARN).
	SecretKey string
	// WebhookSecrets are the webhook signing secrets (whsec_…), several
	// while a secret is rolled (CHATSEND_STRIPE_WEBHOOK_SECRETS, comma
	// separated).
	WebhookSecrets []string
	// SecretARN names a Secrets Manager secret holding JSON
	// {"api_key": "sk_…", "webhook_secrets": ["whsec_…"]}, read at start
	// (app.Main), so keys are never in a deployed function's environment.
	SecretARN string
	// APIURL overrides the Stripe API address (stripe-mock locally).
	APIURL string
	// Prices maps plan ids to Stripe price ids (CHATSEND_STRIPE_PRICE_<PLAN>).
	Prices map[string]string
	// Grace is the past-due grace period (CHATSEND_BILLING_GRACE, default 168h).
	Grace time.Duration
	// PlanLimits overrides limits of the built-in plans, per plan id and
	// limit name (CHATSEND_PLAN_LIMITS_<PLAN>="contacts=1000,sessions=2").
	PlanLimits map[string]map[string]int64
}

// StripePlans are the plans whose price ids are read from the environment.
var StripePlans = []string{"starter", "pro"}

// Plans are the plan ids whose limits the environment may override.
var Plans = []string{"free", "starter", "pro"}

// ApplyStripeSecret fills the Stripe keys from the JSON value of the
// Secrets Manager secret named by SecretARN.
func (s *Stripe) ApplyStripeSecret(raw string) error {
	var v struct {
		APIKey         string   `json:"api_key"`
		WebhookSecrets []string `json:"webhook_secrets"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return fmt.Errorf("stripe secret: want JSON {\"api_key\": …, \"webhook_secrets\": […]}")
	}
	if v.APIKey != "" {
		s.SecretKey = v.APIKey
	}
	if len(v.WebhookSecrets) > 0 {
		s.WebhookSecrets = v.WebhookSecrets
	}
	return nil
}

// devSecretsKey encrypts webhook secrets in the local stage when no key is
// set. It is public (it is in the source), which is fine for local data
// only: other stages never fall back to it.
var devSecretsKey = []byte("chatsend-local-dev-secrets-key!!")

// Local reports whether this is a local run (make dev, tests).
func (c Config) Local() bool { return c.Stage == "local" }

// Load reads the configuration from the environment.
func Load() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup, so tests can supply an
// environment without touching the process's own.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{Stage: get("CHATSEND_STAGE", "local")}
	if !validStage(c.Stage) {
		return Config{}, fmt.Errorf("CHATSEND_STAGE %q: use lowercase letters, digits and dashes", c.Stage)
	}
	c.Resources = resources.For(c.Stage)
	c.Resources.Main.Name = get("CHATSEND_TABLE_MAIN", c.Resources.Main.Name)
	for i := range c.Resources.Buckets {
		b := &c.Resources.Buckets[i]
		b.Name = get("CHATSEND_BUCKET_"+envKey(b.ID), b.Name)
	}
	for i := range c.Resources.Queues {
		q := &c.Resources.Queues[i]
		q.Name = get("CHATSEND_QUEUE_"+envKey(q.ID), q.Name)
	}

	port, err := strconv.Atoi(get("PORT", "8080"))
	if err != nil || port <= 0 || port > 65535 {
		return Config{}, fmt.Errorf("PORT %q: want a TCP port number", get("PORT", ""))
	}
	c.Port = port

	secure, err := strconv.ParseBool(get("CHATSEND_SECURE_COOKIES", strconv.FormatBool(!c.Local())))
	if err != nil {
		return Config{}, fmt.Errorf("CHATSEND_SECURE_COOKIES: %w", err)
	}
	if !secure && !c.Local() {
		return Config{}, fmt.Errorf("CHATSEND_SECURE_COOKIES=false is only allowed when CHATSEND_STAGE=local")
	}
	c.SecureCookies = secure

	if err := c.LogLevel.UnmarshalText([]byte(get("CHATSEND_LOG_LEVEL", "info"))); err != nil {
		return Config{}, fmt.Errorf("CHATSEND_LOG_LEVEL: %w", err)
	}

	c.WhatsAppBackend = get("CHATSEND_WHATSAPP_BACKEND", BackendWhatsmeow)
	if c.WhatsAppBackend != BackendWhatsmeow && c.WhatsAppBackend != BackendSimulator {
		return Config{}, fmt.Errorf("CHATSEND_WHATSAPP_BACKEND %q: want %q or %q", c.WhatsAppBackend, BackendWhatsmeow, BackendSimulator)
	}
	c.DeviceDir = get("CHATSEND_DEVICE_DIR", ".dev/devices")
	host, _ := os.Hostname()
	c.HostID = get("CHATSEND_HOST_ID", hostID(host))
	if !validStage(c.HostID) || len(c.HostID) > 40 {
		c.HostID = hostID("")
	}
	if c.HostHealthPort, err = strconv.Atoi(get("CHATSEND_HOST_HEALTH_PORT", "8081")); err != nil {
		return Config{}, fmt.Errorf("CHATSEND_HOST_HEALTH_PORT: %w", err)
	}
	for _, d := range []struct {
		env string
		def string
		to  *time.Duration
	}{
		{"CHATSEND_SIM_DELIVERED_AFTER", "500ms", &c.SimDeliveredAfter},
		{"CHATSEND_SIM_READ_AFTER", "1500ms", &c.SimReadAfter},
		{"CHATSEND_SIM_AUTOSCAN_AFTER", "0s", &c.SimAutoScanAfter},
		{"CHATSEND_HOST_LEASE_TTL", "30s", &c.HostLeaseTTL},
	} {
		if *d.to, err = time.ParseDuration(get(d.env, d.def)); err != nil || *d.to < 0 {
			return Config{}, fmt.Errorf("%s: want a duration such as 2s", d.env)
		}
	}
	if c.HostLeaseTTL < 3*time.Second {
		return Config{}, fmt.Errorf("CHATSEND_HOST_LEASE_TTL must be at least 3s")
	}
	if v := get("CHATSEND_SIM_PACING_SCALE", ""); v != "" {
		if c.SimPacingScale, err = strconv.ParseFloat(v, 64); err != nil || c.SimPacingScale < 0 || c.SimPacingScale > 1 {
			return Config{}, fmt.Errorf("CHATSEND_SIM_PACING_SCALE: want a number between 0 and 1")
		}
		if c.WhatsAppBackend != BackendSimulator {
			return Config{}, fmt.Errorf("CHATSEND_SIM_PACING_SCALE is only allowed with CHATSEND_WHATSAPP_BACKEND=simulator")
		}
	}
	if err := c.loadWebhooks(get); err != nil {
		return Config{}, err
	}
	if err := c.loadStripe(get); err != nil {
		return Config{}, err
	}
	c.PublicBaseURL = strings.TrimRight(get("CHATSEND_PUBLIC_BASE_URL", fmt.Sprintf("http://127.0.0.1:%d", c.Port)), "/")
	return c, nil
}

// DeriveSecretsKey turns a Secrets Manager secret string into the 32-byte
// AES key (SHA-256 of it: any generated string of enough entropy works).
func DeriveSecretsKey(secret string) ([]byte, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("secrets key material too short (%d characters, need 32)", len(secret))
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:], nil
}

// loadWebhooks reads the webhook settings: the secrets key and the
// loopback switch.
func (c *Config) loadWebhooks(get func(k, def string) string) error {
	if v := get("CHATSEND_SECRETS_KEY", ""); v != "" {
		key, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(key) != 32 {
			return fmt.Errorf("CHATSEND_SECRETS_KEY: want 32 bytes in base64")
		}
		c.SecretsKey = key
	} else if c.SecretsKeyARN = get("CHATSEND_SECRETS_KEY_ARN", ""); c.SecretsKeyARN == "" && c.Local() {
		c.SecretsKey = devSecretsKey
	}
	allow, err := strconv.ParseBool(get("CHATSEND_WEBHOOKS_ALLOW_LOOPBACK", "false"))
	if err != nil {
		return fmt.Errorf("CHATSEND_WEBHOOKS_ALLOW_LOOPBACK: %w", err)
	}
	if allow && !c.Local() {
		return fmt.Errorf("CHATSEND_WEBHOOKS_ALLOW_LOOPBACK=true is only allowed when CHATSEND_STAGE=local")
	}
	c.WebhooksAllowLoopback = allow
	return nil
}

// loadStripe reads the billing settings.
func (c *Config) loadStripe(get func(k, def string) string) error {
	st := Stripe{SecretKey: get("CHATSEND_STRIPE_SECRET_KEY", ""), SecretARN: get("CHATSEND_STRIPE_SECRET_ARN", ""),
		APIURL: get("CHATSEND_STRIPE_API_URL", ""), Prices: map[string]string{}}
	for _, w := range strings.Split(get("CHATSEND_STRIPE_WEBHOOK_SECRETS", ""), ",") {
		if w = strings.TrimSpace(w); w != "" {
			st.WebhookSecrets = append(st.WebhookSecrets, w)
		}
	}
	for _, p := range StripePlans {
		if v := get("CHATSEND_STRIPE_PRICE_"+strings.ToUpper(p), ""); v != "" {
			st.Prices[p] = v
		}
	}
	st.PlanLimits = map[string]map[string]int64{}
	for _, p := range Plans {
		env := "CHATSEND_PLAN_LIMITS_" + strings.ToUpper(p)
		v := get(env, "")
		if v == "" {
			continue
		}
		st.PlanLimits[p] = map[string]int64{}
		for _, kv := range strings.Split(v, ",") {
			k, num, ok := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.ParseInt(num, 10, 64)
			if !ok || err != nil || n < 0 {
				return fmt.Errorf("%s: want name=number pairs such as contacts=1000,sessions=2", env)
			}
			st.PlanLimits[p][k] = n
		}
	}
	var err error
	if st.Grace, err = time.ParseDuration(get("CHATSEND_BILLING_GRACE", "168h")); err != nil || st.Grace <= 0 {
		return fmt.Errorf("CHATSEND_BILLING_GRACE: want a positive duration such as 168h")
	}
	if st.SecretKey != "" && strings.HasPrefix(st.SecretKey, "sk_live_") && c.Local() {
		return fmt.Errorf("CHATSEND_STRIPE_SECRET_KEY: a live key is not allowed in the local stage")
	}
	c.Stripe = st
	return nil
}

// hostID makes a host id from the machine name and a random suffix, as
// lowercase letters, digits and dashes.
func hostID(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 24 {
		s = s[:24]
	}
	if s == "" {
		s = "host"
	}
	return fmt.Sprintf("%s-%06x", s, rand.Uint32()&0xffffff)
}

// envKey turns a resource id ("campaign-jobs") into an env suffix ("CAMPAIGN_JOBS").
func envKey(id string) string {
	return strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}

func validStage(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
