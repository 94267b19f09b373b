package localtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatsend/chatsend/infra/local"
)

// StripeMock is a running stripe-mock behind a small proxy. stripe-mock is
// stateless (canned fixtures), so the proxy lets a test decide what the
// "current" object is: fields set with SetObject replace those of the
// fixture for that id, and a subscription list filtered by customer
// returns exactly the subscriptions set for that customer. It also counts
// requests per method and path.
type StripeMock struct {
	// URL is the proxy's base URL (give it to stripeapi.New).
	URL string

	mu       sync.Mutex
	objects  map[string]map[string]any
	missing  map[string]bool
	requests map[string]int
	posts    []Post
}

// Post is a POST request the proxy forwarded: its path, form and
// Idempotency-Key header.
type Post struct {
	Path           string
	Form           url.Values
	IdempotencyKey string
}

// MustStripeMock finds (or installs) stripe-mock (local.StripeMockBinary), starts it on free
// loopback ports, waits until it answers and stops it when the test ends.
func MustStripeMock(tb testing.TB) *StripeMock {
	tb.Helper()
	proc, err := local.StartStripeMock(fmt.Sprintf("127.0.0.1:%d", FreePort(tb)), fmt.Sprintf("127.0.0.1:%d", FreePort(tb)))
	if err != nil {
		tb.Fatalf("stripe-mock: %v", err)
	}
	tb.Cleanup(proc.Close)
	backend := proc.URL
	m := &StripeMock{objects: map[string]map[string]any{}, missing: map[string]bool{}, requests: map[string]int{}}
	target, _ := url.Parse(backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = m.modify
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests[r.Method+" "+r.URL.Path]++
		if r.Method == http.MethodPost {
			raw, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(raw))
			m.posts = append(m.posts, Post{Path: r.URL.Path, Form: form, IdempotencyKey: r.Header.Get("Idempotency-Key")})
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		gone := m.missing[lastSegment(r.URL.Path)]
		m.mu.Unlock()
		if gone && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such object"}}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

func lastSegment(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// SetObject makes id's fixture carry fields (merged over the fixture).
// A subscription's "customer" field also lists it for that customer.
func (m *StripeMock) SetObject(id string, fields map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.objects[id]
	if cur == nil {
		cur = map[string]any{}
	}
	maps.Copy(cur, fields)
	cur["id"] = id
	m.objects[id] = cur
	delete(m.missing, id)
}

// SetMissing makes GET requests for id answer 404 resource_missing.
func (m *StripeMock) SetMissing(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.missing[id] = true
}

// Requests returns how many requests had this method and path.
func (m *StripeMock) Requests(method, path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[method+" "+path]
}

// Posts returns the POST requests to path, in order.
func (m *StripeMock) Posts(path string) []Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Post
	for _, p := range m.posts {
		if p.Path == path {
			out = append(out, p)
		}
	}
	return out
}

// TotalRequests returns how many requests the proxy has seen.
func (m *StripeMock) TotalRequests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.requests {
		n += c
	}
	return n
}

// modify rewrites fixtures with the objects set by the test.
func (m *StripeMock) modify(res *http.Response) error {
	if res.Request.Method != http.MethodGet || res.StatusCode != 200 {
		return nil
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err == nil {
		m.mu.Lock()
		if body["object"] == "list" && strings.HasSuffix(res.Request.URL.Path, "/v1/subscriptions") {
			m.listSubscriptions(body, res.Request.URL.Query().Get("customer"))
		} else if id, _ := body["id"].(string); id != "" {
			if ov, ok := m.objects[lastSegment(res.Request.URL.Path)]; ok {
				maps.Copy(body, ov)
			}
		}
		m.mu.Unlock()
		raw, _ = json.Marshal(body)
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	res.ContentLength = int64(len(raw))
	res.Header.Set("Content-Length", strconv.Itoa(len(raw)))
	return nil
}

// listSubscriptions replaces a customer's subscription list with the
// subscriptions set for that customer, each built on the fixture.
func (m *StripeMock) listSubscriptions(body map[string]any, customer string) {
	data, _ := body["data"].([]any)
	var template map[string]any
	if len(data) > 0 {
		template, _ = data[0].(map[string]any)
	}
	out := []any{}
	for _, ov := range m.objects {
		if c, _ := ov["customer"].(string); customer == "" || c != customer || !strings.HasPrefix(ov["id"].(string), "sub_") {
			continue
		}
		obj := maps.Clone(template)
		if obj == nil {
			obj = map[string]any{}
		}
		maps.Copy(obj, ov)
		out = append(out, obj)
	}
	body["data"], body["has_more"] = out, false
}
