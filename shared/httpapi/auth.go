package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// SessionCookie is the dashboard login cookie's name.
const SessionCookie = "chatsend_session"

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request.
func PrincipalFrom(ctx context.Context) (accounts.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(accounts.Principal)
	return p, ok
}

// authenticate is the huma middleware of every non-public operation: it
// resolves the caller, checks the scope the operation needs, and scopes the
// context to the caller's account (package tenant) for the storage layer.
func (s *Server) authenticate(need accounts.Scope) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		ctx := hctx.Context()
		p, err := s.principal(hctx)
		if err != nil {
			s.writeErr(hctx, err)
			return
		}
		if !p.Scope.Allows(need) {
			s.writeErr(hctx, errs.E(errs.Forbidden, "this API key has scope %q; this operation needs %q or higher", p.Scope, need))
			return
		}
		if info := infoFrom(ctx); info != nil {
			info.tenantID = p.AccountID
		}
		ctx = tenant.With(ctx, p.AccountID)
		ctx = context.WithValue(ctx, principalKey{}, p)
		ctx = logging.WithLogger(ctx, logging.From(ctx).With("tenant_id", p.AccountID))
		next(huma.WithContext(hctx, ctx))
	}
}

func (s *Server) principal(hctx huma.Context) (accounts.Principal, error) {
	ctx := hctx.Context()
	if authz := hctx.Header("Authorization"); authz != "" {
		scheme, token, ok := strings.Cut(authz, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return accounts.Principal{}, errs.E(errs.Unauthorized, "the Authorization header must be 'Bearer <api key>'")
		}
		return s.accounts.AuthenticateKey(ctx, strings.TrimSpace(token))
	}
	c, err := huma.ReadCookie(hctx, SessionCookie)
	if err != nil || c.Value == "" {
		return accounts.Principal{}, errs.E(errs.Unauthorized, "authentication required: send 'Authorization: Bearer <api key>' or log in")
	}
	if err := checkSameOrigin(hctx); err != nil {
		return accounts.Principal{}, err
	}
	return s.accounts.AuthenticateSession(ctx, c.Value)
}

// checkSameOrigin refuses cross-site requests that change state with the
// login cookie (CSRF). SameSite=Lax already stops most; this also covers
// same-site subdomains and old browsers.
func checkSameOrigin(hctx huma.Context) error {
	switch hctx.Method() {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := hctx.Header("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errs.E(errs.Forbidden, "cross-site requests with the login cookie are refused; use an API key")
	}
	if origin := hctx.Header("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, hctx.Host()) {
			return errs.E(errs.Forbidden, "cross-origin requests with the login cookie are refused; use an API key")
		}
	}
	return nil
}

// writeErr writes err as a problem from inside a huma middleware.
func (s *Server) writeErr(hctx huma.Context, err error) {
	_ = huma.WriteErr(s.api, hctx, StatusOf(errs.CodeOf(err)), "", err)
}

func (s *Server) sessionCookie(value string, maxAge int) http.Cookie {
	return http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
}
