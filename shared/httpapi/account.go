package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/optout"
	"github.com/chatsend/chatsend/shared/retention"
)

// AccountJSON is an account as the API shows it.
type AccountJSON struct {
	ID                 string             `json:"id" example:"acct_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Name               string             `json:"name"`
	Email              string             `json:"email" doc:"The owner's login email."`
	TimeZone           string             `json:"time_zone" doc:"IANA time zone for quiet hours and reports." example:"Europe/Berlin"`
	DefaultRegion      string             `json:"default_region,omitempty" doc:"ISO 3166 region for phone numbers written without a country code." example:"DE"`
	OptOutKeywords     []string           `json:"opt_out_keywords" doc:"Whole-message replies that opt a contact out (case and accents ignored). START opts back in."`
	OptOutReply        string             `json:"opt_out_reply,omitempty" doc:"Sent back to a contact who opted out; empty for no reply."`
	BodyRetention      int                `json:"message_body_retention_days" doc:"Days message bodies (text, media reference) are kept after a message is sent, failed or skipped; 0 deletes them at once. Metadata follows its own retention (docs/retention.md)." example:"30"`
	Restricted         bool               `json:"restricted" doc:"True while processing is restricted (a privacy request): sends and campaign starts are refused."`
	RestrictedAt       *time.Time         `json:"restricted_at" doc:"When processing was restricted; null if it is not."`
	ObjectedAt         *time.Time         `json:"objected_at" doc:"When the account objected to optional processing; null if never."`
	ConsentWithdrawnAt *time.Time         `json:"consent_withdrawn_at" doc:"When the account withdrew consent; null if never."`
	Communications     CommunicationsJSON `json:"communications" doc:"Optional processing the account allows: off after an objection or a withdrawn consent."`
	CreatedAt          time.Time          `json:"created_at"`
	UpdatedAt          time.Time          `json:"updated_at"`
}

// CommunicationsJSON says which optional processing the account allows.
type CommunicationsJSON struct {
	ProductEmails   bool `json:"product_emails"`
	MarketingEmails bool `json:"marketing_emails"`
	UsageAnalytics  bool `json:"usage_analytics"`
}

func accountJSON(a accounts.Account) AccountJSON {
	c := a.Communications()
	return AccountJSON{ID: a.ID, Name: a.Name, Email: a.Email, TimeZone: a.TimeZone, DefaultRegion: a.DefaultRegion,
		OptOutKeywords: optout.Keywords(a.OptOutKeywords), OptOutReply: a.OptOutReply,
		BodyRetention: int(a.BodyRetention().Hours() / 24), Restricted: a.Restricted(), RestrictedAt: timePtr(a.RestrictedAt), ObjectedAt: timePtr(a.ObjectedAt),
		ConsentWithdrawnAt: timePtr(a.ConsentWithdrawnAt),
		Communications:     CommunicationsJSON{ProductEmails: c.ProductEmails, MarketingEmails: c.MarketingEmails, UsageAnalytics: c.UsageAnalytics},
		CreatedAt:          a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// timePtr is nil for the zero time, so the JSON says null.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// actorOf names the caller for audit records: its key id or user id.
func actorOf(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	if p.KeyID != "" {
		return p.KeyID
	}
	return p.UserID
}

// UserJSON is a dashboard user.
type UserJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func userJSON(u accounts.User) UserJSON {
	return UserJSON{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt}
}

// APIKeyJSON is an API key's metadata; the secret appears only on creation.
type APIKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope" enum:"full,send,read"`
	Prefix     string     `json:"prefix" doc:"The secret's first characters, to recognise the key."`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" doc:"Null if never used; updated at most once a minute."`
	Secret     string     `json:"secret,omitempty" doc:"Shown once, on creation. Store it in a secret manager."`
}

func apiKeyJSON(k accounts.APIKey) APIKeyJSON {
	j := APIKeyJSON{ID: k.ID, Name: k.Name, Scope: string(k.Scope), Prefix: k.Prefix, CreatedAt: k.CreatedAt}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		j.LastUsedAt = &t
	}
	return j
}

