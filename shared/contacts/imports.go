package contacts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatsend/chatsend/shared/billing"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/tenant"
)

// ImportIDPrefix starts every import job id ("imp_…"), like the prefixes
// of package ids.
const ImportIDPrefix = ids.Import

// Import processing limits.
const (
	// ImportChunkRows is how many rows are read, looked up and written
	// together (one BatchGetItem; one transaction with the checkpoint).
	ImportChunkRows = 25
	// MaxImportErrors is how many rejected lines a job reports by line.
	MaxImportErrors = 1000
	// maxReasonBytes bounds one error reason.
	maxReasonBytes = 300
	// sniffBytes is how much of a file is checked for being text.
	sniffBytes = 8 << 10
)

// ImportStatus is the state of an import job.
type ImportStatus string

// Import statuses: queued → running → completed, or failed (file-level).
const (
	ImportQueued    ImportStatus = "queued"
	ImportRunning   ImportStatus = "running"
	ImportCompleted ImportStatus = "completed"
	ImportFailed    ImportStatus = "failed"
)

// Terminal reports whether the job has ended.
func (st ImportStatus) Terminal() bool { return st == ImportCompleted || st == ImportFailed }

// ImportRef names a job in a queue message.
type ImportRef struct {
	AccountID string `json:"account_id"`
	ImportID  string `json:"import_id"`
}

// ImportCounts are the row counts of a job. Processed = Created + Updated
// + Unchanged + Rejected.
type ImportCounts struct {
	Processed, Created, Updated, Unchanged, Rejected int
}

// ImportError is one rejected line.
type ImportError struct {
	Line   int
	Reason string
}

// ImportJob is one CSV import.
type ImportJob struct {
	ID        string
	AccountID string
	Status    ImportStatus
	// Region reads phone numbers without a country code (the account's
	// default region when the file was uploaded).
	Region string
	// Columns maps each CSV column to a field: phone, name, first_name,
	// tags or custom.<key>.
	Columns []string
	// ObjectKey is the uploaded file in the imports bucket.
	ObjectKey string
	Size      int64
	// Checkpoint is where processing continues.
	Checkpoint Checkpoint
	ImportCounts
	// StoredErrors counts the errors stored by line (at most
	// MaxImportErrors); Errors holds them when read for the API.
	StoredErrors int
	Errors       []ImportError
	// FailureReason says why a failed job failed.
	FailureReason string
	CreatedAt     time.Time
	StartedAt     time.Time
	CompletedAt   time.Time
	UpdatedAt     time.Time
}

// ContactWrite is one contact change: a new contact (Old nil) or a new
// version of an existing one.
type ContactWrite struct {
	Old *Contact
	New Contact
}

// ImportEntry is one processed row of an import: what to write, the error
// to report, and the job as it stands once the row is done.
type ImportEntry struct {
	Line     int
	Write    *ContactWrite // nil when the row changes nothing or is rejected
	Error    *ImportError  // a rejected row's error, nil beyond MaxImportErrors
	JobAfter ImportJob
}

// Import field names, as CSV header columns.
const (
	colPhone     = "phone"
	colName      = "name"
	colFirstName = "first_name"
	colTags      = "tags"
	colCustom    = "custom."
)

// ParseHeader maps a CSV header row to fields. Column names are matched
// case-insensitively: phone (required), name, first_name, tags and
// custom.<field>.
func ParseHeader(fields []string) ([]string, error) {
	cols := make([]string, len(fields))
	var unknown, dup []string
	seen := map[string]bool{}
	custom := 0
	for i, f := range fields {
		c := strings.ToLower(strings.TrimSpace(f))
		if i == 0 {
			c = strings.TrimPrefix(c, "\ufeff") // a byte order mark from spreadsheet exports
		}
		switch {
		case c == colPhone, c == colName, c == colFirstName, c == colTags:
		case strings.HasPrefix(c, colCustom) && CheckCustomKey(strings.TrimPrefix(c, colCustom)) == "":
			custom++
		case strings.HasPrefix(c, colCustom):
			return nil, errs.InvalidFields(errs.FieldError{Field: "body",
				Message: fmt.Sprintf("column %q: custom field names must be %s", truncate(f, 60), customKeyRuleDesc)})
		default:
			unknown = append(unknown, fmt.Sprintf("%q", truncate(f, 60)))
			continue
		}
		if seen[c] {
			dup = append(dup, c)
		}
		seen[c] = true
		cols[i] = c
	}
	var fc errs.Fields
	if len(unknown) > 0 {
		fc.Add("body", fmt.Sprintf("unknown columns %s; the header row may name phone, name, first_name, tags and custom.<field>",
			strings.Join(unknown, ", ")))
	}
	if len(dup) > 0 {
		fc.Add("body", "columns appear more than once: "+strings.Join(dup, ", "))
	}
	if !seen[colPhone] {
		fc.Add("body", "the header row has no phone column")
	}
	if custom > MaxCustomFields {
		fc.Add("body", fmt.Sprintf("at most %d custom.<field> columns", MaxCustomFields))
	}
	if err := fc.Err(); err != nil {
		return nil, err
	}
	return cols, nil
}

