package host

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/sessions"
)

// sendAttempts is how often a send that fails for an unknown reason is
// tried before the message fails with send_error.
const sendAttempts = 3

// wakeSender tells the session's sender there may be messages to send.
func (r *runner) wakeSender() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sendLoop drains the session's dispatch index while the session is
// connected, one message at a time, spaced by the pacing interval. Wake-ups
// come from the send queue; a slow poll covers lost ones, and the first
// pass after a start or takeover resumes messages a dead host left behind.
func (r *runner) sendLoop() {
	attempts := map[string]int{}
	poll := time.NewTicker(r.h.cfg.SendPoll)
	defer poll.Stop()
	for {
		if r.currentStatus() == sessions.StatusConnected {
			for r.ctx.Err() == nil && r.sendNext(attempts) {
				if !r.pace() {
					return
				}
			}
		}
		select {
		case <-r.ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
		}
	}
}

// pace waits a random interval between the configured bounds (a steady
// rhythm looks like a bot to WhatsApp); false if the runner stopped.
func (r *runner) pace() bool {
	lo, hi := r.h.cfg.SendMinInterval, r.h.cfg.SendMaxInterval
	d := lo
	if hi > lo {
		d += time.Duration(rand.Int64N(int64(hi - lo)))
	}
	select {
	case <-r.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// sendNext sends the session's next message; false when there is none or
// the session cannot send now.
func (r *runner) sendNext(attempts map[string]int) bool {
	ctx := r.ctx
	batch, err := r.h.store.Dispatchable(ctx, r.id, 1)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("dispatch index read failed", "error", err.Error())
		}
		return false
	}
	if len(batch) == 0 {
		return false
	}
	m := batch[0]
	log := r.log.With("message_id", m.ID)
	fenced := func(from []messages.Status, to messages.Status, reason string) error {
		return r.h.store.TransitionFenced(ctx, m.ID, r.id, r.h.cfg.ID, messages.Update{From: from, To: to, Reason: reason, At: r.h.now().UTC()})
	}
	switch m.Status {
	case messages.StatusQueued:
		if err := fenced([]messages.Status{messages.StatusQueued}, messages.StatusSending, ""); err != nil {
			if !errs.Is(err, errs.Conflict) {
				log.Warn("mark sending failed", "error", err.Error())
			}
			return errs.Is(err, errs.Conflict) && r.leaseValid(r.h.now()) // stale index entry: next
		}
	case messages.StatusSending:
		// A host stopped between marking and recording the send. Sending
		// again uses the same WhatsApp id, which WhatsApp treats as the
		// same message, so the recipient still gets it once.
		log.Info("resuming a message left in sending")
	default:
		return true // index lag: already done
	}
	full, err := r.h.store.FindMessage(ctx, m.ID)
	if err != nil {
		log.Warn("message read failed", "error", err.Error())
		return false
	}
	c := r.currentClient()
	if c == nil {
		_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusQueued, "")
		return false
	}
	res, err := c.Send(ctx, wa.Outgoing{ID: messages.WhatsAppID(m.ID), To: m.To, Text: full.Text})
	switch {
	case err == nil:
		delete(attempts, m.ID)
		if err := r.h.store.TransitionFenced(ctx, m.ID, r.id, r.h.cfg.ID, messages.Update{
			From: []messages.Status{messages.StatusSending}, To: messages.StatusSent, At: res.Timestamp.UTC()}); err != nil && !errs.Is(err, errs.Conflict) {
			log.Warn("mark sent failed; the resend after recovery reuses the WhatsApp id", "error", err.Error())
		}
		log.Info("message sent", "whatsapp_id", res.ID)
		return true
	case errors.Is(err, wa.ErrNotOnWhatsApp):
		delete(attempts, m.ID)
		_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusFailed, messages.ReasonNotOnWhatsApp)
		log.Info("recipient not on whatsapp")
		return true
	case errors.Is(err, wa.ErrNotConnected):
		_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusQueued, "")
		return false // resumes when connected
	default:
		attempts[m.ID]++
		if attempts[m.ID] >= sendAttempts {
			delete(attempts, m.ID)
			_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusFailed, messages.ReasonSendError)
			log.Warn("message failed after retries", "error", err.Error())
			return true
		}
		_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusQueued, "")
		log.Warn("send failed; will retry", "attempt", attempts[m.ID], "error", err.Error())
		return false
	}
}

// isSend reports a send wake-up.
func isSend(c hint) bool { return c.Kind == kindSend }

// kindSend marks a wake-up from the send queue.
const kindSend = "send"
