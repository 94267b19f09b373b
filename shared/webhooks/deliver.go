package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/netguard"
)

// maxResponseRead caps how much of a receiver's answer is read: only the
// status matters, and a hostile receiver must not make us buffer.
const maxResponseRead = 64 << 10

// HandleJob runs one webhooks queue message: it waits out a long delay in
// 15-minute hops, attempts the delivery, and records the outcome. ctx
// must carry the job's tenant. A job whose delivery has moved on is
// dropped, so duplicate messages never send twice in sequence.
func (s *Service) HandleJob(ctx context.Context, j Job) error {
	now := s.o.Now()
	if wait := j.NotBefore.Sub(now); wait > 0 {
		return s.o.Jobs.EnqueueDelivery(ctx, j, min(wait, s.o.Tuning.MaxDelay))
	}
	log := s.log(ctx).With("delivery_id", j.DeliveryID)
	d, err := s.o.Store.FindWebhookDelivery(ctx, j.DeliveryID)
	if errs.Is(err, errs.NotFound) {
		log.InfoContext(ctx, "webhook job for a missing delivery dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", j.DeliveryID, err)
	}
	if d.Status != StatusPending || len(d.Attempts) != j.Attempt {
		log.DebugContext(ctx, "stale webhook job dropped", "status", string(d.Status), "attempts", len(d.Attempts), "job_attempt", j.Attempt)
		return nil
	}
	log = log.With("endpoint_id", d.EndpointID)
	e, err := s.o.Store.FindWebhookEndpoint(ctx, d.EndpointID)
	switch {
	case errs.Is(err, errs.NotFound):
		return s.finish(ctx, d, StatusFailed, "the endpoint was deleted")
	case err != nil:
		return fmt.Errorf("load endpoint %s: %w", d.EndpointID, err)
	case !e.Enabled:
		reason := "the endpoint is disabled"
		if e.DisabledReason != "" {
			reason += ": " + e.DisabledReason
		}
		return s.finish(ctx, d, StatusFailed, reason)
	}

	a := s.attempt(ctx, e, d)
	d.Attempts = append(d.Attempts, a)
	d.UpdatedAt = s.o.Now().UTC()
	ok := a.StatusCode/100 == 2
	tries := len(d.Attempts) - d.ScheduleFrom
	var delay time.Duration
	switch {
	case ok:
		d.Status, d.NextRetryAt = StatusDelivered, time.Time{}
	case tries <= len(s.o.Tuning.Schedule):
		delay = jitter(s.o.Tuning.Schedule[tries-1])
		d.NextRetryAt = d.UpdatedAt.Add(delay)
	default:
		d.Status, d.NextRetryAt = StatusDead, time.Time{}
	}
	if err := s.o.Store.UpdateWebhookDelivery(ctx, d); err != nil {
		if errs.Is(err, errs.Conflict) {
			log.InfoContext(ctx, "webhook delivery changed during the attempt; outcome dropped")
			return nil
		}
		return fmt.Errorf("record attempt of %s: %w", d.ID, err)
	}
	log.InfoContext(ctx, "webhook attempt", "status_code", a.StatusCode, "latency_ms", a.LatencyMS,
		"attempt", len(d.Attempts), "delivery_status", string(d.Status))
	if d.Status == StatusPending {
		next := Job{AccountID: d.AccountID, DeliveryID: d.ID, Attempt: len(d.Attempts), NotBefore: d.NextRetryAt}
		if err := s.o.Jobs.EnqueueDelivery(ctx, next, min(delay, s.o.Tuning.MaxDelay)); err != nil {
			return fmt.Errorf("schedule retry of %s: %w", d.ID, err)
		}
	}
	return s.recordOutcome(ctx, e.ID, ok, d.Status == StatusDead)
}

// finish ends a delivery without an attempt.
func (s *Service) finish(ctx context.Context, d Delivery, st Status, reason string) error {
	d.Status, d.Reason, d.NextRetryAt, d.UpdatedAt = st, reason, time.Time{}, s.o.Now().UTC()
	if err := s.o.Store.UpdateWebhookDelivery(ctx, d); err != nil && !errs.Is(err, errs.Conflict) {
		return fmt.Errorf("finish delivery %s: %w", d.ID, err)
	}
	return nil
}

