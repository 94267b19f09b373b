package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/apitest"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/privacy"
	"github.com/chatsend/chatsend/shared/tenant"
)

// scanItems returns every item of the main table as canonical JSON, in key
// order: a full Scan, the strongest check that nothing was missed.
func scanItems(t *testing.T, e *apitest.Env) []string {
	t.Helper()
	table := e.Deps.Config.Resources.Main.Name
	p := dynamodb.NewScanPaginator(e.Clients.DynamoDB, &dynamodb.ScanInput{TableName: &table, ConsistentRead: boolPtr(true)})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(m) // map keys sorted: canonical
			out = append(out, string(b))
		}
	}
	sort.Strings(out)
	return out
}

func boolPtr(b bool) *bool { return &b }

// itemsMentioning returns the scanned items whose JSON contains s.
func itemsMentioning(items []string, s string) []string {
	var out []string
	for _, it := range items {
		if strings.Contains(it, s) {
			out = append(out, it)
		}
	}
	return out
}

// allObjects lists every object version and delete marker of every bucket
// (the buckets are versioned) as bucket/key@version.
func allObjects(t *testing.T, e *apitest.Env) []string {
	t.Helper()
	var out []string
	for _, b := range e.Deps.Config.Resources.Buckets {
		res, err := e.Clients.S3.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(b.Name)})
		if err != nil {
			t.Fatalf("list %s: %v", b.Name, err)
		}
		if aws.ToBool(res.IsTruncated) {
			t.Fatalf("bucket %s holds more versions than one listing", b.Name)
		}
		for _, v := range res.Versions {
			out = append(out, b.Name+"/"+aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
		}
		for _, m := range res.DeleteMarkers {
			out = append(out, b.Name+"/"+aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId)+" (delete marker)")
		}
	}
	return out
}

// waitPrivacy polls a privacy request until it ends.
func waitPrivacy(t *testing.T, c *apitest.Client, id string, timeout time.Duration) apitest.Response {
	t.Helper()
	var last apitest.Response
	apitest.Eventually(t, timeout, func() string {
		last = c.Must(200, "GET", "/v1/privacy/requests/"+id, nil)
		if s := last.Str("status"); s == "completed" || s == "failed" {
			return ""
		}
		return "privacy request: " + string(last.Raw)
	})
	if last.Str("status") != "completed" {
		t.Fatalf("privacy request failed: %s", last.Raw)
	}
	return last
}

func TestPrivacyIdentity(t *testing.T) {
	e := apitest.New(t, app.Tuning{Limits: accounts.Limits{LoginPerEmail: 3, LoginPerIP: 100, SignupPerIP: 100, Window: time.Hour}},
		map[string]string{"CHATSEND_STAGE": "local"})
	ten := e.SignUp("identity@example.com") // the login above counted one attempt

	for _, typ := range []string{"export", "erase"} {
		r := ten.API.Must(403, "POST", "/v1/privacy/requests", map[string]any{"type": typ})
		if !strings.HasSuffix(r.Str("type"), "/reauthentication-required") || !strings.Contains(r.Str("detail"), "password") {
			t.Fatalf("%s with an API key alone: %s", typ, r.Raw)
		}
	}
	r := ten.API.Must(403, "POST", "/v1/privacy/requests", map[string]any{"type": "export", "password": "not the password at all"})
	if !strings.Contains(r.Str("detail"), "password is wrong") {
		t.Fatalf("wrong password: %s", r.Raw)
	}
	if strings.Contains(e.Logs.String(), "not the password at all") {
		t.Fatal("the password was logged")
	}
	ok := ten.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "export", "password": ten.Password})
	if ok.Str("status") != "received" || !strings.HasPrefix(ok.Str("id"), "prq_") {
		t.Fatalf("right password: %s", ok.Raw)
	}
	due, _ := time.Parse(time.RFC3339, ok.Str("due_at"))
	created, _ := time.Parse(time.RFC3339, ok.Str("created_at"))
	if d := due.Sub(created); d < 28*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("due_at %s is not a month after %s", due, created)
	}
	// The wrong password counted: login attempts for this email are used up.
	ten.API.Must(429, "POST", "/v1/privacy/requests", map[string]any{"type": "erase", "password": "another wrong one"})

	// A fresh dashboard login stands in for the password; a repeated export
	// while one is open returns it.
	again := ten.Session.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "export"})
	if again.Str("id") != ok.Str("id") {
		t.Fatalf("repeated export made a second request: %s", again.Raw)
	}
	// restrict and the flags need no extra proof; bad input is a problem.
	ten.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "restrict"})
	bad := ten.API.Must(422, "POST", "/v1/privacy/requests", map[string]any{"type": "delete_everything"})
	if bad.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("bad type: %s", bad.Raw)
	}
	if l := ten.API.Must(200, "GET", "/v1/privacy/requests", nil); len(l.JSON["data"].([]any)) != 2 {
		t.Fatalf("list: %s", l.Raw)
	}
}