type (
	signupInput struct {
		Body struct {
			Email    string `json:"email" maxLength:"254" example:"ana@example.com"`
			Password string `json:"password" maxLength:"256" doc:"At least 10 characters; common and guessable passwords are refused."`
			Name     string `json:"name" maxLength:"100" example:"Ana Lima"`
		}
	}
	signupOutput struct {
		Body struct {
			Account AccountJSON `json:"account"`
			User    UserJSON    `json:"user"`
		}
	}
	loginInput struct {
		Body struct {
			Email    string `json:"email" maxLength:"254"`
			Password string `json:"password" maxLength:"256"`
		}
	}
	loginOutput struct {
		SetCookie http.Cookie `header:"Set-Cookie"`
		Body      struct {
			User      UserJSON  `json:"user"`
			AccountID string    `json:"account_id"`
			ExpiresAt time.Time `json:"expires_at" doc:"When the login ends unless used; 30 min idle, 12 h at most."`
		}
	}
	logoutInput struct {
		Session string `cookie:"chatsend_session"`
	}
	logoutOutput struct {
		SetCookie http.Cookie `header:"Set-Cookie"`
	}
	accountOutput struct {
		Body AccountJSON
	}
	patchAccountInput struct {
		Body struct {
			Name           *string   `json:"name,omitempty" maxLength:"100"`
			Email          *string   `json:"email,omitempty" maxLength:"254" doc:"Changes the owner's login email."`
			TimeZone       *string   `json:"time_zone,omitempty" maxLength:"64"`
			DefaultRegion  *string   `json:"default_region,omitempty" maxLength:"2"`
			OptOutKeywords *[]string `json:"opt_out_keywords,omitempty" maxItems:"20"`
			OptOutReply    *string   `json:"opt_out_reply,omitempty" maxLength:"1000"`
			BodyRetention  *int      `json:"message_body_retention_days,omitempty" doc:"0 to 400 days."`
		}
	}
	createKeyInput struct {
		Body struct {
			Name  string `json:"name" maxLength:"100" example:"production server"`
			Scope string `json:"scope" enum:"full,send,read" doc:"full: everything; send: read and send; read: GET only."`
		}
	}
	keyOutput struct {
		Body APIKeyJSON
	}
	listKeysOutput struct {
		Body struct {
			Data []APIKeyJSON `json:"data"`
		}
	}
	keyIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	healthOutput struct {
		Body struct {
			Status  string `json:"status" example:"ok"`
			Version string `json:"version"`
		}
	}
)

// register adds an operation; a non-empty scope makes it authenticated.
func register[I, O any](s *Server, op huma.Operation, need accounts.Scope, h func(context.Context, *I) (*O, error)) {
	if need != "" {
		op.Security = []map[string][]string{{"bearer": {}}, {"cookie": {}}}
		op.Middlewares = append(op.Middlewares, s.authenticate(need))
		op.Errors = append(op.Errors, 401, 403)
	}
	if op.Method != http.MethodGet && op.Method != http.MethodDelete {
		op.Errors = append(op.Errors, 400, 413, 415, 422)
	}
	op.Errors = append(op.Errors, 429)
	huma.Register(s.api, op, h)
}