// recordOutcome keeps the endpoint's health: a success resets it; a
// failure starts the failing clock; a dead delivery adds to the streak.
// The endpoint is disabled after DisableAfterDead consecutive dead
// deliveries or DisableAfterFailing of nothing but failures. It writes
// only when something changes, not on every failed attempt.
func (s *Service) recordOutcome(ctx context.Context, endpointID string, ok, dead bool) error {
	e, err := s.o.Store.FindWebhookEndpoint(ctx, endpointID)
	if err != nil {
		return nil // deleted meanwhile: nothing to keep
	}
	now := s.o.Now().UTC()
	if ok && e.FailureStreak == 0 && e.FailingSince.IsZero() {
		return nil
	}
	if !ok && !dead && !e.FailingSince.IsZero() && now.Sub(e.FailingSince) < s.o.Tuning.DisableAfterFailing {
		return nil
	}
	_, err = s.modifyEndpoint(ctx, endpointID, func(e *Endpoint) error {
		if ok {
			e.FailureStreak, e.FailingSince = 0, time.Time{}
			return nil
		}
		if e.FailingSince.IsZero() {
			e.FailingSince = now
		}
		if dead {
			e.FailureStreak++
		}
		if !e.Enabled {
			return nil
		}
		switch {
		case e.FailureStreak >= s.o.Tuning.DisableAfterDead:
			e.Enabled, e.DisabledReason = false, fmt.Sprintf("%d consecutive deliveries failed every retry", e.FailureStreak)
		case now.Sub(e.FailingSince) >= s.o.Tuning.DisableAfterFailing:
			e.Enabled, e.DisabledReason = false, fmt.Sprintf("every delivery attempt failed since %s", e.FailingSince.Format(time.RFC3339))
		}
		if !e.Enabled {
			s.log(ctx).WarnContext(ctx, "webhook endpoint disabled", "endpoint_id", e.ID, "reason", e.DisabledReason)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record endpoint health %s: %w", endpointID, err)
	}
	return nil
}

// attempt POSTs the delivery's payload, signed, and reports the outcome.
// It never returns an error: a failure is part of the attempt.
func (s *Service) attempt(ctx context.Context, e Endpoint, d Delivery) (a Attempt) {
	start := s.o.Now()
	a.At = start.UTC()
	defer func() { a.LatencyMS = s.o.Now().Sub(start).Milliseconds() }()
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(d.Payload, &env); err != nil || env.ID == "" {
		a.Error = "stored payload is not an envelope"
		return a
	}
	sig, err := s.signatures(e, env.ID, start, d.Payload)
	if err != nil {
		s.log(ctx).ErrorContext(ctx, "webhook signing failed", "endpoint_id", e.ID, "error", err.Error())
		a.Error = "signing failed"
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(d.Payload))
	if err != nil {
		a.Error = "invalid endpoint URL"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ChatSend-Webhooks/1.0")
	req.Header.Set("webhook-id", env.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := s.o.HTTP.Do(req)
	if err != nil {
		a.Error = attemptError(err)
		return a
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseRead))
	a.StatusCode = res.StatusCode
	if res.StatusCode/100 != 2 {
		a.Error = "HTTP " + strconv.Itoa(res.StatusCode)
	}
	return a
}

// attemptError describes a transport failure for the customer without
// internal detail.
func attemptError(err error) string {
	switch msg := err.Error(); {
	case errors.Is(err, netguard.ErrBlocked):
		return "blocked: the endpoint resolved to a non-public address"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "Client.Timeout"):
		return "timeout after 10 s"
	case strings.Contains(msg, "no such host"):
		return "DNS lookup failed"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:"):
		return "TLS handshake failed"
	default:
		return "connection failed"
	}
}

// signatures returns the webhook-signature header: one "v1,…" per active
// secret, space-separated.
func (s *Service) signatures(e Endpoint, id string, ts time.Time, body []byte) (string, error) {
	sealer, err := s.sealer()
	if err != nil {
		return "", err
	}
	var sigs []string
	for _, sec := range e.Secrets {
		if !sec.ExpiresAt.IsZero() && !sec.ExpiresAt.After(ts) {
			continue
		}
		plain, err := sealer.Open(sec.Sealed, e.ID)
		if err != nil {
			return "", err
		}
		sig, err := Sign(plain, id, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return "", errors.New("no active secret")
	}
	return strings.Join(sigs, " "), nil
}

// jitter spreads d by ±10 % so retries of many deliveries do not align.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