func TestPrivacyExport(t *testing.T) {
	e := apitest.New(t, app.Tuning{}, map[string]string{"CHATSEND_STAGE": "local"})
	e.StartPrivacyWorker()
	a := e.SignUp("export-a@example.com")
	b := e.SignUp("export-b@example.com")
	a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112340001", "first_name": "Ana", "tags": []string{"vip"}})
	b.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": "+4915112340002", "first_name": "Bruno"})
	a.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "+4915112340003"})
	a.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://example.com/hooks", "events": []string{"*"}})
	a.API.Must(200, "PATCH", "/v1/account", map[string]any{"name": "Ana Renamed", "time_zone": "Europe/Berlin"})

	id := a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "export", "password": a.Password}).Str("id")
	r := waitPrivacy(t, a.API, id, 30*time.Second)
	res := r.JSON["result"].(map[string]any)
	link := res["download_url"].(string)
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("X-Amz-Expires") != "86400" {
		t.Fatalf("download link does not expire in 24 h: %s", link)
	}
	if !strings.Contains(u.Path, "/"+a.AccountID+"/") {
		t.Fatalf("export not under the account's prefix: %s", u.Path)
	}
	// Another tenant's request id is indistinguishable from a missing one.
	b.API.Must(404, "GET", "/v1/privacy/requests/"+id, nil)
	if l := b.API.Must(200, "GET", "/v1/privacy/requests", nil); len(l.JSON["data"].([]any)) != 0 {
		t.Fatalf("B sees A's requests: %s", l.Raw)
	}

	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, body)
	}
	// The download route hands out fresh short links for the same bundle
	// (the stored one dies with the signer's credentials on AWS).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := func(key string) *http.Response {
		req, _ := http.NewRequest("GET", e.URL+"/v1/privacy/requests/"+id+"/download", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if r := redirect(b.Key); r.StatusCode != 404 {
		t.Fatalf("B downloads A's export: %d", r.StatusCode)
	}
	fresh := redirect(a.Key)
	fu, err := url.Parse(fresh.Header.Get("Location"))
	if fresh.StatusCode != 303 || err != nil || fu.Query().Get("X-Amz-Expires") != "900" {
		t.Fatalf("download redirect: %d %q", fresh.StatusCode, fresh.Header.Get("Location"))
	}
	again, err := http.Get(fu.String())
	if err != nil {
		t.Fatal(err)
	}
	same, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != 200 || !bytes.Equal(same, body) {
		t.Fatalf("fresh link: %d, %d bytes (want the %d-byte bundle)", again.StatusCode, len(same), len(body))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	var m privacy.Manifest
	if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.FormatVersion != privacy.ExportFormatVersion || m.AccountID != a.AccountID || m.GeneratedAt.IsZero() {
		t.Fatalf("manifest: %+v", m)
	}
	listed := map[string]int{}
	for _, f := range m.Files {
		listed[f.Name] = f.Count
	}
	// Every data class the privacy policy names for an account holder.
	for _, name := range []string{"account.json", "users.ndjson", "api_keys.ndjson", "login_sessions.ndjson", "sessions.ndjson",
		"contacts.ndjson", "groups.ndjson", "campaigns.ndjson", "messages.ndjson", "message_bodies.ndjson", "suppressions.ndjson",
		"webhook_endpoints.ndjson", "webhook_deliveries.ndjson", "billing.json", "privacy_requests.json", "audit_trail.ndjson"} {
		if _, ok := files[name]; !ok {
			t.Errorf("bundle lacks %s", name)
		}
		if _, ok := listed[name]; !ok {
			t.Errorf("manifest does not list %s", name)
		}
	}
	all := strings.Join(func() []string {
		var out []string
		for _, v := range files {
			out = append(out, v)
		}
		return out
	}(), "\n")
	for _, want := range []string{"Ana Renamed", "+4915112340001", "+4915112340003", "https://example.com/hooks", "export-a@example.com"} {
		if !strings.Contains(all, want) {
			t.Errorf("bundle lacks %q", want)
		}
	}
	for _, never := range []string{b.AccountID, "+4915112340002", "export-b@example.com", "argon2id", "whsec_", "password_hash"} {
		if strings.Contains(all, never) {
			t.Errorf("bundle contains %q", never)
		}
	}
	if listed["contacts.ndjson"] != 1 || listed["api_keys.ndjson"] != 1 || listed["users.ndjson"] != 1 {
		t.Errorf("counts: %v", listed)
	}
	// The rectification is in the audit trail: which fields, not values.
	var audit map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(files["audit_trail.ndjson"])), &audit); err != nil {
		t.Fatalf("audit trail: %q", files["audit_trail.ndjson"])
	}
	if fmt.Sprint(audit["fields"]) != "[name time_zone]" || audit["actor"] == "" || strings.Contains(files["audit_trail.ndjson"], "Renamed") {
		t.Errorf("audit entry: %v", audit)
	}
	// The export item lives 7 days (class export_file).
	exp := itemsMentioning(scanItems(t, e), `"type":"export"`)
	if len(exp) != 1 {
		t.Fatalf("export items: %v", exp)
	}
	var ei struct {
		TTL       int64     `json:"ttl"`
		CreatedAt time.Time `json:"created_at"`
	}
	_ = json.Unmarshal([]byte(exp[0]), &ei)
	if d := time.Unix(ei.TTL, 0).Sub(ei.CreatedAt); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Errorf("export item TTL is %s after creation, want 7 days", d)
	}
}