// StartImport checks an uploaded CSV file's header, stores the file and
// the job, and queues the job. region is the account's default region.
func (s *Service) StartImport(ctx context.Context, region, contentType string, body []byte) (ImportJob, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || (mt != "text/csv" && mt != "application/csv") {
		return ImportJob{}, errs.E(errs.UnsupportedMedia, "send the CSV file itself as the body, with Content-Type: text/csv")
	}
	if len(body) > MaxImportBytes {
		return ImportJob{}, errs.E(errs.TooLarge, "the CSV file is larger than 10 MiB; split it into several imports")
	}
	acct, err := tenant.AccountID(ctx)
	if err != nil {
		return ImportJob{}, err
	}
	cols, data, err := readHeader(ctx, body)
	if err != nil {
		return ImportJob{}, err
	}
	now := s.now().UTC()
	id := ids.New(ImportIDPrefix)
	job := ImportJob{ID: id, AccountID: acct, Status: ImportQueued, Region: region, Columns: cols,
		ObjectKey: acct + "/" + id + ".csv", Size: int64(len(body)), Checkpoint: data, CreatedAt: now, UpdatedAt: now}
	if err := s.objects.Put(ctx, job.ObjectKey, body, "text/csv"); err != nil {
		return ImportJob{}, fmt.Errorf("start import: %w", err)
	}
	if err := s.store.CreateImportJob(ctx, job); err != nil {
		return ImportJob{}, fmt.Errorf("start import: %w", err)
	}
	log := logging.Or(ctx, s.log).With("import_id", id)
	if err := s.imports.EnqueueImport(ctx, ImportRef{AccountID: acct, ImportID: id}); err != nil {
		s.fail(ctx, log, job, "the import could not be queued; upload the file again")
		return ImportJob{}, fmt.Errorf("start import: %w", err)
	}
	log.InfoContext(ctx, "import queued", "bytes", len(body), "columns", len(cols))
	return job, nil
}

// readHeader parses the header row and returns the columns and where the
// data starts.
func readHeader(ctx context.Context, body []byte) ([]string, Checkpoint, error) {
	open := func(_ context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(body[off:])), nil
	}
	st := newCSVStream(ctx, open, int64(len(body)), Checkpoint{Offset: 0, Line: 1})
	defer st.Close()
	rec, err := st.next()
	switch {
	case err == io.EOF:
		return nil, Checkpoint{}, errs.InvalidFields(errs.FieldError{Field: "body", Message: "the CSV file is empty; it needs a header row"})
	case err != nil:
		return nil, Checkpoint{}, err
	case rec.reason != "":
		return nil, Checkpoint{}, errs.InvalidFields(errs.FieldError{Field: "body", Message: "the header row (line 1): " + rec.reason})
	case rec.line != 1:
		return nil, Checkpoint{}, errs.InvalidFields(errs.FieldError{Field: "body", Message: "the header row must be the first line"})
	}
	cols, err := ParseHeader(rec.fields)
	return cols, rec.end, err
}

// GetImport returns a job with its first MaxImportErrors errors by line.
func (s *Service) GetImport(ctx context.Context, id string) (ImportJob, error) {
	if !ids.Valid(ImportIDPrefix, id) {
		return ImportJob{}, errs.E(errs.NotFound, "no import %q", truncate(id, 64))
	}
	job, err := s.store.FindImportJob(ctx, id)
	if err != nil {
		return ImportJob{}, err
	}
	if job.StoredErrors == 0 {
		return job, nil // clients poll this: one read when there is nothing to list
	}
	if job.Errors, err = s.store.ImportErrors(ctx, id); err != nil {
		return ImportJob{}, fmt.Errorf("get import: %w", err)
	}
	return job, nil
}

