// Package apitest runs the real API against the embedded AWS emulator for
// tests, with a small client that speaks it. Logs are captured so tests can
// check what was (and was not) logged.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/session-host/host"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// Env is one running API with its own tables.
type Env struct {
	T       testing.TB
	URL     string
	Deps    *app.Deps
	Logs    *SyncBuffer
	Clients awsclient.Clients
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// New starts an API on fresh resources. Tuning zero values mean cheap
// argon2id parameters (tests run under -race) and production limits.
func New(tb testing.TB, tune app.Tuning, env map[string]string) *Env {
	tb.Helper()
	clock := tune.Now
	if clock == nil {
		clock = time.Now
	}
	clients, set := localtest.MustResourcesAt(tb, clock)
	cfg, err := config.FromLookup(func(k string) (string, bool) {
		v, ok := env[k]
		if !ok && k == "CHATSEND_PLAN_LIMITS_FREE" {
			// Tests of other features must not hit the free plan's limits;
			// billing tests set their own.
			return local.GenerousPlanLimits, true
		}
		return v, ok
	})
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	cfg.Resources = set
	if tune.Password.MemoryKiB == 0 {
		tune.Password.MemoryKiB, tune.Password.Time, tune.Password.Threads = 1024, 1, 1
	}
	logs := &SyncBuffer{}
	deps := app.BuildTuned(cfg, clients, logging.New(logs, slog.LevelDebug, "api"), tune)
	srv := httptest.NewServer(deps.API())
	tb.Cleanup(srv.Close)
	return &Env{T: tb, URL: srv.URL, Deps: deps, Logs: logs, Clients: clients}
}

// Client is an API client with optional credentials.
type Client struct {
	env    *Env
	http   *http.Client
	APIKey string
	// Header is added to every request.
	Header http.Header
}

// Client returns a client with a cookie jar and no credentials.
func (e *Env) Client() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{env: e, http: &http.Client{Jar: jar}, Header: http.Header{}}
}

// WithKey returns a client authenticating with an API key.
func (e *Env) WithKey(key string) *Client {
	c := e.Client()
	c.APIKey = key
	return c
}

// Response is a decoded reply.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

// Str returns a top-level string field (or "" if absent).
func (r Response) Str(k string) string { s, _ := r.JSON[k].(string); return s }

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON).
func (c *Client) Do(method, path string, body any) Response {
	c.env.T.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.env.T.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.env.URL+path, rd)
	if err != nil {
		c.env.T.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.env.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.JSON)
	return out
}

// Must sends a request and fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, body any) Response {
	c.env.T.Helper()
	r := c.Do(method, path, body)
	if r.Status != want {
		c.env.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// Tenant is a signed-up account with a logged-in client and a full key.
type Tenant struct {
	AccountID, Email, Password, Key string
	Session                         *Client // logged in with the cookie
	API                             *Client // using Key
}

// SignUp creates an account, logs in and creates a full-scope key.
func (e *Env) SignUp(email string) Tenant {
	e.T.Helper()
	t := Tenant{Email: email, Password: "correct horse battery staple"}
	c := e.Client()
	r := c.Must(201, "POST", "/v1/auth/signup", map[string]any{"email": email, "password": t.Password, "name": "Test User"})
	t.AccountID = r.JSON["account"].(map[string]any)["id"].(string)
	c.Must(200, "POST", "/v1/auth/login", map[string]any{"email": email, "password": t.Password})
	t.Session = c
	k := c.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "test", "scope": "full"})
	t.Key = k.Str("secret")
	t.API = e.WithKey(t.Key)
	return t
}

// Cookies returns the client's cookies for url.
func (c *Client) Cookies(rawURL string) []*http.Cookie {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return c.http.Jar.Cookies(u)
}

// Simulator returns the environment of a local stack on the simulator
// backend with device stores under a temporary folder.
func Simulator(tb testing.TB) map[string]string {
	return map[string]string{"CHATSEND_STAGE": "local", "CHATSEND_WHATSAPP_BACKEND": "simulator",
		"CHATSEND_DEVICE_DIR": tb.TempDir(), "CHATSEND_SIM_DELIVERED_AFTER": "100ms", "CHATSEND_SIM_READ_AFTER": "200ms"}
}

