package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/tenant"
)

// contactsEnv is the API with the import worker polling its queue, as the
// Lambda event source mapping would.
func contactsEnv(t testing.TB) *apitest.Env {
	e := apitest.New(t, app.Tuning{}, local())
	q, _ := e.Deps.Config.Resources.QueueByID(resources.QueueImports)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.PollSQS(ctx, queue.New(e.Clients.SQS, q.Name), e.Deps.ImportsHandler(), 200*time.Millisecond, e.Deps.Log)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// csvClient is c's credentials, sending bodies as text/csv.
func csvClient(e *apitest.Env, key string) *apitest.Client {
	c := e.WithKey(key)
	c.Header.Set("Content-Type", "text/csv")
	return c
}

// importCSV uploads a CSV file and waits until its job ends.
func importCSV(t testing.TB, e *apitest.Env, key, body string, timeout time.Duration) apitest.Response {
	t.Helper()
	r := csvClient(e, key).Must(202, "POST", "/v1/contacts/imports", body)
	if r.Str("status") != "queued" || !strings.HasPrefix(r.Str("id"), "imp_") {
		t.Fatalf("import: %s", r.Raw)
	}
	return waitImport(t, e.WithKey(key), r.Str("id"), timeout)
}

func waitImport(t testing.TB, c *apitest.Client, id string, timeout time.Duration) apitest.Response {
	t.Helper()
	var last apitest.Response
	apitest.Eventually(t, timeout, func() string {
		last = c.Must(200, "GET", "/v1/contacts/imports/"+id, nil)
		if s := last.Str("status"); s == "completed" || s == "failed" {
			return ""
		}
		return "import " + id + " is " + last.Str("status") + ": " + importCounts(last)
	})
	return last
}

func importCounts(r apitest.Response) string {
	n := func(k string) int { v, _ := r.JSON[k].(float64); return int(v) }
	return fmt.Sprintf("%s processed=%d created=%d updated=%d unchanged=%d rejected=%d", r.Str("status"),
		n("processed"), n("created"), n("updated"), n("unchanged"), n("rejected"))
}

func importErrors(r apitest.Response) map[int]string {
	out := map[int]string{}
	list, _ := r.JSON["errors"].([]any)
	for _, x := range list {
		e := x.(map[string]any)
		out[int(e["line"].(float64))] = e["reason"].(string)
	}
	return out
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

func TestContactsCRUD(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("crud@example.com")
	a.API.Must(200, "PATCH", "/v1/account", map[string]any{"default_region": "DE"})

	r := a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "0151 1234 5678", "name": " Ana Lima ", "first_name": "Ana",
		"tags": []string{"VIP", " b2b ", "vip"}, "custom": map[string]string{"plan": "gold"}})
	id := r.Str("id")
	if !strings.HasPrefix(id, "con_") || r.Str("phone") != "+4915112345678" || r.Str("name") != "Ana Lima" ||
		strings.Join(strs(r.JSON["tags"]), ",") != "b2b,vip" || r.JSON["custom"].(map[string]any)["plan"] != "gold" {
		t.Fatalf("create: %s", r.Raw)
	}
	// Unique per phone, whichever way it is written.
	r = a.API.Must(409, "POST", "/v1/contacts", map[string]any{"phone": "+49 151 12345678"})
	if !strings.HasSuffix(r.Str("type"), "/conflict") {
		t.Fatalf("duplicate phone problem: %s", r.Raw)
	}
	other := a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+12025550123"})
	if other.JSON["tags"] == nil || other.JSON["custom"] == nil {
		t.Fatalf("empty tags/custom must be [] and {}: %s", other.Raw)
	}

	r = a.API.Must(200, "GET", "/v1/contacts/"+id, nil)
	if r.Str("first_name") != "Ana" {
		t.Fatalf("get: %s", r.Raw)
	}
	a.API.Must(404, "GET", "/v1/contacts/con_01jd8x2m3n4p5q6r7s8t9v0w1x", nil)
	a.API.Must(404, "GET", "/v1/contacts/nonsense", nil)

	r = a.API.Must(200, "PATCH", "/v1/contacts/"+id, map[string]any{"tags": []string{"new"}, "name": "Ana L."})
	if strings.Join(strs(r.JSON["tags"]), ",") != "new" || r.Str("name") != "Ana L." || r.Str("first_name") != "Ana" || r.Str("updated_at") == r.Str("created_at") {
		t.Fatalf("patch: %s", r.Raw)
	}
	a.API.Must(409, "PATCH", "/v1/contacts/"+id, map[string]any{"phone": "+12025550123"})
	r = a.API.Must(200, "PATCH", "/v1/contacts/"+id, map[string]any{"phone": "+4915112345679"})
	if r.Str("phone") != "+4915112345679" {
		t.Fatalf("phone change: %s", r.Raw)
	}
	a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112345678"}) // the old number is free again

	ro := e.WithKey(a.Session.Must(201, "POST", "/v1/api-keys", map[string]any{"name": "ro", "scope": "read"}).Str("secret"))
	ro.Must(200, "GET", "/v1/contacts/"+id, nil)
	ro.Must(200, "GET", "/v1/contacts", nil)
	ro.Must(403, "POST", "/v1/contacts", map[string]any{"phone": "+4915112340000"})
	ro.Must(403, "DELETE", "/v1/contacts/"+id, nil)
	csvClient(e, ro.APIKey).Must(403, "POST", "/v1/contacts/imports", "phone\n+4915112340000\n")

	a.API.Must(204, "DELETE", "/v1/contacts/"+id, nil)
	a.API.Must(404, "GET", "/v1/contacts/"+id, nil)
	a.API.Must(404, "DELETE", "/v1/contacts/"+id, nil)
	a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112345679"})
}