// HandleImportMessage runs the job named by a queue message body (an
// ImportRef as JSON). A malformed message is dropped (logged), since
// retrying cannot fix it.
func (s *Service) HandleImportMessage(ctx context.Context, body string) error {
	var ref ImportRef
	if err := json.Unmarshal([]byte(body), &ref); err != nil || ref.AccountID == "" || !ids.Valid(ImportIDPrefix, ref.ImportID) {
		s.log.WarnContext(ctx, "import message dropped: malformed", "bytes", len(body))
		return nil
	}
	return s.RunImport(ctx, ref)
}

// RunImport processes a job from its checkpoint: chunks of rows are read,
// looked up and written together with the job's new checkpoint and counts
// in one atomic write, so a job that stops anywhere resumes exactly where
// its last chunk ended and counts every row once. A redelivered message
// of a finished job does nothing. The run ends at the end of the file, or
// when its time is up (then a new message continues the job).
func (s *Service) RunImport(ctx context.Context, ref ImportRef) error {
	ctx = tenant.With(ctx, ref.AccountID)
	log := s.log.With("tenant_id", ref.AccountID, "import_id", ref.ImportID)
	job, err := s.store.FindImportJob(ctx, ref.ImportID)
	if errs.Is(err, errs.NotFound) {
		log.WarnContext(ctx, "import message dropped: no such job")
		return nil
	}
	if err != nil {
		return fmt.Errorf("run import %s: %w", ref.ImportID, err)
	}
	if job.Status.Terminal() {
		return nil
	}
	deadline := s.runDeadline(ctx)
	if job.Status == ImportQueued {
		if reason, err := s.sniff(ctx, job); err != nil {
			return fmt.Errorf("run import %s: %w", job.ID, err)
		} else if reason != "" {
			s.fail(ctx, log, job, reason)
			return nil
		}
		from := job.Checkpoint
		job.Status, job.StartedAt, job.UpdatedAt = ImportRunning, s.now().UTC(), s.now().UTC()
		if err := s.store.SaveImportJob(ctx, job, from); err != nil {
			return s.runErr(ctx, log, job, err)
		}
		log.InfoContext(ctx, "import started", "bytes", job.Size)
	}

	objectKey := job.ObjectKey // the reader runs beside the writer, which updates job
	open := func(ctx context.Context, off int64) (io.ReadCloser, error) { return s.objects.Get(ctx, objectKey, off) }
	st := newCSVStream(ctx, open, job.Size, job.Checkpoint)
	defer st.Close()
	rd := &rowReader{st: st, columns: job.Columns, region: job.Region}
	// While one chunk is written, the next is read and looked up.
	allow := int64(-1) // contacts this run may still create; -1 = unlimited
	if s.quota != nil {
		if allow, err = s.quota.Remaining(ctx, billing.LimitContacts); err != nil {
			return s.runErr(ctx, log, job, err)
		}
	}
	pending := s.prepare(ctx, rd, nil)
	defer func() {
		if pending != nil {
			<-pending // the reader must be done before the file closes
		}
	}()
	for chunks := 0; ; chunks++ {
		next := <-pending
		pending = nil
		if next.err != nil {
			return s.runErr(ctx, log, job, next.err)
		}
		if len(next.rows) == 0 {
			break
		}
		// Every run does at least one chunk, so a job always advances.
		if chunks > 0 && !deadline.IsZero() && s.now().After(deadline) {
			if err := s.imports.EnqueueImport(ctx, ref); err != nil {
				return fmt.Errorf("continue import %s: %w", job.ID, err)
			}
			log.InfoContext(ctx, "import continues in a new run", "processed", job.Processed)
			return nil
		}
		pending = s.prepare(ctx, rd, next.rows)
		if err := s.applyChunk(ctx, &job, next.rows, next.existing, &allow); err != nil {
			return s.runErr(ctx, log, job, err)
		}
	}
	from := job.Checkpoint
	now := s.now().UTC()
	job.Status, job.CompletedAt, job.UpdatedAt = ImportCompleted, now, now
	if err := s.store.SaveImportJob(ctx, job, from); err != nil {
		return s.runErr(ctx, log, job, err)
	}
	s.deleteFile(ctx, log, job)
	s.publishCompleted(ctx, log, job)
	log.InfoContext(ctx, "import completed", "processed", job.Processed, "created", job.Created, "updated", job.Updated,
		"unchanged", job.Unchanged, "rejected", job.Rejected)
	return nil
}