// FastHost is a host configuration with short leases and polls for tests.
func FastHost() host.Config {
	return host.Config{LeaseTTL: 3 * time.Second, Heartbeat: time.Second, ClaimInterval: 300 * time.Millisecond,
		ResyncInterval: 2 * time.Second, PollWait: time.Second,
		SendMinInterval: 5 * time.Millisecond, SendMaxInterval: 20 * time.Millisecond, SendPoll: 2 * time.Second}
}

// StartHost runs a session host against the env's resources until the
// test ends (then shuts it down gracefully).
func (e *Env) StartHost(tune host.Config) *host.Host {
	h, _ := e.StartStoppableHost(tune)
	return h
}

// StartStoppableHost is StartHost that also returns a graceful stop, which
// returns once the host has shut down.
func (e *Env) StartStoppableHost(tune host.Config) (*host.Host, func()) {
	e.T.Helper()
	cfg := e.Deps.Config
	cfg.HostID = fmt.Sprintf("test-%s", ids.New("h")[10:])
	h, err := host.FromConfig(cfg, e.Clients, e.Deps.Log.With("component", "session-host"), tune)
	if err != nil {
		e.T.Fatalf("host: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if err := h.Run(ctx); err != nil {
			e.T.Errorf("host %s: %v", h.ID(), err)
		}
	}()
	stop := func() {
		cancel()
		<-h.Done()
	}
	e.T.Cleanup(stop)
	return h, stop
}

// StartEventsConsumer runs functions/events' handler on the events queue
// until the test ends, as the Lambda event source mapping would.
func (e *Env) StartEventsConsumer() { e.startWorker(resources.QueueEvents, e.Deps.EventsHandler()) }

// StartWebhooksWorker runs functions/webhooks' handler on the webhooks queue.
func (e *Env) StartWebhooksWorker() { e.startWorker(resources.QueueWebhooks, e.Deps.WebhooksHandler()) }

// StartImportsWorker runs functions/imports' handler on the imports queue.
func (e *Env) StartImportsWorker() { e.startWorker(resources.QueueImports, e.Deps.ImportsHandler()) }

// StartPrivacyWorker runs functions/privacy's handler on the privacy queue.
func (e *Env) StartPrivacyWorker() { e.startWorker(resources.QueuePrivacy, e.Deps.PrivacyHandler()) }

// StartFanout runs functions/fanout's handler on the campaign-jobs queue.
func (e *Env) StartFanout() { e.startWorker(resources.QueueCampaignJobs, e.Deps.FanoutHandler()) }

func (e *Env) startWorker(queueID string, h app.SQSHandler) {
	q, _ := e.Deps.Config.Resources.QueueByID(queueID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.PollSQS(ctx, queue.New(e.Clients.SQS, q.Name), h, time.Second, e.Deps.Log)
	}()
	e.T.Cleanup(func() { cancel(); <-done })
}

// Eventually polls f every 50 ms until it returns "" (success) or the
// timeout passes, then fails with f's last message.
func Eventually(tb testing.TB, timeout time.Duration, f func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitStatus polls a session until it has the status.
func (c *Client) WaitStatus(id, status string, timeout time.Duration) Response {
	c.env.T.Helper()
	var last Response
	Eventually(c.env.T, timeout, func() string {
		last = c.Do("GET", "/v1/sessions/"+id, nil)
		if last.Str("status") == status {
			return ""
		}
		return fmt.Sprintf("session %s is %s (%s), want %s", id, last.Str("status"), last.Str("status_reason"), status)
	})
	return last
}

// MustSQSEvent reads a function's sample SQS event (testdata JSON) and sets
// its first record's body.
func MustSQSEvent(tb testing.TB, path, body string) awsevents.SQSEvent {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var ev awsevents.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		tb.Fatalf("sample event %s: %v", path, err)
	}
	ev.Records[0].Body = body
	return ev
}
