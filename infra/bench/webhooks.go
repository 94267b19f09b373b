package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/chatsend/chatsend/infra/local"
	"github.com/chatsend/chatsend/shared/app"
	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/ids"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/queue"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/tenant"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// webhookBench measures functions/webhooks' handler on the local stack
// against a loopback receiver answering 204: the drain rate of a backlog
// per number of dispatchers (pollers of the webhooks queue), and the
// event→delivery latency while events arrive at a steady rate.
func webhookBench(r *report, clients awsclient.Clients, n int) error {
	r.add("\n## Webhook delivery\n\nSigned POSTs by `functions/webhooks`' handler to one endpoint (a loopback receiver answering 204) on the local stack.\n\n"+
		"Backlog drain: %d events emitted first, then the dispatchers start.\n\n| dispatchers | deliveries/s | per dispatcher |\n|---|---|---|\n", n)
	for _, d := range []int{1, 2, 4} {
		b, err := newHookBench(clients)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := b.emit(fmt.Sprintf("evt_drain_%d_%d", d, i)); err != nil {
				return err
			}
		}
		start := time.Now()
		b.dispatch(d)
		if err := b.wait(n); err != nil {
			return err
		}
		rate := float64(n) / time.Since(start).Seconds()
		r.add("| %d | %.0f/s | %.0f/s |\n", d, rate, rate/float64(d))
		b.close()
	}
	const steady, perSec = 1000, 100
	b, err := newHookBench(clients)
	if err != nil {
		return err
	}
	defer b.close()
	b.dispatch(1)
	tick := time.NewTicker(time.Second / perSec)
	for i := 0; i < steady; i++ {
		<-tick.C
		if err := b.emit(fmt.Sprintf("evt_steady_%d", i)); err != nil {
			return err
		}
	}
	tick.Stop()
	if err := b.wait(steady); err != nil {
		return err
	}
	lat := b.latencies()
	r.add("\nEvent → delivery latency, %d events at %d/s, one dispatcher: p50 **%s**, p99 **%s**, max %s.\n",
		steady, perSec, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]))
	return nil
}

// hookBench is one endpoint, its receiver and the emitting account.
type hookBench struct {
	deps   *app.Deps
	ctx    context.Context
	cancel context.CancelFunc
	rcv    *httptest.Server
	q      *queue.Queue
	data   json.RawMessage

	mu   sync.Mutex
	sent map[string]time.Time
	lat  []time.Duration
}

func newHookBench(clients awsclient.Clients) (*hookBench, error) {
	ctx, cancel := context.WithCancel(context.Background())
	// Loopback receivers are allowed only in the local stage; each run
	// gets its own emulator tables through a fresh account and endpoint.
	cfg, err := stageConfig("local", map[string]string{"CHATSEND_WEBHOOKS_ALLOW_LOOPBACK": "true"})
	if err == nil {
		err = local.Provision(ctx, clients, cfg.Resources)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	b := &hookBench{deps: app.Build(cfg, clients, logging.Discard()), cancel: cancel, sent: map[string]time.Time{}}
	b.ctx = tenant.With(ctx, ids.New(ids.Account))
	b.rcv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b.mu.Lock()
		if at, ok := b.sent[req.Header.Get("webhook-id")]; ok {
			b.lat = append(b.lat, time.Since(at))
			delete(b.sent, req.Header.Get("webhook-id"))
		}
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	url := b.rcv.URL + "/hook"
	if _, _, err := b.deps.Webhooks.CreateEndpoint(b.ctx, webhooks.EndpointInput{URL: &url, Events: []string{"*"}}); err != nil {
		b.close()
		return nil, err
	}
	q, _ := cfg.Resources.QueueByID(resources.QueueWebhooks)
	b.q = queue.New(clients.SQS, q.Name)
	b.data, _ = json.Marshal(map[string]any{"message_id": "msg_bench", "status": "delivered"})
	return b, nil
}

func (b *hookBench) emit(id string) error {
	b.mu.Lock()
	b.sent[id] = time.Now()
	b.mu.Unlock()
	return b.deps.Webhooks.Emit(b.ctx, webhooks.Envelope{ID: id, Type: "message.delivered", CreatedAt: time.Now().UTC(), Data: b.data}, "")
}

func (b *hookBench) dispatch(n int) {
	for i := 0; i < n; i++ {
		go app.PollSQS(b.ctx, b.q, b.deps.WebhooksHandler(), time.Second, logging.Discard())
	}
}

func (b *hookBench) wait(n int) error {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		got := len(b.lat)
		b.mu.Unlock()
		if got >= n {
			return nil
		}
	}
	return fmt.Errorf("webhook bench: not all %d events delivered in 5 min", n)
}

func (b *hookBench) latencies() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]time.Duration(nil), b.lat...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (b *hookBench) close() {
	b.cancel()
	b.rcv.Close()
}
