package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/logging"
)

// ProblemTypeBase prefixes every problem type URI; the last segment is a
// stable slug (errs.Code or an HTTP-level slug) clients may switch on.
const ProblemTypeBase = "https://chatsend.app/problems/"

// Problem is an RFC 9457 problem detail, served as application/problem+json.
type Problem struct {
	Type      string         `json:"type" doc:"Stable URI naming the kind of problem; switch on it."`
	Title     string         `json:"title" doc:"Short summary of the problem type."`
	Status    int            `json:"status" doc:"HTTP status code."`
	Detail    string         `json:"detail" doc:"What went wrong in this occurrence, for humans."`
	Instance  string         `json:"instance,omitempty" doc:"The request path."`
	RequestID string         `json:"request_id,omitempty" doc:"Quote this id to support."`
	Errors    []FieldProblem `json:"errors,omitempty" doc:"Per-field problems of an invalid request."`
	// Plan-limit extension members (402 plan-limit and 429 rate-limited
	// problems caused by the plan): which limit, how much is used, how much
	// the plan allows and where to upgrade.
	Limit      string `json:"limit,omitempty" doc:"The plan limit that was reached (plan-limit problems)."`
	Usage      *int64 `json:"usage,omitempty" doc:"Current usage of that limit."`
	Allowed    *int64 `json:"allowed,omitempty" doc:"What the plan allows."`
	UpgradeURL string `json:"upgrade_url,omitempty" doc:"Where to change the plan (POST /v1/billing/checkout)."`

	headers http.Header
}

// FieldProblem is one invalid field.
type FieldProblem struct {
	Location string `json:"location" doc:"Where the problem is, such as body.email or header.Authorization."`
	Message  string `json:"message" doc:"What is wrong with it."`
}

// Error implements error.
func (p *Problem) Error() string { return p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

var (
	_ huma.StatusError       = (*Problem)(nil)
	_ huma.ContentTypeFilter = (*Problem)(nil)
)

var codeStatus = map[errs.Code]int{
	errs.Invalid: 422, errs.Malformed: 400, errs.Unauthorized: 401, errs.PaymentRequired: 402,
	errs.Forbidden: 403, errs.NotFound: 404, errs.Conflict: 409, errs.TooLarge: 413,
	errs.UnsupportedMedia: 415, errs.RateLimited: 429, errs.Internal: 500, errs.Unavailable: 503,
	errs.ReauthRequired: 403, errs.AccountRestricted: 403,
}

// statusSlug names problems that only the HTTP layer produces.
var statusSlug = map[int]string{
	400: string(errs.Malformed), 401: string(errs.Unauthorized), 403: string(errs.Forbidden),
	404: string(errs.NotFound), 405: "method-not-allowed", 406: "not-acceptable", 408: "request-timeout",
	409: string(errs.Conflict), 413: string(errs.TooLarge), 415: string(errs.UnsupportedMedia),
	422: string(errs.Invalid), 429: string(errs.RateLimited), 500: string(errs.Internal), 503: string(errs.Unavailable),
}

// StatusOf returns the HTTP status for an error code.
func StatusOf(c errs.Code) int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return 500
}

func newProblem(status int, slug, detail string) *Problem {
	if slug == "" {
		slug = statusSlug[status]
		if slug == "" {
			slug = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
		}
	}
	return &Problem{Type: ProblemTypeBase + slug, Title: http.StatusText(status), Status: status, Detail: detail}
}

// fromError is the one error → problem mapping. Domain errors keep their
// message; anything else is an internal error, logged here once and shown
// as a generic 500.
func fromError(ctx context.Context, err error) *Problem {
	if e, ok := errs.As(err); ok && e.Code != errs.Internal {
		p := newProblem(StatusOf(e.Code), string(e.Code), e.Message)
		for _, f := range e.Fields {
			p.Errors = append(p.Errors, FieldProblem{Location: f.Field, Message: f.Message})
		}
		if l := e.Limit; l != nil {
			usage, allowed := l.Usage, l.Allowed
			p.Limit, p.Usage, p.Allowed, p.UpgradeURL = l.Name, &usage, &allowed, l.UpgradeURL
		}
		if e.RetryAfterSeconds > 0 {
			p.headers = http.Header{"Retry-After": {strconv.Itoa(e.RetryAfterSeconds)}}
		}
		if e.Code == errs.Unauthorized {
			p.headers = http.Header{"WWW-Authenticate": {`Bearer realm="chatsend"`}}
		}
		return p
	}
	logging.From(ctx).ErrorContext(ctx, "internal error", "error", err.Error())
	return newProblem(500, "", "an internal error occurred; it has been logged — retry later or quote the request_id to support")
}

// newHumaError replaces huma's error constructor so that every error huma
// produces (parse, validation, size, content type) and every error a handler
// returns becomes our Problem. Huma's details echo request values; they are
// dropped, because bodies can hold passwords.
func newHumaError(ctx context.Context, status int, msg string, list ...error) *Problem {
	for _, e := range list {
		if _, ok := errs.As(e); ok {
			return fromError(ctx, e)
		}
	}
	if status >= 500 {
		var cause error = errs.E(errs.Internal, "%s", msg)
		if len(list) > 0 && list[0] != nil {
			cause = list[0]
		}
		return fromError(ctx, cause)
	}
	p := newProblem(status, "", msg)
	for _, e := range list {
		if e == nil {
			continue
		}
		fp := FieldProblem{Location: "body", Message: e.Error()}
		if d, ok := e.(huma.ErrorDetailer); ok {
			det := d.ErrorDetail()
			fp = FieldProblem{Location: det.Location, Message: det.Message}
		}
		p.Errors = append(p.Errors, fp)
	}
	switch status {
	case 400:
		if len(p.Errors) > 0 && p.Errors[0].Location == "body" {
			p.Detail = "the request body is not valid JSON: " + p.Errors[0].Message
		}
	case 413:
		p.Detail = "the request body is too large"
		var limit int64
		if _, err := fmt.Sscanf(msg, "request body is too large limit=%d bytes", &limit); err == nil && limit > 0 {
			p.Detail = fmt.Sprintf("the request body is larger than this endpoint accepts (%d MiB)", max(limit>>20, 1))
		}
	case 415:
		p.Detail = "unsupported Content-Type; send application/json"
	case 422:
		p.Detail = "the request body has invalid fields"
		if len(p.Errors) == 1 {
			p.Detail = p.Errors[0].Location + ": " + p.Errors[0].Message
		}
	}
	return p
}

func init() {
	huma.NewError = func(status int, msg string, list ...error) huma.StatusError {
		return newHumaError(context.Background(), status, msg, list...)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, list ...error) huma.StatusError {
		ctx := context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		p := newHumaError(ctx, status, msg, list...)
		if hctx != nil {
			p.Instance = hctx.URL().Path
			p.RequestID = requestIDFrom(ctx)
			for k, v := range p.headers { // Retry-After, WWW-Authenticate
				hctx.SetHeader(k, v[0])
			}
		}
		return p
	}
}

// writeProblem writes p outside huma (router fallbacks, panics, middleware).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.Path
	p.RequestID = requestIDFrom(r.Context())
	for k, v := range p.headers {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}

// logLevelFor logs 5xx at error and 4xx at warn, like miniflux.
func logLevelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
