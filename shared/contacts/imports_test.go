package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatsend/chatsend/infra/local/localtest"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/objects"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/tenant"
)

// importEnv is the import worker on the local stack: the real table,
// bucket and queue, with a store that can be made to crash.
type importEnv struct {
	t     *testing.T
	db    *dynamo.DB
	store *crashingStore
	q     *queue.Queue
	obj   *objects.Bucket
	acct  string
	ctx   context.Context
}

func newImportEnv(t *testing.T) *importEnv {
	t.Helper()
	c, set := localtest.MustResources(t)
	q, _ := set.QueueByID(resources.QueueImports)
	e := &importEnv{t: t, db: dynamo.New(c.DynamoDB, set.Main.Name, nil), q: queue.New(c.SQS, q.Name), acct: ids.New(ids.Account)}
	for _, b := range set.Buckets {
		if b.ID == resources.BucketImports {
			e.obj = objects.New(c.S3, b.Name)
		}
	}
	e.store = &crashingStore{Store: e.db}
	e.ctx = tenant.With(context.Background(), e.acct)
	return e
}

func (e *importEnv) service(runLimit time.Duration) *contacts.Service {
	return contacts.NewService(contacts.Options{Store: e.store, Objects: e.obj, Imports: queue.ImportJobs{Q: e.q}, ImportRunLimit: runLimit})
}

func (e *importEnv) start(svc *contacts.Service, body string) contacts.ImportJob {
	e.t.Helper()
	job, err := svc.StartImport(e.ctx, "DE", "text/csv; charset=utf-8", []byte(body))
	if err != nil {
		e.t.Fatalf("start import: %v", err)
	}
	return job
}

// drain runs every queued import message, as the Lambda would, until the
// queue is empty; it returns how many messages there were.
func (e *importEnv) drain(svc *contacts.Service) int {
	e.t.Helper()
	n := 0
	for {
		msgs, err := e.q.Receive(context.Background(), 10, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(msgs) == 0 {
			return n
		}
		for _, m := range msgs {
			n++
			if err := svc.HandleImportMessage(context.Background(), m.Body); err != nil {
				e.t.Logf("run failed (the message would be redelivered): %v", err)
				continue
			}
			if err := e.q.Delete(context.Background(), m.Receipt); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func (e *importEnv) job(id string) contacts.ImportJob {
	e.t.Helper()
	j, err := e.service(0).GetImport(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// crashingStore fails ApplyImport from its crashAt-th call on (0: never);
// with writeFirst the failing call still writes, as when a worker dies
// after a commit but before it hears back.
type crashingStore struct {
	contacts.Store
	calls      atomic.Int32
	crashAt    atomic.Int32
	writeFirst bool
}

var errCrash = errors.New("simulated crash")

func (s *crashingStore) ApplyImport(ctx context.Context, from contacts.Checkpoint, entries []contacts.ImportEntry) (int, error) {
	n := s.calls.Add(1)
	if at := s.crashAt.Load(); at > 0 && n >= at {
		if s.writeFirst {
			_, _ = s.Store.ApplyImport(ctx, from, entries)
		}
		return 0, errCrash
	}
	return s.Store.ApplyImport(ctx, from, entries)
}

// contactsCSV returns a header and n rows with phones from first on.
func contactsCSV(first, n int) string {
	var b strings.Builder
	b.WriteString("phone,name,first_name,tags,custom.plan\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "+49151%08d,Name %d,First,\"vip;t%d\",gold\n", i, i, i%5)
	}
	return b.String()
}

func counts(j contacts.ImportJob) string {
	return fmt.Sprintf("%s processed=%d created=%d updated=%d unchanged=%d rejected=%d", j.Status,
		j.Processed, j.Created, j.Updated, j.Unchanged, j.Rejected)
}

func TestImportResumesAfterACrash(t *testing.T) {
	for _, writeFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("write_before_crash=%v", writeFirst), func(t *testing.T) {
			e := newImportEnv(t)
			svc := e.service(0)
			body := contactsCSV(0, 500) + "+49151xx,bad phone,,,\n" + contactsCSV(0, 100)[len("phone,name,first_name,tags,custom.plan\n"):]
			job := e.start(svc, body)
			e.store.writeFirst = writeFirst
			e.store.crashAt.Store(11) // half way through the 601 rows
			e.drain(svc)
			half := e.job(job.ID)
			if half.Status != contacts.ImportRunning || half.Processed == 0 || half.Processed >= 601 {
				t.Fatalf("after the crash: %s", counts(half))
			}
			// The message is redelivered; the job continues at its checkpoint.
			e.store.crashAt.Store(0)
			if err := e.q.SendJSON(context.Background(), contacts.ImportRef{AccountID: e.acct, ImportID: job.ID}, "", ""); err != nil {
				t.Fatal(err)
			}
			e.drain(svc)
			done := e.job(job.ID)
			if got, want := counts(done), "completed processed=601 created=500 updated=0 unchanged=100 rejected=1"; got != want {
				t.Fatalf("after resuming: %s, want %s", got, want)
			}
			if len(done.Errors) != 1 || done.Errors[0].Line != 502 {
				t.Fatalf("errors: %+v", done.Errors)
			}
			page, err := e.db.ListContacts(e.ctx, contacts.Filter{Limit: 500})
			if err != nil || len(page.Contacts) != 500 || page.Next != "" {
				t.Fatalf("contacts after resume: %d (next %q) %v", len(page.Contacts), page.Next, err)
			}
			// A late redelivery of the finished job changes nothing.
			if err := svc.RunImport(context.Background(), contacts.ImportRef{AccountID: e.acct, ImportID: job.ID}); err != nil {
				t.Fatal(err)
			}
			if again := e.job(job.ID); counts(again) != counts(done) {
				t.Fatalf("redelivery after completion: %s", counts(again))
			}
		})
	}
}

// TestImportConcurrentRuns: two workers on the same job (a message
// redelivered while the first run is still going) count every row once.
func TestImportConcurrentRuns(t *testing.T) {
	e := newImportEnv(t)
	svc := e.service(0)
	job := e.start(svc, contactsCSV(0, 800))
	e.drainQueueOnly()
	ref := contacts.ImportRef{AccountID: e.acct, ImportID: job.ID}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- svc.RunImport(context.Background(), ref) }()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && !errors.Is(err, contacts.ErrCheckpointMoved) {
			t.Fatalf("run: %v", err)
		}
	}
	if err := svc.RunImport(context.Background(), ref); err != nil { // the loser's retry
		t.Fatal(err)
	}
	if got, want := counts(e.job(job.ID)), "completed processed=800 created=800 updated=0 unchanged=0 rejected=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}

// drainQueueOnly removes queued messages without running them.
func (e *importEnv) drainQueueOnly() {
	for {
		msgs, err := e.q.Receive(context.Background(), 10, 0)
		if err != nil || len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			_ = e.q.Delete(context.Background(), m.Receipt)
		}
	}
}

// TestImportContinuesInNewRuns: a run that reaches its time limit queues
// the rest of the job as a new message.
func TestImportContinuesInNewRuns(t *testing.T) {
	e := newImportEnv(t)
	svc := e.service(time.Nanosecond) // every run does one chunk, then hands over
	job := e.start(svc, contactsCSV(0, 80))
	runs := e.drain(svc)
	if got, want := counts(e.job(job.ID)), "completed processed=80 created=80 updated=0 unchanged=0 rejected=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	if runs < 4 {
		t.Fatalf("%d runs for 80 rows with a one-chunk limit", runs)
	}
}