func TestContactsListByTagAndCursor(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("list@example.com")
	for i := 0; i < 130; i++ {
		tags := []string{"all"}
		if i%4 == 0 {
			tags = append(tags, "Quarter")
		}
		a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": fmt.Sprintf("+4915100%06d", i), "tags": tags})
	}
	list := func(query string) (ids []string, pages int) {
		next := ""
		for {
			q := query
			if next != "" {
				q += "&cursor=" + url.QueryEscape(next)
			}
			r := a.API.Must(200, "GET", "/v1/contacts?"+q, nil)
			pages++
			for _, c := range r.JSON["data"].([]any) {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			if r.JSON["next_cursor"] == nil {
				return ids, pages
			}
			next = r.Str("next_cursor")
		}
	}
	if ids, pages := list("limit=50"); len(ids) != 130 || pages != 3 {
		t.Fatalf("all: %d contacts in %d pages", len(ids), pages)
	}
	if ids, pages := list(""); len(ids) != 130 || pages != 3 {
		t.Fatalf("default page size: %d contacts in %d pages", len(ids), pages)
	}
	ids, pages := list("tag=quarter&limit=10")
	if len(ids) != 33 || pages != 4 {
		t.Fatalf("tag: %d contacts in %d pages", len(ids), pages)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("contact %s listed twice", id)
		}
		seen[id] = true
	}
	if ids, _ := list("tag=nobody"); len(ids) != 0 {
		t.Fatalf("unknown tag lists %d", len(ids))
	}
	r := a.API.Must(200, "GET", "/v1/contacts?limit=500", nil)
	if len(r.JSON["data"].([]any)) != 130 || r.JSON["next_cursor"] != nil {
		t.Fatalf("one big page: %d", len(r.JSON["data"].([]any)))
	}
	for _, q := range []string{"limit=501", "limit=0", "cursor=garbage!", "tag=bad%23tag"} {
		a.API.Must(422, "GET", "/v1/contacts?"+q, nil)
	}
	first := a.API.Must(200, "GET", "/v1/contacts?limit=5", nil).Str("next_cursor")
	a.API.Must(422, "GET", "/v1/contacts?tag=quarter&cursor="+url.QueryEscape(first), nil) // a cursor of another list
}

