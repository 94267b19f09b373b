// Package httpapi is ChatSend's public HTTP API: one http.Handler that runs
// behind API Gateway (through the Lambda proxy adapter) and directly under
// make dev. Routes are registered with huma on the standard ServeMux, which
// generates the OpenAPI 3.1 document; all errors are RFC 9457 problems.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/privacy"
	"github.com/chatsend/chatsend/shared/sessions"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// typeOf returns the reflect.Type of T, for hand-written OpenAPI schemas.
func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Version is the API version in the OpenAPI document.
const Version = "1.0.0"

// Options configure the API.
type Options struct {
	Accounts  *accounts.Service
	Sessions  *sessions.Service
	Messages  *messages.Service
	Campaigns *campaigns.Service
	Contacts  *contacts.Service
	Webhooks  *webhooks.Service
	Billing   *billing.Service
	Privacy   *privacy.Service
	// StripeWebhook serves POST /stripe/webhook (nil: not served).
	StripeWebhook http.Handler
	Logger        *slog.Logger
	// SecureCookies marks the login cookie Secure (off only for local http).
	SecureCookies bool
}

// Server is the API handler.
type Server struct {
	api       huma.API
	mux       *http.ServeMux
	accounts  *accounts.Service
	sessions  *sessions.Service
	messages  *messages.Service
	campaigns *campaigns.Service
	contacts  *contacts.Service
	webhooks  *webhooks.Service
	billing   *billing.Service
	privacy   *privacy.Service
	// stripeWebhook is POST /stripe/webhook.
	stripeWebhook http.Handler
	log           *slog.Logger
	secure        bool
	handler       http.Handler
}

// New builds the API with every route registered.
func New(o Options) *Server {
	s := &Server{mux: http.NewServeMux(), accounts: o.Accounts, sessions: o.Sessions, messages: o.Messages, campaigns: o.Campaigns, contacts: o.Contacts, webhooks: o.Webhooks,
		billing: o.Billing, privacy: o.Privacy, stripeWebhook: o.StripeWebhook, log: o.Logger, secure: o.SecureCookies}
	if s.log == nil {
		s.log = logging.Discard()
	}
	cfg := huma.DefaultConfig("ChatSend API", Version)
	cfg.CreateHooks = nil // no $schema links injected into responses
	cfg.DocsPath = ""     // /docs is our own offline page (docs.go)
	cfg.Info.Description = "Multi-tenant WhatsApp messaging: sessions, contacts, messages, campaigns, webhooks, billing. " +
		"Plan limits answer 402 plan-limit problems with the members limit, usage, allowed and upgrade_url (429 for daily limits). " +
		"Authenticate with `Authorization: Bearer <api key>`, or with the dashboard login cookie. " +
		"Errors are RFC 9457 problems (`application/problem+json`) whose `type` is stable."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key (cs_live_…) from POST /v1/api-keys."},
		"cookie": {Type: "apiKey", In: "cookie", Name: SessionCookie, Description: "Dashboard login from POST /v1/auth/login."},
	}
	s.api = humago.New(s.mux, cfg)
	s.routes()
	s.sessionRoutes()
	s.contactRoutes()
	s.messageRoutes()
	s.campaignRoutes()
	s.webhookRoutes()
	if s.billing != nil {
		s.billingRoutes()
	}
	s.privacyRoutes()
	s.handler = s.recoverer(s.logRequests(s.secureHeaders(http.HandlerFunc(s.route))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// route dispatches to the mux, answering unknown paths and methods with
// problems instead of the mux's plain-text replies.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		rec := &statusProbe{header: http.Header{}}
		h.ServeHTTP(rec, r) // learn whether the mux says 404 or 405
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, r, newProblem(405, "", "method "+r.Method+" is not allowed on "+r.URL.Path))
			return
		}
		writeProblem(w, r, newProblem(404, "", "no route "+r.Method+" "+r.URL.Path+"; see /docs"))
		return
	}
	if info := infoFrom(r.Context()); info != nil {
		info.route = pattern
	}
	s.mux.ServeHTTP(w, r) // not h: the mux itself fills in r.PathValue
}

type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

// reqInfo is per-request state shared by the middleware layers.
type reqInfo struct {
	id       string
	route    string
	tenantID string
	clientIP string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

func requestIDFrom(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

func clientIPFrom(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.clientIP
	}
	return ""
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// logRequests assigns a request id, puts a logger in the context and writes
// one access log line per request: no query strings, headers or bodies.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = "req_" + hex.EncodeToString(b)
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr // API Gateway gives a bare address
		}
		info := &reqInfo{id: id, clientIP: ip}
		log := s.log.With("request_id", id)
		ctx := logging.WithLogger(context.WithValue(r.Context(), infoKey{}, info), log)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r.WithContext(ctx))
		attrs := []any{"method", r.Method, "route", info.route, "status", sw.status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "bytes", sw.bytes}
		if info.tenantID != "" {
			attrs = append(attrs, "tenant_id", info.tenantID)
		}
		log.Log(ctx, logLevelFor(sw.status), "http request", attrs...)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status, bytes int
	wrote         bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logging.From(r.Context()).ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
				writeProblem(w, r, newProblem(500, "", "an internal error occurred; it has been logged"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