func (s *Server) routes() {
	register(s, huma.Operation{OperationID: "health", Method: "GET", Path: "/healthz", Summary: "Liveness check", Tags: []string{"Meta"}}, "",
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			out := &healthOutput{}
			out.Body.Status, out.Body.Version = "ok", Version
			return out, nil
		})
	s.mux.HandleFunc("GET /docs", serveDocs)
	s.mux.HandleFunc("GET /docs/app.js", serveDocs)

	register(s, huma.Operation{OperationID: "signup", Method: "POST", Path: "/v1/auth/signup", DefaultStatus: 201,
		Summary: "Create an account", Tags: []string{"Auth"}, Errors: []int{409}}, "",
		func(ctx context.Context, in *signupInput) (*signupOutput, error) {
			a, u, err := s.accounts.Signup(ctx, accounts.SignupInput{Email: in.Body.Email, Password: in.Body.Password,
				Name: in.Body.Name, ClientIP: clientIPFrom(ctx)})
			if err != nil {
				return nil, err
			}
			out := &signupOutput{}
			out.Body.Account, out.Body.User = accountJSON(a), userJSON(u)
			return out, nil
		})

	register(s, huma.Operation{OperationID: "login", Method: "POST", Path: "/v1/auth/login",
		Summary: "Log in to the dashboard", Description: "Sets an HttpOnly session cookie. Rate limited per email and per client IP.",
		Tags: []string{"Auth"}, Errors: []int{401}}, "",
		func(ctx context.Context, in *loginInput) (*loginOutput, error) {
			res, err := s.accounts.Login(ctx, accounts.LoginInput{Email: in.Body.Email, Password: in.Body.Password, ClientIP: clientIPFrom(ctx)})
			if err != nil {
				return nil, err
			}
			out := &loginOutput{SetCookie: s.sessionCookie(res.Token, int(retention.LoginAbsolute/time.Second))}
			out.Body.User, out.Body.AccountID, out.Body.ExpiresAt = userJSON(res.User), res.User.AccountID, res.Session.ExpiresAt
			return out, nil
		})

	register(s, huma.Operation{OperationID: "logout", Method: "POST", Path: "/v1/auth/logout", DefaultStatus: 204,
		Summary: "Log out", Description: "Ends the login of the session cookie, if any, and clears the cookie.", Tags: []string{"Auth"}}, "",
		func(ctx context.Context, in *logoutInput) (*logoutOutput, error) {
			if err := s.accounts.Logout(ctx, in.Session); err != nil {
				return nil, err
			}
			return &logoutOutput{SetCookie: s.sessionCookie("", -1)}, nil
		})

	register(s, huma.Operation{OperationID: "get-account", Method: "GET", Path: "/v1/account", Summary: "Get your account", Tags: []string{"Account"}}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*accountOutput, error) {
			a, err := s.accounts.GetAccount(ctx)
			if err != nil {
				return nil, err
			}
			return &accountOutput{Body: accountJSON(a)}, nil
		})

	register(s, huma.Operation{OperationID: "update-account", Method: "PATCH", Path: "/v1/account",
		Summary: "Update your account", Description: "Change the name, login email, time zone or default region (rectification).",
		Tags: []string{"Account"}, Errors: []int{409}}, accounts.ScopeFull,
		func(ctx context.Context, in *patchAccountInput) (*accountOutput, error) {
			a, err := s.accounts.UpdateAccount(ctx, accounts.AccountUpdate{Name: in.Body.Name, Email: in.Body.Email,
				TimeZone: in.Body.TimeZone, DefaultRegion: in.Body.DefaultRegion, OptOutKeywords: in.Body.OptOutKeywords, OptOutReply: in.Body.OptOutReply,
				BodyRetentionDays: in.Body.BodyRetention},
				actorOf(ctx))
			if err != nil {
				return nil, err
			}
			return &accountOutput{Body: accountJSON(a)}, nil
		})

	register(s, huma.Operation{OperationID: "create-api-key", Method: "POST", Path: "/v1/api-keys", DefaultStatus: 201,
		Summary: "Create an API key", Description: "The secret is in this response only; ChatSend stores a hash.", Tags: []string{"API keys"}}, accounts.ScopeFull,
		func(ctx context.Context, in *createKeyInput) (*keyOutput, error) {
			k, secret, err := s.accounts.CreateAPIKey(ctx, in.Body.Name, accounts.Scope(in.Body.Scope))
			if err != nil {
				return nil, err
			}
			j := apiKeyJSON(k)
			j.Secret = secret
			return &keyOutput{Body: j}, nil
		})

	register(s, huma.Operation{OperationID: "list-api-keys", Method: "GET", Path: "/v1/api-keys", Summary: "List API keys", Tags: []string{"API keys"}}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*listKeysOutput, error) {
			keys, err := s.accounts.ListAPIKeys(ctx)
			if err != nil {
				return nil, err
			}
			out := &listKeysOutput{}
			out.Body.Data = make([]APIKeyJSON, 0, len(keys))
			for _, k := range keys {
				out.Body.Data = append(out.Body.Data, apiKeyJSON(k))
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "revoke-api-key", Method: "DELETE", Path: "/v1/api-keys/{id}", DefaultStatus: 204,
		Summary: "Revoke an API key", Description: "The key stops working at once.", Tags: []string{"API keys"}, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *keyIDInput) (*struct{}, error) {
			return nil, s.accounts.RevokeAPIKey(ctx, in.ID)
		})
}