func TestContactsBadInput(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("bad@example.com")
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	for _, tc := range []struct {
		name     string
		body     map[string]any
		location string
	}{
		{"no phone", map[string]any{"name": "x"}, "property phone"},
		{"invalid phone", map[string]any{"phone": "12345"}, "body.phone"},
		{"national phone without a default region", map[string]any{"phone": "0151 12345678"}, "body.phone"},
		{"too many tags", map[string]any{"phone": "+4915112345678", "tags": many}, "body.tags"},
		{"bad tag", map[string]any{"phone": "+4915112345678", "tags": []string{"vip#1"}}, "body.tags"},
		{"bad custom key", map[string]any{"phone": "+4915112345678", "custom": map[string]string{"Bad-Key": "x"}}, "body.custom"},
		{"long custom value", map[string]any{"phone": "+4915112345678", "custom": map[string]string{"k": strings.Repeat("x", 1001)}}, "body.custom"},
		{"name with a line break", map[string]any{"phone": "+4915112345678", "name": "a\nb"}, "body.name"},
	} {
		r := a.API.Do("POST", "/v1/contacts", tc.body)
		if r.Status != 422 || !strings.Contains(string(r.Raw), tc.location) {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
	c := a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112345678"})
	a.API.Must(422, "PATCH", "/v1/contacts/"+c.Str("id"), map[string]any{"tags": many})

	csv := csvClient(e, a.Key)
	for _, tc := range []struct {
		name, body string
		status     int
		detail     string
	}{
		{"unknown columns", "phone,name,email,zip\n+4915112345678,A,a@x,1\n", 422, `unknown columns "email", "zip"`},
		{"no phone column", "name,tags\nA,vip\n", 422, "no phone column"},
		{"empty file", "", 400, "body is required"},
		{"broken header", "phone,\"name\n", 422, "header row"},
		{"bad custom column", "phone,custom.Bad-Key\n", 422, "custom field names"},
	} {
		r := csv.Do("POST", "/v1/contacts/imports", tc.body)
		if r.Status != tc.status || !strings.Contains(r.Str("detail"), tc.detail) {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
	if r := a.API.Do("POST", "/v1/contacts/imports", "phone\n+4915112345678\n"); r.Status != 415 {
		t.Errorf("JSON content type: %d %s", r.Status, r.Raw)
	}
	r := csv.Do("POST", "/v1/contacts/imports", "phone,name\n"+strings.Repeat("+4915112345678,A\n", contacts.MaxImportBytes/16))
	if r.Status != 413 || !strings.Contains(r.Str("detail"), "10 MiB") {
		t.Errorf("over 10 MiB: %d %.300s", r.Status, r.Raw)
	}
	// A 10 MB line fits the body limit: it is rejected by line, the rest imports.
	done := importCSV(t, e, a.Key, "phone,name\n+4915100000001,"+strings.Repeat("x", 10_000_000)+"\n+4915100000002,B\n", time.Minute)
	if got := importCounts(done); got != "completed processed=2 created=1 updated=0 unchanged=0 rejected=1" || !strings.Contains(importErrors(done)[2], "64 KiB") {
		t.Errorf("10 MB line: %s %v", got, importErrors(done))
	}
	// A file that is not text at all fails as a whole.
	failed := importCSV(t, e, a.Key, "phone,name\n+4915100000003,C\n\x00\x00\x01binary\x00", time.Minute)
	if failed.Str("status") != "failed" || !strings.Contains(failed.Str("failure_reason"), "not a CSV text file") || failed.JSON["completed_at"] == nil {
		t.Errorf("binary file: %s", failed.Raw)
	}
}

// badRowsCSV is 1,000 data rows (lines 2-1001) with 10 bad ones, one row
// repeating an earlier phone (an update), and one phone in national format.
func badRowsCSV() (body string, bad map[int]string) {
	bad = map[int]string{}
	var b strings.Builder
	b.WriteString("Phone,name,first_name,tags,custom.plan\n")
	for i := 0; i < 1000; i++ {
		line := i + 2
		row := fmt.Sprintf("+49151%08d,Name %d,F%d,vip;t%d,gold", i, i, i, i%3)
		switch line {
		case 10:
			row, bad[line] = "not-a-phone,A,B,vip,gold", "phone"
		case 20:
			row, bad[line] = fmt.Sprintf("+49151%08d,A,B,vip#1,gold", i), "tags"
		case 30:
			row, bad[line] = fmt.Sprintf("+49151%08d,A,B,vip,%s", i, strings.Repeat("g", 1001)), "custom.plan"
		case 40:
			row, bad[line] = fmt.Sprintf("+49151%08d,A,B,vip", i), "the row has 4 fields"
		case 50:
			row, bad[line] = fmt.Sprintf("+49151%08d,Ana \"the boss\",B,vip,gold", i), "broken quoting"
		case 60:
			row, bad[line] = fmt.Sprintf("+49151%08d,\"Ana,B,vip,gold", i), "broken quoting" // unclosed: must not swallow the next rows
		case 70:
			row, bad[line] = fmt.Sprintf("+49151%08d,%s,B,vip,gold", i, strings.Repeat("n", 70_000)), "64 KiB"
		case 80:
			var tags []string
			for j := 0; j < 51; j++ {
				tags = append(tags, fmt.Sprint("t", j))
			}
			row, bad[line] = fmt.Sprintf("+49151%08d,A,B,%s,gold", i, strings.Join(tags, ";")), "at most 50 tags"
		case 90:
			row, bad[line] = fmt.Sprintf("+49151%08d,A,B,vip,gold,extra", i), "the row has 6 fields"
		case 100:
			row, bad[line] = "+1555,A,B,vip,gold", "phone"
		case 500:
			row = "0151 00000007,Name 7,F7,vip;t2;again,gold" // national format (DE) repeating line 9's phone: an update
		case 600:
			row = fmt.Sprintf("\"+49151%08d\",\"Name, %d\",\"F\",\"vip\",\"gold\"", i, i) // quoted fields are fine
		}
		b.WriteString(row + "\n")
	}
	return b.String(), bad
}

func TestContactImportCountsAndIdempotence(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("imp@example.com")
	a.API.Must(200, "PATCH", "/v1/account", map[string]any{"default_region": "DE"})
	body, bad := badRowsCSV()

	done := importCSV(t, e, a.Key, body, 2*time.Minute)
	if got, want := importCounts(done), "completed processed=1000 created=989 updated=1 unchanged=0 rejected=10"; got != want {
		t.Fatalf("first import: %s, want %s; errors %v", got, want, importErrors(done))
	}
	errsByLine := importErrors(done)
	if len(errsByLine) != len(bad) || len(errsByLine) != 10 {
		t.Errorf("errors %v, want lines %v", errsByLine, bad)
	}
	for line, want := range bad {
		if !strings.Contains(errsByLine[line], want) {
			t.Errorf("line %d: reason %q, want ~%q", line, errsByLine[line], want)
		}
	}
	if done.JSON["completed_at"] == nil {
		t.Errorf("no completed_at: %s", done.Raw)
	}
	r := a.API.Must(200, "GET", "/v1/contacts?tag=again", nil)
	if data := r.JSON["data"].([]any); len(data) != 1 || data[0].(map[string]any)["phone"] != "+4915100000007" ||
		strings.Join(strs(data[0].(map[string]any)["tags"]), ",") != "again,t1,t2,vip" {
		t.Fatalf("updated contact: %s", r.Raw)
	}
	r = a.API.Must(200, "GET", "/v1/contacts?tag=vip&limit=500", nil)
	next := r.Str("next_cursor")
	r2 := a.API.Must(200, "GET", "/v1/contacts?tag=vip&limit=500&cursor="+url.QueryEscape(next), nil)
	if n := len(r.JSON["data"].([]any)) + len(r2.JSON["data"].([]any)); n != 989 || r2.JSON["next_cursor"] != nil {
		t.Fatalf("contacts tagged vip: %d", n)
	}

	// The same file again: nothing new, nothing duplicated.
	again := importCSV(t, e, a.Key, body, 2*time.Minute)
	if got, want := importCounts(again), "completed processed=1000 created=0 updated=0 unchanged=990 rejected=10"; got != want {
		t.Fatalf("second import: %s, want %s", got, want)
	}
	total := 0
	for cursor := ""; ; {
		r := a.API.Must(200, "GET", "/v1/contacts?limit=500&cursor="+url.QueryEscape(cursor), nil)
		total += len(r.JSON["data"].([]any))
		if r.JSON["next_cursor"] == nil {
			break
		}
		cursor = r.Str("next_cursor")
	}
	if total != 989 {
		t.Fatalf("%d contacts after re-import, want 989", total)
	}
}

func TestContactsTenantIsolation(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("iso-a@example.com")
	b := e.SignUp("iso-b@example.com")
	c := a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112345678", "tags": []string{"vip"}}).Str("id")
	imp := importCSV(t, e, a.Key, "phone,tags\n+4915112345679,vip\n", time.Minute).Str("id")
	a.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "+4915112345678"})

	b.API.Must(404, "GET", "/v1/contacts/"+c, nil)
	b.API.Must(404, "PATCH", "/v1/contacts/"+c, map[string]any{"name": "stolen"})
	b.API.Must(404, "DELETE", "/v1/contacts/"+c, nil)
	b.API.Must(404, "GET", "/v1/contacts/imports/"+imp, nil)
	for _, q := range []string{"", "?tag=vip"} {
		if r := b.API.Must(200, "GET", "/v1/contacts"+q, nil); len(r.JSON["data"].([]any)) != 0 {
			t.Fatalf("B lists A's contacts: %s", r.Raw)
		}
	}
	if r := b.API.Must(200, "GET", "/v1/suppressions", nil); len(r.JSON["data"].([]any)) != 0 {
		t.Fatalf("B lists A's suppressions: %s", r.Raw)
	}
	b.API.Must(404, "DELETE", "/v1/suppressions/%2B4915112345678", nil)
	// The same number is independent in B's account.
	b.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112345678"})
	b.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "+4915112345678"})
	b.API.Must(204, "DELETE", "/v1/suppressions/%2B4915112345678", nil)
	if r := a.API.Must(200, "GET", "/v1/suppressions", nil); len(r.JSON["data"].([]any)) != 1 {
		t.Fatalf("B's delete lifted A's suppression: %s", r.Raw)
	}
	if r := a.API.Must(200, "GET", "/v1/contacts/"+c, nil); r.Str("name") != "" {
		t.Fatalf("A's contact changed: %s", r.Raw)
	}
}

