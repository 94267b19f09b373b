package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
)

func local() map[string]string { return map[string]string{"CHATSEND_STAGE": "local"} }

func TestAccountFlow(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	c := e.Client()
	r := c.Must(201, "POST", "/v1/auth/signup", map[string]any{"email": "  Ana@Example.COM ", "password": "correct horse battery staple", "name": "Ana Lima"})
	acct := r.JSON["account"].(map[string]any)
	if acct["email"] != "ana@example.com" || acct["name"] != "Ana Lima" || acct["time_zone"] != "UTC" {
		t.Fatalf("signup account: %s", r.Raw)
	}
	if strings.Contains(string(r.Raw), "argon2") || strings.Contains(string(r.Raw), "password") {
		t.Fatalf("signup response leaks password material: %s", r.Raw)
	}

	// Not logged in yet.
	c.Must(401, "GET", "/v1/account", nil)
	r = c.Must(200, "POST", "/v1/auth/login", map[string]any{"email": "ANA@example.com", "password": "correct horse battery staple"})
	cookie := r.Header.Get("Set-Cookie")
	for _, want := range []string{"chatsend_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("local cookie is Secure, so it would not work over http: %q", cookie)
	}
	r = c.Must(200, "GET", "/v1/account", nil)
	if r.Str("id") != acct["id"] {
		t.Fatalf("account by cookie: %s", r.Raw)
	}

	// Keys: the secret once, then only metadata.
	k := c.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "server", "scope": "full"})
	secret := k.Str("secret")
	if !strings.HasPrefix(secret, "cs_test_") || len(secret) != len("cs_test_")+43 || !strings.HasPrefix(secret, k.Str("prefix")) {
		t.Fatalf("key secret %q prefix %q", secret, k.Str("prefix"))
	}
	api := e.WithKey(secret)
	r = api.Must(200, "GET", "/v1/account", nil)
	if r.Str("email") != "ana@example.com" {
		t.Fatalf("account by key: %s", r.Raw)
	}
	r = api.Must(200, "GET", "/v1/api-keys", nil)
	if strings.Contains(string(r.Raw), secret[len("cs_test_")+4:]) || strings.Contains(string(r.Raw), `"secret"`) {
		t.Fatalf("list leaks the secret: %s", r.Raw)
	}
	keys := r.JSON["data"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("list keys: %s", r.Raw)
	}

	// Rectification: name, email, time zone, region.
	r = api.Must(200, "PATCH", "/v1/account", map[string]any{"name": "Ana L.", "email": "ana@new.example", "time_zone": "America/Sao_Paulo", "default_region": "br"})
	if r.Str("email") != "ana@new.example" || r.Str("default_region") != "BR" || r.Str("time_zone") != "America/Sao_Paulo" {
		t.Fatalf("patch: %s", r.Raw)
	}
	e.Client().Must(401, "POST", "/v1/auth/login", map[string]any{"email": "ana@example.com", "password": "correct horse battery staple"})
	e.Client().Must(200, "POST", "/v1/auth/login", map[string]any{"email": "ana@new.example", "password": "correct horse battery staple"})

	// Revocation is immediate.
	api.Must(204, "DELETE", "/v1/api-keys/"+k.Str("id"), nil)
	r = api.Must(401, "GET", "/v1/account", nil)
	if !strings.HasSuffix(r.Str("type"), "/unauthorized") {
		t.Fatalf("revoked key problem: %s", r.Raw)
	}
	c.Must(404, "DELETE", "/v1/api-keys/"+k.Str("id"), nil)

	// Logout ends the login server-side, not only in this browser.
	stolen := strings.SplitN(strings.TrimPrefix(cookie, "chatsend_session="), ";", 2)[0]
	c.Must(204, "POST", "/v1/auth/logout", nil)
	c.Must(401, "GET", "/v1/account", nil)
	replay := e.Client()
	replay.Header.Set("Cookie", "chatsend_session="+stolen)
	replay.Must(401, "GET", "/v1/account", nil)
}

func TestSecureCookieOutsideLocal(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local", "CHATSEND_SECURE_COOKIES": "true"})
	c := e.Client()
	c.Must(201, "POST", "/v1/auth/signup", map[string]any{"email": "s@example.com", "password": "correct horse battery staple", "name": "S"})
	r := c.Must(200, "POST", "/v1/auth/login", map[string]any{"email": "s@example.com", "password": "correct horse battery staple"})
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("cookie not Secure: %s", r.Header.Get("Set-Cookie"))
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS header with secure cookies")
	}
}