// ImportCompletedData is the data of a contacts.import.completed event.
type ImportCompletedData struct {
	ImportID  string    `json:"import_id"`
	Processed int       `json:"processed"`
	Created   int       `json:"created"`
	Updated   int       `json:"updated"`
	Unchanged int       `json:"unchanged"`
	Rejected  int       `json:"rejected"`
	At        time.Time `json:"at"`
}

// publishCompleted reports a finished import (its event id is the import's).
func (s *Service) publishCompleted(ctx context.Context, log *slog.Logger, job ImportJob) {
	if s.events == nil {
		return
	}
	e, err := events.New(events.ImportCompleted, job.AccountID, "", job.CompletedAt, ImportCompletedData{ImportID: job.ID,
		Processed: job.Processed, Created: job.Created, Updated: job.Updated, Unchanged: job.Unchanged, Rejected: job.Rejected,
		At: job.CompletedAt}, job.ID)
	if err == nil {
		err = s.events.Publish(ctx, e)
	}
	if err != nil {
		log.WarnContext(ctx, "contacts.import.completed publish failed", "error", err.Error())
	}
}

// runDeadline is when a run stops taking new chunks.
func (s *Service) runDeadline(ctx context.Context) time.Time {
	var d time.Time
	if s.runLimit > 0 {
		d = s.now().Add(s.runLimit)
	}
	if dl, ok := ctx.Deadline(); ok {
		dl = dl.Add(-20 * time.Second) // time to finish the chunk and queue the rest
		if d.IsZero() || dl.Before(d) {
			d = dl
		}
	}
	return d
}

// runErr reports a run that stopped early. A moved checkpoint means
// another run of the same job is ahead of this one (a redelivered
// message); it is an error so this message is retried, and a retry of a
// finished job does nothing.
func (s *Service) runErr(ctx context.Context, log *slog.Logger, job ImportJob, err error) error {
	if errors.Is(err, ErrCheckpointMoved) {
		log.WarnContext(ctx, "import advanced by another run; stopping this one", "line", job.Checkpoint.Line)
	}
	return fmt.Errorf("run import %s at line %d: %w", job.ID, job.Checkpoint.Line, err)
}