func TestSuppressions(t *testing.T) {
	e := contactsEnv(t)
	a := e.SignUp("sup@example.com")
	a.API.Must(200, "PATCH", "/v1/account", map[string]any{"default_region": "DE"})
	r := a.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "0151 12345678", "reason": "opted_out"})
	if r.Str("phone") != "+4915112345678" || r.Str("reason") != "opted_out" {
		t.Fatalf("add: %s", r.Raw)
	}
	r = a.API.Must(200, "POST", "/v1/suppressions", map[string]any{"phone": "+4915112345678"})
	if r.Str("reason") != "opted_out" {
		t.Fatalf("add again: %s", r.Raw)
	}
	for i := 0; i < 4; i++ {
		a.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": fmt.Sprintf("+491511234560%d", i)})
	}
	var phones []string
	for cursor := ""; ; {
		r := a.API.Must(200, "GET", "/v1/suppressions?limit=2&cursor="+url.QueryEscape(cursor), nil)
		for _, s := range r.JSON["data"].([]any) {
			phones = append(phones, s.(map[string]any)["phone"].(string))
		}
		if r.JSON["next_cursor"] == nil {
			break
		}
		cursor = r.Str("next_cursor")
	}
	if len(phones) != 5 {
		t.Fatalf("listed %v", phones)
	}
	a.API.Must(422, "POST", "/v1/suppressions", map[string]any{"phone": "nope"})
	a.API.Must(422, "POST", "/v1/suppressions", map[string]any{"phone": "+4915112345670", "reason": "spam"})
	a.API.Must(204, "DELETE", "/v1/suppressions/%2B4915112345678", nil)
	a.API.Must(404, "DELETE", "/v1/suppressions/%2B4915112345678", nil)
	a.API.Must(204, "DELETE", "/v1/suppressions/015112345600", nil) // national format, read with the default region
	a.API.Must(422, "DELETE", "/v1/suppressions/abc", nil)
	// What a campaign asks: which of these numbers are suppressed.
	got, err := e.Deps.DB.Suppressed(tenant.With(context.Background(), a.AccountID), []string{"+4915112345601", "+4915112345678"})
	if err != nil || !got["+4915112345601"] || got["+4915112345678"] {
		t.Fatalf("suppressed: %v %v", err, got)
	}
}

// TestContactImport100kRows imports 100,000 rows end to end. Under the race
// detector the emulator's JSON decoding alone takes well over a minute,
// so there the same import runs in make bench ("Contact CSV import").
func TestContactImport100kRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100,000 rows: run without -short and -race, or see make bench")
	}
	e := contactsEnv(t)
	a := e.SignUp("big@example.com")
	var b strings.Builder
	b.WriteString("phone,name,tags,custom.plan\n")
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&b, "+49151%08d,Name %d,vip;t%d,gold\n", i, i, i%7)
	}
	start := time.Now()
	done := importCSV(t, e, a.Key, b.String(), 5*time.Minute)
	if got, want := importCounts(done), "completed processed=100000 created=100000 updated=0 unchanged=0 rejected=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	t.Logf("100,000 rows in %s (%.0f rows/s)", time.Since(start).Round(time.Millisecond), 100_000/time.Since(start).Seconds())
}