// TestImportUpdatesAndConcurrentWrites: imported rows add tags and custom
// fields to existing contacts, and a contact created through the API while
// the import plans its chunk is updated, not duplicated.
func TestImportUpdatesAndConcurrentWrites(t *testing.T) {
	e := newImportEnv(t)
	svc := e.service(0)
	existing, err := svc.CreateContact(e.ctx, "DE", contacts.ContactInput{Phone: "0151 00000001", Name: "Kept", Tags: []string{"old"},
		Custom: map[string]string{"tier": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.store.Store = &racingStore{Store: e.db, svc: svc, ctx: e.ctx}
	job := e.start(svc, "phone,name,tags,custom.plan\n+4915100000001,,new,gold\n+4915100000002,Raced,x,\n+4915100000003,C,,\n")
	e.drain(svc)
	if got, want := counts(e.job(job.ID)), "completed processed=3 created=1 updated=2 unchanged=0 rejected=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	c, err := e.db.FindContactByID(e.ctx, existing.ID)
	if err != nil || c.Name != "Kept" || strings.Join(c.Tags, ",") != "new,old" || c.Custom["tier"] != "1" || c.Custom["plan"] != "gold" {
		t.Fatalf("merged contact: %v %+v", err, c)
	}
	byPhone, _ := e.db.FindContactsByPhone(e.ctx, []string{"+4915100000002"})
	if r := byPhone["+4915100000002"]; r.Name != "Raced" || strings.Join(r.Tags, ",") != "racer,x" {
		t.Fatalf("raced contact: %+v", r)
	}
}

// racingStore creates +4915100000002 through the API right after the
// import looked it up and found nothing, once.
type racingStore struct {
	contacts.Store
	svc  *contacts.Service
	ctx  context.Context
	once sync.Once
}

func (s *racingStore) FindContactsByPhone(ctx context.Context, phones []string) (map[string]contacts.Contact, error) {
	out, err := s.Store.FindContactsByPhone(ctx, phones)
	s.once.Do(func() {
		_, err = s.svc.CreateContact(s.ctx, "", contacts.ContactInput{Phone: "+4915100000002", Tags: []string{"racer"}})
	})
	return out, err
}

func TestImportFileLevelFailures(t *testing.T) {
	e := newImportEnv(t)
	svc := e.service(0)
	job := e.start(svc, "phone,name\n+4915100000001,Ana\n\x00\x01\x02\x03binary")
	e.drain(svc)
	j := e.job(job.ID)
	if j.Status != contacts.ImportFailed || !strings.Contains(j.FailureReason, "NUL") || j.CompletedAt.IsZero() || j.Processed != 0 {
		t.Fatalf("binary file: %s %q", counts(j), j.FailureReason)
	}
	if _, err := e.obj.Get(e.ctx, j.ObjectKey, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("the failed job's file was kept: %v", err)
	}

	for _, tc := range []struct {
		ctype, body string
		code        errs.Code
	}{
		{"text/csv", "", errs.Invalid},
		{"text/csv", "name,email\nA,a@example.com\n", errs.Invalid},
		{"text/csv", "phone,\"na\"me\n", errs.Invalid},
		{"application/json", "phone\n+4915100000001\n", errs.UnsupportedMedia},
		{"text/csv", strings.Repeat("x", contacts.MaxImportBytes+1), errs.TooLarge},
	} {
		if _, err := svc.StartImport(e.ctx, "DE", tc.ctype, []byte(tc.body)); !errs.Is(err, tc.code) {
			t.Errorf("StartImport(%s, %.30q): %v, want %s", tc.ctype, tc.body, err, tc.code)
		}
	}
}