func TestTenantIsolation(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	a := e.SignUp("a@example.com")
	b := e.SignUp("b@example.com")
	aKeys := a.API.Must(200, "GET", "/v1/api-keys", nil).JSON["data"].([]any)
	aKeyID := aKeys[0].(map[string]any)["id"].(string)

	r := b.API.Must(200, "GET", "/v1/account", nil)
	if r.Str("id") != b.AccountID {
		t.Fatalf("B sees account %s", r.Str("id"))
	}
	r = b.API.Must(200, "GET", "/v1/api-keys", nil)
	if strings.Contains(string(r.Raw), aKeyID) {
		t.Fatalf("B lists A's key: %s", r.Raw)
	}
	// Another tenant's id is indistinguishable from a missing one.
	other := b.API.Must(404, "DELETE", "/v1/api-keys/"+aKeyID, nil)
	missing := b.API.Must(404, "DELETE", "/v1/api-keys/key_01m89kngna0ma3mbfxyye997j1", nil)
	if other.Str("type") != missing.Str("type") || other.Str("title") != missing.Str("title") {
		t.Fatalf("404s differ: %s vs %s", other.Raw, missing.Raw)
	}
	b.Session.Must(404, "DELETE", "/v1/api-keys/"+aKeyID, nil)
	a.API.Must(200, "GET", "/v1/account", nil) // A's key still works
	// B cannot move its login email onto A's.
	b.API.Must(409, "PATCH", "/v1/account", map[string]any{"email": "a@example.com"})
}