// sniff checks that the file starts as text: NUL bytes or invalid UTF-8
// mean a binary file (or UTF-16 text), not a CSV file.
func (s *Service) sniff(ctx context.Context, job ImportJob) (string, error) {
	rc, err := s.objects.Get(ctx, job.ObjectKey, 0)
	if errs.Is(err, errs.NotFound) {
		return "the uploaded file is gone; upload it again", nil
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	head, err := io.ReadAll(io.LimitReader(rc, sniffBytes))
	if err != nil {
		return "", fmt.Errorf("read import file: %w", err)
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "the file is not a CSV text file: it contains NUL bytes (binary data, or UTF-16 text; save it as UTF-8 CSV)", nil
	}
	if len(head) == sniffBytes { // the last rune may be cut off
		for i := 0; i < utf8.UTFMax && len(head) > 0 && !utf8.Valid(head); i++ {
			head = head[:len(head)-1]
		}
	}
	if !utf8.Valid(head) {
		return "the file is not UTF-8 text; save it as UTF-8 CSV", nil
	}
	return "", nil
}

// fail marks a job failed with a reason (best effort: the reason is also
// logged) and deletes its file.
func (s *Service) fail(ctx context.Context, log *slog.Logger, job ImportJob, reason string) {
	from := job.Checkpoint
	now := s.now().UTC()
	job.Status, job.FailureReason, job.CompletedAt, job.UpdatedAt = ImportFailed, reason, now, now
	if err := s.store.SaveImportJob(ctx, job, from); err != nil {
		log.WarnContext(ctx, "import failure not recorded", "reason", reason, "error", err.Error())
		return
	}
	log.WarnContext(ctx, "import failed", "reason", reason)
	s.deleteFile(ctx, log, job)
}

func (s *Service) deleteFile(ctx context.Context, log *slog.Logger, job ImportJob) {
	// The bucket's lifecycle rule removes a file left behind within days.
	if err := s.objects.Delete(ctx, job.ObjectKey); err != nil {
		log.WarnContext(ctx, "import file not deleted", "error", err.Error())
	}
}

// prepared is the next chunk, read and looked up ahead of time.
type prepared struct {
	rows     []importRow
	existing map[string]Contact // nil: look the rows up when they are applied
	err      error
}

// prepare reads the next chunk and looks up its contacts in the
// background, while the previous chunk (after) is being written. A chunk
// that shares a phone number with the previous one is looked up only when
// that one is written, or it would read the number before its contact
// exists.
func (s *Service) prepare(ctx context.Context, rd *rowReader, after []importRow) <-chan prepared {
	ch := make(chan prepared, 1)
	go func() {
		rows, err := rd.chunk(ImportChunkRows)
		p := prepared{rows: rows, err: err}
		if err == nil && len(rows) > 0 && !sharePhone(rows, after) {
			p.existing, p.err = s.lookup(ctx, rows)
		}
		ch <- p
	}()
	return ch
}

func sharePhone(a, b []importRow) bool {
	seen := make(map[string]bool, len(b))
	for _, r := range b {
		seen[r.phone] = r.reason == ""
	}
	for _, r := range a {
		if r.reason == "" && seen[r.phone] {
			return true
		}
	}
	return false
}

// applyChunk writes a chunk of rows with the job's progress and advances
// job. The store writes as many rows per atomic write as fit; a contact
// that changed since it was read (a concurrent API write) makes the rest
// of the chunk be looked up and planned again.
func (s *Service) applyChunk(ctx context.Context, job *ImportJob, rows []importRow, existing map[string]Contact, allow *int64) error {
	var err error
	if existing == nil {
		existing, err = s.lookup(ctx, rows)
	}
	var entries []ImportEntry
	if err == nil {
		entries = s.plan(*job, rows, existing, *allow)
	}
	for retries := 0; err == nil && len(entries) > 0; {
		var n int
		n, err = s.store.ApplyImport(ctx, job.Checkpoint, entries)
		if errors.Is(err, ErrStale) && retries < 5 {
			retries++
			if existing, err = s.lookup(ctx, rows); err == nil {
				entries = s.plan(*job, rows, existing, *allow)
			}
			continue
		}
		if err == nil {
			if *allow >= 0 {
				for _, e := range entries[:n] {
					if e.Write != nil && e.Write.Old == nil {
						*allow--
					}
				}
			}
			*job = entries[n-1].JobAfter
			entries, rows = entries[n:], rows[n:]
		}
	}
	return err
}

// lookup reads the stored contacts of the rows' phone numbers.
func (s *Service) lookup(ctx context.Context, rows []importRow) (map[string]Contact, error) {
	phones := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.reason == "" {
			phones = append(phones, r.phone)
		}
	}
	if len(phones) == 0 {
		return map[string]Contact{}, nil
	}
	existing, err := s.store.FindContactsByPhone(ctx, phones)
	if err != nil {
		return nil, fmt.Errorf("look up contacts: %w", err)
	}
	return existing, nil
}

// plan decides what each row does to the stored contacts and how the job
// stands after it.
// allow is how many contacts the plan lets the rows create (-1: no
// limit); rows beyond it are rejected with the plan-limit reason.
func (s *Service) plan(job ImportJob, rows []importRow, existing map[string]Contact, allow int64) []ImportEntry {
	now := s.now().UTC()
	entries := make([]ImportEntry, len(rows))
	for i, r := range rows {
		e := ImportEntry{Line: r.line}
		reason := r.reason
		if reason == "" {
			var old *Contact
			if c, ok := existing[r.phone]; ok {
				old = &c
			}
			var next Contact
			next, reason = merge(job.AccountID, old, r, now)
			switch {
			case reason != "":
			case old == nil && allow == 0:
				reason = "plan limit reached: the plan allows no more contacts; upgrade the plan (POST /v1/billing/checkout)"
			case old == nil:
				allow--
				job.Created++
				e.Write = &ContactWrite{New: next}
			case sameContent(*old, next):
				job.Unchanged++
			default:
				job.Updated++
				e.Write = &ContactWrite{Old: old, New: next}
			}
		}
		if reason != "" {
			job.Rejected++
			if job.StoredErrors < MaxImportErrors {
				job.StoredErrors++
				e.Error = &ImportError{Line: r.line, Reason: truncate(reason, maxReasonBytes)}
			}
		}
		job.Processed++
		job.Checkpoint, job.UpdatedAt = r.end, now
		e.JobAfter = job
		entries[i] = e
	}
	return entries
}