// eraseEnv is a stack with a session host and every worker except
// privacy: the test drives privacy jobs itself, to crash one midway.
func eraseEnv(t *testing.T, crashAfter *atomic.Value) *apitest.Env {
	env := apitest.Simulator(t)
	env["CHATSEND_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
	e := apitest.New(t, app.Tuning{RPCTimeout: 10 * time.Second, PrivacySessionWait: 20 * time.Second,
		PrivacyAfterPhase: func(r privacy.Request, phase string) error {
			if crashAfter.Load() == phase {
				crashAfter.Store("")
				return errors.New("simulated crash after " + phase)
			}
			return nil
		}}, env)
	tune := apitest.FastHost()
	tune.CampaignIntervalScale = 0.0005
	e.StartHost(tune)
	e.StartEventsConsumer()
	e.StartFanout()
	e.StartImportsWorker()
	e.StartWebhooksWorker()
	return e
}

func TestPrivacyEraseAccount(t *testing.T) {
	var crashAfter atomic.Value
	crashAfter.Store("")
	e := eraseEnv(t, &crashAfter)
	rcv := newReceiver(t, 0)
	a := e.SignUp("erase-a@example.com")
	b := e.SignUp("erase-b@example.com")

	// A: a connected session, 1,000 imported contacts, a finished
	// campaign, webhooks with deliveries, an export.
	ses := connectedSession(t, a.API)
	var csv strings.Builder
	csv.WriteString("phone,first_name,tags\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&csv, "+4915170%06d,P%d,all\n", i, i)
	}
	if r := importCSV(t, e, a.Key, csv.String(), 2*time.Minute); r.JSON["created"] != 1000.0 {
		t.Fatalf("import A: %s", r.Raw)
	}
	a.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL + "/hook", "events": []string{"*"}})
	seedContacts(t, e, a.AccountID, "few", 5, 0)
	cmp := a.API.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Few", "session_id": ses, "template": "Hi {{first_name}}",
		"audience": map[string]any{"tags": []string{"few"}}, "pacing": map[string]any{"min_interval_s": 1, "max_interval_s": 2, "daily_cap": 100, "warm_up": false}}).Str("id")
	a.API.Must(200, "POST", "/v1/campaigns/"+cmp+"/start", nil)
	waitCampaign(t, a.API, cmp, time.Minute, func(r apitest.Response) bool { return r.Str("status") == "completed" })
	apitest.Eventually(t, 30*time.Second, func() string {
		if len(rcv.requests()) < 5 {
			return fmt.Sprintf("%d webhook deliveries", len(rcv.requests()))
		}
		return ""
	})
	ctx := context.Background()
	exp := a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "export", "password": a.Password}).Str("id")
	if err := e.Deps.Privacy.Handle(ctx, privacy.Job{RequestID: exp, AccountID: a.AccountID}); err != nil {
		t.Fatal(err)
	}

	// B shares 100 of A's phone numbers.
	var bcsv strings.Builder
	bcsv.WriteString("phone,first_name\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&bcsv, "+4915170%06d,B%d\n", i, i)
	}
	importCSV(t, e, b.Key, bcsv.String(), time.Minute)
	b.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": "+4915170000001"})
	b.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://example.com/b", "events": []string{"*"}})
	time.Sleep(time.Second) // let B's last touches (key use) settle
	bBefore := itemsMentioning(scanItems(t, e), b.AccountID)
	if len(bBefore) < 200 {
		t.Fatalf("B has only %d items", len(bBefore))
	}
	bObjects := func() []string {
		var out []string
		for _, o := range allObjects(t, e) {
			if strings.Contains(o, b.AccountID) {
				out = append(out, o)
			}
		}
		return out
	}
	bObjBefore := bObjects()

	// Erase A, crashing after the objects phase; the rerun completes.
	er := a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "erase", "password": a.Password}).Str("id")
	crashAfter.Store("objects")
	job := privacy.Job{RequestID: er, AccountID: a.AccountID}
	if err := e.Deps.Privacy.Handle(ctx, job); err == nil {
		t.Fatal("the crash hook did not stop the job")
	}
	mid, err := e.Deps.DB.FindRequest(ctx, er)
	if err != nil || mid.Status != privacy.StatusRunning || mid.Phase != "billing" {
		t.Fatalf("after the crash: %+v %v", mid, err)
	}
	a.API.Must(401, "GET", "/v1/account", nil) // keys were revoked in the first phase
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.Deps.Privacy.Handle(cancelled, job); err == nil {
		t.Fatal("a run with a cancelled context succeeded")
	}
	if err := e.Deps.Privacy.Handle(ctx, job); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if err := e.Deps.Privacy.Handle(ctx, job); err != nil { // a redelivery is harmless
		t.Fatalf("repeat: %v", err)
	}
	done, err := e.Deps.DB.FindRequest(ctx, er)
	if err != nil || done.Status != privacy.StatusCompleted {
		t.Fatalf("erase: %+v %v", done, err)
	}
	t.Logf("erase result: %+v", done.Result)
	if done.Result.Deleted["table:contact"] < 1005 || done.Result.Deleted["s3:"+e.Deps.Config.Resources.Buckets[0].Name] == 0 && done.Result.Deleted["s3:"+e.Deps.Config.Resources.Buckets[1].Name] == 0 {
		t.Errorf("counts: %v", done.Result.Deleted)
	}
	if strings.Contains(strings.Join(done.Result.Notes, "\n"), "not confirmed") {
		t.Errorf("the session host did not delete the session in time: %v", done.Result.Notes)
	}
	if len(done.Result.Kept) < 2 || !strings.Contains(strings.Join(done.Result.Kept, "\n"), "audit record") {
		t.Errorf("kept: %v", done.Result.Kept)
	}

	// A full scan finds nothing of A but the documented remainder: its
	// privacy requests, keyed by a hashed subject.
	items := scanItems(t, e)
	for _, it := range items {
		if strings.Contains(it, a.AccountID) || strings.Contains(it, "erase-a@example.com") || strings.Contains(it, ses) {
			t.Errorf("left of A: %.300s", it)
		}
	}
	subject := privacy.SubjectOf(a.AccountID)
	for _, it := range itemsMentioning(items, subject) {
		if !strings.Contains(it, `"type":"privacy_request"`) {
			t.Errorf("unexpected item with A's subject: %.300s", it)
		}
	}
	if n := len(itemsMentioning(items, subject)); n != 2 {
		t.Errorf("%d privacy records of A, want 2 (export, erase)", n)
	}
	for _, o := range allObjects(t, e) {
		if strings.Contains(o, a.AccountID) {
			t.Errorf("object of A left: %s", o)
		}
	}
	a.API.Must(401, "GET", "/v1/account", nil)
	a.Session.Must(401, "GET", "/v1/account", nil)
	e.Client().Must(401, "POST", "/v1/auth/login", map[string]any{"email": a.Email, "password": a.Password})

	// B is byte-for-byte unchanged.
	bAfter := itemsMentioning(scanItems(t, e), b.AccountID)
	if strings.Join(bAfter, "\n") != strings.Join(bBefore, "\n") {
		t.Errorf("B changed: %d items before, %d after", len(bBefore), len(bAfter))
	}
	if strings.Join(bObjects(), ",") != strings.Join(bObjBefore, ",") {
		t.Errorf("B's objects changed")
	}
}

