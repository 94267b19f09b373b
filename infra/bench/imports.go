package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/config"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
)

// importProgress is the part of GET /v1/contacts/imports/{id} the bench reads.
type importProgress struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Processed int    `json:"processed"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"`
}

// contactImport uploads a CSV file of rows contacts to the API twice (the
// second run is the idempotent re-import) and measures each from upload to
// completed, with the import worker polling its queue in this process as
// the Lambda's event source mapping would. Wrong counts fail the bench.
func contactImport(r *report, base, key string, cfg config.Config, clients awsclient.Clients, rows int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, _ := cfg.Resources.QueueByID(resources.QueueImports)
	deps := app.Build(cfg, clients, logging.Discard())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.PollSQS(ctx, queue.New(clients.SQS, q.Name), deps.ImportsHandler(), time.Second, logging.Discard())
	}()
	defer func() { cancel(); <-done }()

	var b strings.Builder
	b.WriteString("phone,name,first_name,tags,custom.plan\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "+49151%08d,Name %d,First %d,vip;t%d,gold\n", i, i, i, i%7)
	}
	body := b.String()

	r.add("\n## Contact CSV import\n\n%d rows (%.1f MiB; a name, a first name, two tags and a custom field each) uploaded to "+
		"`POST /v1/contacts/imports` and processed by the import worker on the local stack: chunks of %d rows, each one "+
		"BatchGetItem and one or two TransactWriteItems that carry the job's checkpoint. Time from upload to `completed`.\n\n"+
		"| run | processed | created | updated | unchanged | rejected | time | rows/s |\n|---|---|---|---|---|---|---|---|\n",
		rows, float64(len(body))/(1<<20), 25)
	for _, run := range []struct {
		name string
		want importProgress
	}{
		{"first import", importProgress{Status: "completed", Processed: rows, Created: rows}},
		{"same file again (idempotent)", importProgress{Status: "completed", Processed: rows, Unchanged: rows}},
	} {
		start := time.Now()
		got, err := runImport(base, key, body)
		if err != nil {
			return fmt.Errorf("contact import, %s: %w", run.name, err)
		}
		took := time.Since(start)
		got.ID, run.want.ID = "", ""
		if got != run.want {
			return fmt.Errorf("contact import, %s: got %+v, want %+v", run.name, got, run.want)
		}
		r.add("| %s | %d | %d | %d | %d | %d | %.1f s | **%.0f** |\n", run.name, got.Processed, got.Created, got.Updated,
			got.Unchanged, got.Rejected, took.Seconds(), float64(rows)/took.Seconds())
	}
	return nil
}

// runImport uploads body and polls the job until it ends (10 min at most).
func runImport(base, key, body string) (importProgress, error) {
	client := &http.Client{Timeout: time.Minute}
	call := func(method, path string, body io.Reader, want int) (importProgress, error) {
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			return importProgress{}, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "text/csv")
		res, err := client.Do(req)
		if err != nil {
			return importProgress{}, err
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			return importProgress{}, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		var p importProgress
		return p, json.Unmarshal(raw, &p)
	}
	job, err := call("POST", "/v1/contacts/imports", strings.NewReader(body), 202)
	if err != nil {
		return importProgress{}, err
	}
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		p, err := call("GET", "/v1/contacts/imports/"+job.ID, nil, 200)
		if err != nil {
			return importProgress{}, err
		}
		if p.Status == "completed" || p.Status == "failed" {
			return p, nil
		}
	}
	return importProgress{}, fmt.Errorf("import %s did not finish in 10 minutes", job.ID)
}