// importRow is one parsed data row.
type importRow struct {
	line      int
	end       Checkpoint
	reason    string // rejected when set
	phone     string
	name      *string // nil: no column or an empty cell, keeps the stored value
	firstName *string
	tags      []string
	custom    map[string]string
}

// rowReader turns records into rows, in chunks whose phone numbers are
// distinct: a number seen again ends the chunk, so its second row is
// looked up after the first is written and becomes an update.
type rowReader struct {
	st      *csvStream
	columns []string
	region  string
	held    *importRow
}

func (rd *rowReader) chunk(n int) ([]importRow, error) {
	rows := make([]importRow, 0, n)
	phones := map[string]bool{}
	for len(rows) < n {
		var r importRow
		if rd.held != nil {
			r, rd.held = *rd.held, nil
		} else {
			rec, err := rd.st.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			r = parseRow(rec, rd.columns, rd.region)
		}
		if r.reason == "" && phones[r.phone] {
			rd.held = &r
			break
		}
		phones[r.phone] = r.reason == ""
		rows = append(rows, r)
	}
	return rows, nil
}

// parseRow validates a record against the header's columns.
func parseRow(rec csvRecord, cols []string, region string) importRow {
	r := importRow{line: rec.line, end: rec.end, reason: rec.reason}
	if r.reason != "" {
		return r
	}
	if len(rec.fields) != len(cols) {
		r.reason = fmt.Sprintf("the row has %d fields; the header has %d columns", len(rec.fields), len(cols))
		return r
	}
	reject := func(col, msg string) importRow {
		r.reason = col + ": " + msg
		return r
	}
	for i, col := range cols {
		v := strings.TrimSpace(rec.fields[i])
		if !utf8.ValidString(v) {
			return reject(col, "not valid UTF-8")
		}
		switch {
		case col == colPhone:
			var msg string
			if r.phone, msg = NormalizePhone(v, region); msg != "" {
				return reject(col, msg)
			}
		case col == colName || col == colFirstName:
			max := MaxNameLength
			if col == colFirstName {
				max = MaxFirstNameLength
			}
			if msg := CheckName(col, v, max); msg != "" {
				return reject(col, msg)
			}
			if v != "" {
				if col == colName {
					r.name = &v
				} else {
					r.firstName = &v
				}
			}
		case col == colTags:
			parts := strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' })
			kept := parts[:0]
			for _, p := range parts {
				if strings.TrimSpace(p) != "" {
					kept = append(kept, p)
				}
			}
			tags, msg := NormalizeTags(kept)
			if msg != "" {
				return reject(col, msg)
			}
			r.tags = tags
		default: // custom.<key>
			if v == "" {
				continue
			}
			key := strings.TrimPrefix(col, colCustom)
			if msg := checkCustomValue(key, v); msg != "" {
				return reject(col, msg)
			}
			if r.custom == nil {
				r.custom = map[string]string{}
			}
			r.custom[key] = v
		}
	}
	return r
}

// merge applies an import row to the existing contact (nil: a new one).
// Imports add: they set the fields whose cells are not empty, add tags to
// the contact's tags and custom fields to its custom fields, and never
// remove anything, so the same file imported twice changes nothing.
func merge(acct string, old *Contact, r importRow, now time.Time) (Contact, string) {
	var c Contact
	if old == nil {
		c = Contact{ID: ids.New(ids.Contact), AccountID: acct, Phone: r.phone, CreatedAt: now, UpdatedAt: now}
	} else {
		c = *old
		c.Tags, c.Custom = slices.Clone(old.Tags), maps.Clone(old.Custom)
	}
	if r.name != nil {
		c.Name = *r.name
	}
	if r.firstName != nil {
		c.FirstName = *r.firstName
	}
	if len(r.tags) > 0 {
		c.Tags = slices.Compact(slices.Sorted(slices.Values(append(c.Tags, r.tags...))))
		if len(c.Tags) > MaxTags {
			return Contact{}, fmt.Sprintf("tags: the contact would have more than %d tags", MaxTags)
		}
	}
	if len(r.custom) > 0 {
		if c.Custom == nil {
			c.Custom = map[string]string{}
		}
		maps.Copy(c.Custom, r.custom)
		if len(c.Custom) > MaxCustomFields {
			return Contact{}, fmt.Sprintf("custom: the contact would have more than %d custom fields", MaxCustomFields)
		}
	}
	if old != nil && !sameContent(*old, c) {
		c.UpdatedAt = later(now, old.UpdatedAt)
	}
	return c, ""
}