func TestPrivacyRecipientErase(t *testing.T) {
	var crashAfter atomic.Value
	crashAfter.Store("")
	e := eraseEnv(t, &crashAfter)
	e.StartPrivacyWorker()
	rcv := newReceiver(t, 0)
	a := e.SignUp("recipient-a@example.com")
	b := e.SignUp("recipient-b@example.com")
	const x = "+4915177700001"
	digits := strings.TrimPrefix(x, "+")

	ses := connectedSession(t, a.API)
	a.API.Must(201, "POST", "/v1/webhook-endpoints", map[string]any{"url": rcv.URL + "/hook", "events": []string{"*"}})
	// A sent x a single message, and x is in a campaign with 4 others.
	m := a.API.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": x, "text": "hello x"}).Str("id")
	waitMessage(t, a.API, m, "read")
	a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": x, "first_name": "Xavier", "tags": []string{"q"}})
	seedContacts(t, e, a.AccountID, "q", 4, 0)
	cmp := a.API.Must(201, "POST", "/v1/campaigns", map[string]any{"name": "Q", "session_id": ses, "template": "Hi {{first_name}}",
		"audience": map[string]any{"tags": []string{"q"}}, "pacing": map[string]any{"min_interval_s": 1, "max_interval_s": 2, "daily_cap": 100, "warm_up": false}}).Str("id")
	a.API.Must(200, "POST", "/v1/campaigns/"+cmp+"/start", nil)
	a.API.Must(200, "POST", "/v1/campaigns/"+cmp+"/pause", nil) // before the fan-out job runs: all stay queued
	waitCampaign(t, a.API, cmp, 30*time.Second, func(r apitest.Response) bool { return counts(r)["queued"] == 5 })

	// B has the same number.
	b.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": x, "first_name": "Xavi"})
	b.API.Must(201, "POST", "/v1/suppressions", map[string]any{"phone": x})
	apitest.Eventually(t, 30*time.Second, func() string {
		if n := len(itemsMentioning(scanItems(t, e), `"status":"pending"`)); n > 0 {
			return fmt.Sprintf("%d webhook deliveries pending", n)
		}
		return ""
	})
	time.Sleep(500 * time.Millisecond)
	bBefore := itemsMentioning(scanItems(t, e), b.AccountID)

	// The recipient export has x's data, and nothing of B.
	ex := a.API.Must(200, "POST", "/v1/contacts/export", map[string]any{"phone": x})
	if ex.JSON["contact"] == nil || len(ex.JSON["messages"].([]any)) != 2 || len(ex.JSON["webhook_deliveries"].([]any)) == 0 ||
		!strings.Contains(string(ex.Raw), "hello x") || strings.Contains(string(ex.Raw), "Xavi\"") {
		t.Fatalf("recipient export: %s", ex.Raw)
	}
	a.API.Must(422, "POST", "/v1/contacts/erase", map[string]any{"phone": "not a phone"})

	id := a.API.Must(202, "POST", "/v1/contacts/erase", map[string]any{"phone": x}).Str("id")
	r := waitPrivacy(t, a.API, id, 30*time.Second)
	if r.Str("type") != "contact_erase" || strings.Contains(string(r.Raw), digits) {
		t.Fatalf("erase request: %s", r.Raw)
	}
	del := r.JSON["result"].(map[string]any)["deleted"].(map[string]any)
	if del["table:message"] != 2.0 || del["table:contact"] != 1.0 || del["table:webhook_delivery"].(float64) < 1 {
		t.Fatalf("counts: %s", r.Raw)
	}
	if l := a.API.Must(200, "GET", "/v1/privacy/requests", nil); !strings.Contains(string(l.Raw), id) {
		t.Fatalf("the contact erasure is not listed: %s", l.Raw)
	}

	// The queued campaign skips x and sends to the others.
	a.API.Must(200, "POST", "/v1/campaigns/"+cmp+"/resume", nil)
	done := waitCampaign(t, a.API, cmp, time.Minute, func(r apitest.Response) bool { return r.Str("status") == "completed" })
	if n := counts(done); n["skipped"] != 1 || n["read"]+n["delivered"]+n["sent"] != 4 {
		t.Fatalf("campaign after the erasure: %v", n)
	}
	time.Sleep(time.Second) // late events and webhooks of the campaign
	items := scanItems(t, e)
	for _, it := range itemsMentioning(items, digits) {
		if strings.Contains(it, a.AccountID) {
			t.Errorf("A still holds the number: %.400s", it)
		}
	}
	// It stays suppressed, by hash: a re-import or a send skips it.
	a.API.Must(201, "POST", "/v1/contacts", map[string]any{"phone": x})
	if s := a.API.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": x, "text": "again"}); s.Str("status") != "skipped" {
		t.Fatalf("send after erasure: %s", s.Raw)
	}
	if strings.Join(itemsMentioning(scanItems(t, e), b.AccountID), "\n") != strings.Join(bBefore, "\n") {
		t.Error("B changed")
	}
}