func TestBadInput(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	ten := e.SignUp("owner@example.com")
	revoked := e.SignUp("revoked@example.com")
	revokedKeys := revoked.API.Must(200, "GET", "/v1/api-keys", nil).JSON["data"].([]any)
	revoked.Session.Must(204, "DELETE", "/v1/api-keys/"+revokedKeys[0].(map[string]any)["id"].(string), nil)
	readKey := ten.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "ro", "scope": "read"}).Str("secret")
	sendKey := ten.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "send", "scope": "send"}).Str("secret")

	signup := func(email, pw string) map[string]any {
		return map[string]any{"email": email, "password": pw, "name": "Someone Else"}
	}
	cases := []struct {
		name, method, path string
		key, ctype         string
		body               any
		status             int
		slug, location     string
	}{
		{name: "malformed json", method: "POST", path: "/v1/auth/signup", body: `{"email": "x@example.com",`, status: 400, slug: "malformed-request"},
		{name: "empty body", method: "POST", path: "/v1/auth/signup", body: "", status: 400, slug: "malformed-request"},
		{name: "wrong type", method: "POST", path: "/v1/auth/signup", body: `{"email": 42, "password": "correct horse battery staple", "name": "N"}`, status: 422, slug: "invalid-request", location: "body.email"},
		{name: "missing field", method: "POST", path: "/v1/auth/signup", body: `{"email": "m@example.com", "password": "correct horse battery staple"}`, status: 422, slug: "invalid-request", location: "body"},
		{name: "unknown field", method: "POST", path: "/v1/auth/signup", body: `{"email": "u@example.com", "password": "correct horse battery staple", "name": "N", "admin": true}`, status: 422, slug: "invalid-request"},
		{name: "oversize body", method: "POST", path: "/v1/auth/signup", body: `{"name":"` + strings.Repeat("a", 1<<20+10) + `"}`, status: 413, slug: "payload-too-large"},
		{name: "unknown content type", method: "POST", path: "/v1/auth/signup", ctype: "text/csv", body: "a,b", status: 415, slug: "unsupported-media-type"},
		{name: "bad email", method: "POST", path: "/v1/auth/signup", body: signup("not-an-email", "correct horse battery staple"), status: 422, slug: "invalid-request", location: "body.email"},
		{name: "email without domain dot", method: "POST", path: "/v1/auth/signup", body: signup("a@localhost", "correct horse battery staple"), status: 422, location: "body.email"},
		{name: "short password", method: "POST", path: "/v1/auth/signup", body: signup("w1@example.com", "abc123"), status: 422, slug: "invalid-request", location: "body.password"},
		{name: "common password", method: "POST", path: "/v1/auth/signup", body: signup("w2@example.com", "password123"), status: 422, location: "body.password"},
		{name: "password is email", method: "POST", path: "/v1/auth/signup", body: signup("johnsmith@example.com", "johnsmith@example.com"), status: 422, location: "body.password"},
		{name: "repetitive password", method: "POST", path: "/v1/auth/signup", body: signup("w3@example.com", "aaaaaaaaaaaa"), status: 422, location: "body.password"},
		{name: "duplicate email", method: "POST", path: "/v1/auth/signup", body: signup("OWNER@example.com", "correct horse battery staple"), status: 409, slug: "conflict"},
		{name: "wrong password", method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "owner@example.com", "password": "wrong password!"}, status: 401, slug: "unauthorized"},
		{name: "unknown user", method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "nobody@example.com", "password": "wrong password!"}, status: 401, slug: "unauthorized"},
		{name: "missing auth", method: "GET", path: "/v1/account", status: 401, slug: "unauthorized"},
		{name: "unknown key", method: "GET", path: "/v1/account", key: "cs_test_" + strings.Repeat("A", 43), status: 401, slug: "unauthorized"},
		{name: "garbage key", method: "GET", path: "/v1/account", key: "hello", status: 401, slug: "unauthorized"},
		{name: "revoked key", method: "GET", path: "/v1/account", key: revoked.Key, status: 401, slug: "unauthorized"},
		{name: "read key cannot patch", method: "PATCH", path: "/v1/account", key: readKey, body: map[string]any{"name": "x"}, status: 403, slug: "forbidden"},
		{name: "send key cannot make keys", method: "POST", path: "/v1/api-keys", key: sendKey, body: map[string]any{"name": "x", "scope": "full"}, status: 403, slug: "forbidden"},
		{name: "bad scope", method: "POST", path: "/v1/api-keys", key: ten.Key, body: map[string]any{"name": "x", "scope": "admin"}, status: 422, location: "body.scope"},
		{name: "blank key name", method: "POST", path: "/v1/api-keys", key: ten.Key, body: map[string]any{"name": "  ", "scope": "read"}, status: 422, location: "body.name"},
		{name: "bad time zone", method: "PATCH", path: "/v1/account", key: ten.Key, body: map[string]any{"time_zone": "Mars/Olympus"}, status: 422, location: "body.time_zone"},
		{name: "bad region", method: "PATCH", path: "/v1/account", key: ten.Key, body: map[string]any{"default_region": "usa"}, status: 422, location: "body.default_region"},
		{name: "bad key id", method: "DELETE", path: "/v1/api-keys/../../etc", key: ten.Key, status: 404, slug: "not-found"},
		{name: "unknown route", method: "GET", path: "/v1/nothing", key: ten.Key, status: 404, slug: "not-found"},
		{name: "wrong method", method: "PUT", path: "/v1/account", key: ten.Key, status: 405, slug: "method-not-allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.Client()
			if tc.key != "" {
				c = e.WithKey(tc.key)
			}
			if tc.ctype != "" {
				c.Header.Set("Content-Type", tc.ctype)
			}
			r := c.Do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q: %s", ct, r.Raw)
			}
			if r.JSON["status"] != float64(tc.status) || r.Str("detail") == "" || r.Str("title") == "" || r.Str("request_id") == "" {
				t.Fatalf("incomplete problem: %s", r.Raw)
			}
			if tc.slug != "" && r.Str("type") != "https://chatsend.app/problems/"+tc.slug {
				t.Fatalf("type %q, want slug %q", r.Str("type"), tc.slug)
			}
			if tc.location != "" && !strings.Contains(string(r.Raw), `"location":"`+tc.location) {
				t.Fatalf("no field error at %s: %s", tc.location, r.Raw)
			}
			if strings.Contains(string(r.Raw), "correct horse") || strings.Contains(string(r.Raw), "wrong password") {
				t.Fatalf("problem echoes a password: %s", r.Raw)
			}
		})
	}
	// Nothing was lost: the owner account is intact after all that.
	if r := ten.API.Must(200, "GET", "/v1/account", nil); r.Str("email") != "owner@example.com" {
		t.Fatalf("owner changed: %s", r.Raw)
	}
}

func TestLoginRateLimits(t *testing.T) {
	e := apitest.New(t, app.Tuning{Limits: accounts.Limits{LoginPerEmail: 3, LoginPerIP: 5, SignupPerIP: 100, Window: time.Hour}}, local())
	e.SignUp("rl@example.com") // one login attempt used
	c := e.Client()
	bad := map[string]any{"email": "rl@example.com", "password": "not the password"}
	c.Must(401, "POST", "/v1/auth/login", bad)
	c.Must(401, "POST", "/v1/auth/login", bad)
	r := c.Must(429, "POST", "/v1/auth/login", bad)
	if r.Header.Get("Retry-After") == "" || !strings.HasSuffix(r.Str("type"), "/rate-limited") {
		t.Fatalf("429 without Retry-After: %v %s", r.Header, r.Raw)
	}
	// Even the right password is refused while the email is limited.
	c.Must(429, "POST", "/v1/auth/login", map[string]any{"email": "rl@example.com", "password": "correct horse battery staple"})
	// The IP limit spans emails: attempts so far from this IP: 5.
	r = c.Must(429, "POST", "/v1/auth/login", map[string]any{"email": "other@example.com", "password": "whatever pass"})
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("IP limit without Retry-After")
	}
}

func TestLoginExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := apitest.New(t, app.Tuning{Now: clock}, local())
	ten := e.SignUp("exp@example.com")

	// Active use keeps the login alive past the idle limit…
	for i := 0; i < 3; i++ {
		advance(20 * time.Minute)
		ten.Session.Must(200, "GET", "/v1/account", nil)
	}
	// …but 31 idle minutes end it.
	advance(31 * time.Minute)
	ten.Session.Must(401, "GET", "/v1/account", nil)

	// And no amount of activity goes past 12 hours.
	c := e.Client()
	c.Must(200, "POST", "/v1/auth/login", map[string]any{"email": "exp@example.com", "password": ten.Password})
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-25*time.Minute; elapsed += 25 * time.Minute {
		advance(25 * time.Minute)
		c.Must(200, "GET", "/v1/account", nil)
	}
	advance(26 * time.Minute)
	c.Must(401, "GET", "/v1/account", nil)
	ten.API.Must(200, "GET", "/v1/account", nil) // keys do not expire
}

func TestCookieCSRF(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	ten := e.SignUp("csrf@example.com")
	ten.Session.Header.Set("Origin", "https://evil.example")
	ten.Session.Must(403, "PATCH", "/v1/account", map[string]any{"name": "pwned"})
	ten.Session.Must(200, "GET", "/v1/account", nil) // reads are fine
	ten.Session.Header.Set("Origin", e.URL)
	ten.Session.Must(200, "PATCH", "/v1/account", map[string]any{"name": "Fine"})
	ten.Session.Header.Del("Origin")
	ten.Session.Header.Set("Sec-Fetch-Site", "cross-site")
	ten.Session.Must(403, "POST", "/v1/api-keys", map[string]any{"name": "x", "scope": "full"})
	// API keys are not cookies: no CSRF check applies.
	ten.API.Header.Set("Origin", "https://elsewhere.example")
	ten.API.Must(200, "PATCH", "/v1/account", map[string]any{"name": "Server"})
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	ten := e.SignUp("secret.keeper@example.com")
	c := e.Client()
	c.Do("POST", "/v1/auth/login", map[string]any{"email": "secret.keeper@example.com", "password": "a wrong guess 123"})
	c.Do("POST", "/v1/auth/signup", `{"email":"x@example.com","password":"leaky password 999",`)
	ten.API.Must(200, "GET", "/v1/account", nil)
	logs := e.Logs.String()
	if !strings.Contains(logs, `"msg":"http request"`) || !strings.Contains(logs, ten.AccountID) {
		t.Fatalf("logs miss access lines or tenant ids:\n%s", logs)
	}
	token := ""
	for _, ck := range ten.Session.Cookies(e.URL) {
		token = ck.Value
	}
	for _, secret := range []string{ten.Password, ten.Key, ten.Key[8:], token, "a wrong guess 123", "leaky password 999", "secret.keeper@example.com", "argon2id"} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret %q", secret)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
}

func TestMetaEndpoints(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, local())
	c := e.Client()
	if r := c.Must(200, "GET", "/healthz", nil); r.Str("status") != "ok" {
		t.Fatalf("healthz: %s", r.Raw)
	}
	r := c.Must(200, "GET", "/openapi.json", nil)
	if r.Str("openapi") != "3.1.0" {
		t.Fatalf("openapi version: %v", r.JSON["openapi"])
	}
	paths := r.JSON["paths"].(map[string]any)
	for _, p := range []string{"/v1/auth/signup", "/v1/auth/login", "/v1/auth/logout", "/v1/account", "/v1/api-keys", "/v1/api-keys/{id}", "/healthz"} {
		if paths[p] == nil {
			t.Errorf("openapi lacks %s", p)
		}
	}
	if !strings.Contains(string(r.Raw), `"bearer"`) {
		t.Error("openapi lacks the bearer security scheme")
	}
	d := c.Do("GET", "/docs", nil)
	if d.Status != 200 || !strings.Contains(string(d.Raw), "/docs/app.js") || !strings.Contains(d.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("docs: %d %v", d.Status, d.Header)
	}
	if js := c.Do("GET", "/docs/app.js", nil); js.Status != 200 || !strings.Contains(string(js.Raw), "openapi.json") {
		t.Fatalf("docs script: %d", js.Status)
	}
	if h := c.Do("GET", "/healthz", nil).Header; h.Get("X-Request-Id") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers: %v", h)
	}
	_ = http.StatusOK
}
