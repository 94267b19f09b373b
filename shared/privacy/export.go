package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// exportFile says where items of a type go in the bundle. Types not listed
// go to "<type>.ndjson", so a new item type is exported without a change
// here; skipped types hold nothing the account gave us beyond what another
// file has (indexes, hashes of secrets, operational counters).
var exportFile = map[string]string{
	"account": "account.json", "user": "users.ndjson", "api_key": "api_keys.ndjson",
	"login_session": "login_sessions.ndjson", "session": "sessions.ndjson", "contact": "contacts.ndjson",
	"campaign": "campaigns.ndjson", "message": "messages.ndjson", "message_body": "message_bodies.ndjson",
	"message_recipient": "message_recipients.ndjson", "suppression": "suppressions.ndjson",
	"webhook_endpoint": "webhook_endpoints.ndjson", "webhook_delivery": "webhook_deliveries.ndjson",
	"audit": "audit_trail.ndjson", "import_job": "imports.ndjson", "import_errors": "import_errors.ndjson",
	"export": "exports.ndjson", TypeBillingRecord: "billing_records.ndjson",
}

// skipTypes are not exported: duplicates and internal state.
var skipTypes = map[string]bool{
	"api_key_hash": true, "email": true, "contact_phone": true, "contact_tag": true, "session_lease": true,
	"session_qr": true, "session_rpc": true, "idempotency_key": true, "pacing_counter": true, "rate_limit": true,
}

// dropAttrs are never exported: storage keys, and secrets or their hashes.
var dropAttrs = map[string]bool{"pk": true, "sk": true, "acct": true, "gsi1pk": true, "gsi1sk": true, "type": true, "ttl": true}

var dropByType = map[string][]string{
	"user": {"password_hash"}, "api_key": {"hash"}, "webhook_endpoint": {"secrets"},
}

// requiredFiles are always in the bundle, empty or not, so a reader finds
// every data class the privacy policy names.
var requiredFiles = []string{"account.json", "users.ndjson", "api_keys.ndjson", "login_sessions.ndjson", "sessions.ndjson",
	"contacts.ndjson", "groups.ndjson", "campaigns.ndjson", "messages.ndjson", "message_bodies.ndjson", "suppressions.ndjson",
	"webhook_endpoints.ndjson", "webhook_deliveries.ndjson", "audit_trail.ndjson", "billing.json", "privacy_requests.json"}

// Manifest describes an export bundle (manifest.json).
type Manifest struct {
	Format        string         `json:"format"`
	FormatVersion int            `json:"format_version"`
	GeneratedAt   time.Time      `json:"generated_at"`
	AccountID     string         `json:"account_id"`
	RequestID     string         `json:"request_id"`
	Files         []ManifestFile `json:"files"`
	Notes         []string       `json:"notes"`
}

// ManifestFile is one file of the bundle.
type ManifestFile struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// exportBundle builds the ZIP, stores it (encrypted) under the account's
// prefix of the exports bucket, records it and presigns a download URL.
// Running it again builds and stores the same bundle again.
func (s *Service) exportBundle(ctx context.Context, j *job) error {
	now := s.o.Now().UTC()
	files := map[string]*bytes.Buffer{}
	counts := map[string]int{}
	write := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if files[name] == nil {
			files[name] = &bytes.Buffer{}
		}
		files[name].Write(b)
		files[name].WriteByte('\n')
		counts[name]++
		return nil
	}
	err := s.o.Store.EachAccountItem(ctx, func(it Item) error {
		if skipTypes[it.Type] {
			return nil
		}
		name := exportFile[it.Type]
		if name == "" {
			name = it.Type + ".ndjson"
		}
		return write(name, exportable(it))
	})
	if err != nil {
		return fmt.Errorf("collect account data: %w", err)
	}
	notes := []string{
		"groups.ndjson is empty: WhatsApp groups are read live from WhatsApp when asked for and are not stored by ChatSend",
		"secrets are never exported: API keys, login tokens and passwords are stored only as hashes; webhook signing secrets are left out",
	}
	billing := map[string]any{"configured": false}
	if s.o.Billing != nil {
		if billing, err = s.o.Billing.ExportBilling(ctx); err != nil {
			return fmt.Errorf("export billing: %w", err)
		}
	} else {
		notes = append(notes, "billing.json: billing is not configured for this deployment")
	}
	if err := write("billing.json", billing); err != nil {
		return err
	}
	reqs, err := s.o.Store.ListRequests(ctx, j.r.Subject)
	if err != nil {
		return fmt.Errorf("list privacy requests: %w", err)
	}
	out := make([]map[string]any, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, map[string]any{"id": r.ID, "type": r.Type, "status": r.Status, "created_at": r.CreatedAt,
			"due_at": r.DueAt, "completed_at": r.CompletedAt})
	}
	if err := write("privacy_requests.json", out); err != nil {
		return err
	}
	counts["privacy_requests.json"] = len(out)
	m := Manifest{Format: "chatsend-account-export", FormatVersion: ExportFormatVersion, GeneratedAt: now,
		AccountID: j.AccountID, RequestID: j.r.ID, Notes: notes}
	for _, name := range requiredFiles {
		if files[name] == nil {
			files[name] = &bytes.Buffer{}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, name := range names {
		m.Files = append(m.Files, ManifestFile{Name: name, Count: counts[name]})
		if err := addZip(zw, name, files[name].Bytes(), now); err != nil {
			return err
		}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := addZip(zw, "manifest.json", mb, now); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("close zip: %w", err)
	}
	key := ExportKey(j.AccountID, j.r.ID)
	if err := s.o.Exports.Put(ctx, key, zbuf.Bytes(), "application/zip"); err != nil {
		return err
	}
	url, err := s.o.Exports.PresignGet(ctx, key, DownloadTTL)
	if err != nil {
		return err
	}
	exp := now.Add(DownloadTTL)
	if err := s.o.Store.PutExport(ctx, ExportRecord{RequestID: j.r.ID, ObjectKey: key, Size: zbuf.Len(), URLExpiresAt: exp, CreatedAt: now}); err != nil {
		return err
	}
	j.r.Result.DownloadURL, j.r.Result.DownloadExpiresAt = url, &exp
	j.r.Result.Counts = map[string]int{}
	for _, f := range m.Files {
		j.r.Result.Counts[f.Name] = f.Count
	}
	return nil
}

// ExportKey is where an export bundle is stored: under the account's
// prefix, which an erasure deletes.
func ExportKey(accountID, requestID string) string {
	return accountID + "/exports/" + requestID + ".zip"
}

// exportable is an item without storage keys and secrets.
func exportable(it Item) map[string]any {
	out := make(map[string]any, len(it.Attrs))
	for k, v := range it.Attrs {
		if !dropAttrs[k] {
			out[k] = v
		}
	}
	for _, k := range dropByType[it.Type] {
		delete(out, k)
	}
	return out
}

func addZip(zw *zip.Writer, name string, body []byte, at time.Time) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: at})
	if err != nil {
		return fmt.Errorf("zip %s: %w", name, err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("zip %s: %w", name, err)
	}
	return nil
}