func TestPrivacyRestrict(t *testing.T) {
	e := campaignEnv(t)
	e.StartPrivacyWorker()
	a := e.SignUp("restrict@example.com")
	ses := connectedSession(t, a.API)
	seedContacts(t, e, a.AccountID, "r", 5, 0)
	// Pacing of 2,000 s, compressed by the test host to 1 s: the campaign
	// is still sending when the restriction lands.
	newCampaign := func(name string) string {
		return a.API.Must(201, "POST", "/v1/campaigns", map[string]any{"name": name, "session_id": ses, "template": "Hi",
			"audience": map[string]any{"tags": []string{"r"}}, "pacing": map[string]any{"min_interval_s": 2000, "max_interval_s": 2000, "daily_cap": 100, "warm_up": false}}).Str("id")
	}
	running, draft, mine := newCampaign("running"), newCampaign("draft"), newCampaign("paused by me")
	a.API.Must(200, "POST", "/v1/campaigns/"+running+"/start", nil)
	a.API.Must(200, "POST", "/v1/campaigns/"+mine+"/start", nil)
	a.API.Must(200, "POST", "/v1/campaigns/"+mine+"/pause", nil)

	id := a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "restrict"}).Str("id")
	waitPrivacy(t, a.API, id, 30*time.Second)
	acc := a.API.Must(200, "GET", "/v1/account", nil)
	if acc.JSON["restricted"] != true || acc.JSON["restricted_at"] == nil {
		t.Fatalf("account: %s", acc.Raw)
	}
	rc := a.API.Must(200, "GET", "/v1/campaigns/"+running, nil)
	if rc.Str("status") != "paused" || !strings.Contains(string(rc.Raw), "restricted") {
		t.Fatalf("running campaign after restrict: %s", rc.Raw)
	}
	for _, try := range []struct{ method, path string }{
		{"POST", "/v1/campaigns/" + draft + "/start"}, {"POST", "/v1/campaigns/" + mine + "/resume"},
	} {
		r := a.API.Must(403, try.method, try.path, nil)
		if !strings.HasSuffix(r.Str("type"), "/account-restricted") {
			t.Fatalf("%s %s: %s", try.method, try.path, r.Raw)
		}
	}
	s := a.API.Must(403, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915112345678", "text": "hi"})
	if !strings.HasSuffix(s.Str("type"), "/account-restricted") || !strings.Contains(s.Str("detail"), "unrestrict") {
		t.Fatalf("send while restricted: %s", s.Raw)
	}
	// The host does not send what is already queued for a restricted
	// account, once its cached view (at most 5 s old) has caught up.
	time.Sleep(6 * time.Second)
	ctx := tenant.With(context.Background(), a.AccountID)
	now := time.Now().UTC()
	queued := messages.Message{ID: ids.New(ids.Message), AccountID: a.AccountID, SessionID: ses, To: "+4915112345679", Text: "queued before",
		Status: messages.StatusQueued, CreatedAt: now, UpdatedAt: now, History: []messages.Change{{Status: messages.StatusQueued, At: now}}}
	if err := e.Deps.DB.CreateMessage(ctx, queued, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the host's send poll is 2 s
	if m := a.API.Must(200, "GET", "/v1/messages/"+queued.ID, nil); m.Str("status") != "queued" {
		t.Fatalf("a restricted account's message was sent: %s", m.Raw)
	}

	id = a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "unrestrict"}).Str("id")
	un := waitPrivacy(t, a.API, id, 30*time.Second)
	if un.JSON["result"].(map[string]any)["counts"].(map[string]any)["campaigns_resumed"] != 1.0 {
		t.Fatalf("unrestrict: %s", un.Raw)
	}
	waitCampaign(t, a.API, running, time.Minute, func(r apitest.Response) bool { return r.Str("status") == "completed" })
	if m := a.API.Must(200, "GET", "/v1/campaigns/"+mine, nil); m.Str("status") != "paused" {
		t.Fatalf("a campaign the customer paused was resumed: %s", m.Raw)
	}
	waitMessage(t, a.API, queued.ID, "read")
	a.API.Must(202, "POST", "/v1/messages", map[string]any{"session_id": ses, "to": "+4915112345678", "text": "hi"})
	a.API.Must(200, "POST", "/v1/campaigns/"+draft+"/start", nil)
	if acc := a.API.Must(200, "GET", "/v1/account", nil); acc.JSON["restricted"] != false {
		t.Fatalf("account after unrestrict: %s", acc.Raw)
	}
}

// TestPrivacyEraseWithBilling: erasing a paying account deletes its Stripe
// customer and leaves, of the account, only its invoice (the legal
// remainder, said in the result) and the hashed request record.
func TestPrivacyEraseWithBilling(t *testing.T) {
	e, sm := billingEnv(t, nil)
	a := e.SignUp("erase-paying@example.com")
	cus := customerOf(t, e, a)
	subscription(sm, "sub_erase", cus, "active", "price_starter")
	sm.SetObject("in_erase", map[string]any{"customer": cus, "status": "paid", "number": "CS-0042", "amount_paid": 2900,
		"amount_due": 2900, "currency": "eur", "created": time.Now().Unix()})
	body := stripeEvent("evt_erase_paid", "invoice.paid", map[string]any{"id": "in_erase", "object": "invoice", "customer": cus})
	if r := postStripe(e, body, signed(body, whsecNew, time.Now())); r.Status != 200 {
		t.Fatalf("invoice.paid: %d %s", r.Status, r.Raw)
	}
	if r := a.API.Must(200, "GET", "/v1/billing", nil); r.Str("status") != "active" {
		t.Fatalf("billing: %s", r.Raw)
	}

	er := a.API.Must(202, "POST", "/v1/privacy/requests", map[string]any{"type": "erase", "password": a.Password}).Str("id")
	ctx := context.Background()
	if err := e.Deps.Privacy.Handle(ctx, privacy.Job{RequestID: er, AccountID: a.AccountID}); err != nil {
		t.Fatal(err)
	}
	done, err := e.Deps.DB.FindRequest(ctx, er)
	if err != nil || done.Status != privacy.StatusCompleted {
		t.Fatalf("erase: %+v %v", done, err)
	}
	if kept := strings.Join(done.Result.Kept, "\n"); !strings.Contains(kept, "billing record") || !strings.Contains(kept, "10 years") {
		t.Errorf("result does not say the invoice is kept and why: %v", done.Result.Kept)
	}
	if sm.Requests("DELETE", "/v1/customers/"+cus) < 1 {
		t.Errorf("the Stripe customer was not deleted")
	}
	var left []string
	for _, it := range itemsMentioning(scanItems(t, e), a.AccountID) {
		if !strings.Contains(it, `"type":"billing_record"`) {
			left = append(left, it)
		}
	}
	if len(left) != 0 {
		t.Errorf("left of A besides its invoice: %.500v", left)
	}
	if n := len(itemsMentioning(scanItems(t, e), `"type":"billing_record"`)); n != 1 {
		t.Errorf("%d billing records after erasure, want the one invoice", n)
	}
	if strings.Contains(strings.Join(scanItems(t, e), "\n"), cus) {
		t.Errorf("the Stripe customer id is still stored")
	}
}
