package host

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/chatsend/chatsend/session-host/wa"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/messages"
	"github.com/chatsend/chatsend/shared/netguard"
	"github.com/chatsend/chatsend/shared/sessions"
)

// sendAttempts is how often a send that fails for an unknown reason is
// tried before the message fails with send_error.
const sendAttempts = 3

// kindSend marks a wake-up from the send queue.
const kindSend = "send"

// isSend reports a send wake-up.
func isSend(c hint) bool { return c.Kind == kindSend }

// wakeSender tells the session's sender there may be messages to send.
func (r *runner) wakeSender() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sendLoop drains the session's dispatch index while the session is
// connected, one message at a time: single messages first, then running
// campaigns in turn, each paced by its own settings. Wake-ups come from the
// send queue; a slow poll covers lost ones, and the first pass after a
// start or takeover resumes messages a dead host left behind.
func (r *runner) sendLoop() {
	attempts := map[string]int{}
	poll := time.NewTicker(r.h.cfg.SendPoll)
	defer poll.Stop()
	for {
		if r.currentStatus() == sessions.StatusConnected {
			for r.ctx.Err() == nil {
				pause, ok := r.sendNext(attempts)
				if !ok {
					break
				}
				select {
				case <-r.ctx.Done():
					return
				case <-time.After(pause):
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

// interval draws a random pause between lo and hi: a steady rhythm looks
// like a bot to WhatsApp.
func interval(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// sendNext sends the session's next message and returns the pause before
// the one after; false when nothing can be sent now.
func (r *runner) sendNext(attempts map[string]int) (time.Duration, bool) {
	m, c, ok := r.pick()
	if !ok {
		return 0, false
	}
	if !r.sendOne(m, attempts) {
		return 0, false
	}
	if c == nil {
		return interval(r.h.cfg.SendMinInterval, r.h.cfg.SendMaxInterval), true
	}
	if r.h.cfg.CampaignIntervalScale > 0 { // tests compress campaign pacing
		return interval(time.Duration(float64(c.Pacing.MinIntervalS)*r.h.cfg.CampaignIntervalScale*float64(time.Second)),
			time.Duration(float64(c.Pacing.MaxIntervalS)*r.h.cfg.CampaignIntervalScale*float64(time.Second))), true
	}
	return interval(time.Duration(c.Pacing.MinIntervalS)*time.Second, time.Duration(c.Pacing.MaxIntervalS)*time.Second), true
}

// pick chooses the next message: a single message if any, else the next
// message of the running campaigns in turn, skipping campaigns in quiet
// hours or over their daily cap (with the warm-up ramp). Paused and
// cancelled campaigns are not running, so pausing takes effect before the
// next send.
func (r *runner) pick() (messages.Message, *campaigns.Campaign, bool) {
	ctx := r.ctx
	if r.accountRestricted() {
		return messages.Message{}, nil, false
	}
	ms, err := r.h.store.Dispatchable(ctx, r.id, messages.SingleLane, 1)
	if err != nil {
		r.logErr("dispatch index read failed", err)
		return messages.Message{}, nil, false
	}
	if len(ms) > 0 {
		return ms[0], nil, true
	}
	running, err := r.h.store.RunningCampaigns(ctx, r.id)
	if err != nil || len(running) == 0 {
		r.logErr("running campaigns read failed", err)
		return messages.Message{}, nil, false
	}
	now := r.h.now().In(r.timeZone())
	for i := range running {
		c := running[(r.turn+i)%len(running)]
		if inQuietHours(c.Pacing, now) {
			continue
		}
		ms, err := r.h.store.Dispatchable(ctx, r.id, campaigns.Lane(c.ID), 1)
		if err != nil {
			r.logErr("dispatch index read failed", err)
			return messages.Message{}, nil, false
		}
		if len(ms) == 0 {
			if c.FanoutDone {
				if done, err := r.h.store.CompleteIfDone(ctx, c.ID, r.h.now().UTC()); err == nil && done {
					r.log.Info("campaign completed", "campaign_id", c.ID)
					r.publishCompleted(c.ID)
				}
			}
			continue
		}
		if ms[0].Status == messages.StatusQueued { // a resumed send was counted already
			ok, err := r.h.store.CountDailySend(ctx, r.id, now.Format(time.DateOnly), dailyLimit(c.Pacing, r.pairedAt(), now))
			if err != nil {
				r.logErr("daily cap count failed", err)
				return messages.Message{}, nil, false
			}
			if !ok {
				continue // cap reached for today
			}
		}
		r.turn = (r.turn + i + 1) % len(running)
		return ms[0], &c, true
	}
	return messages.Message{}, nil, false
}

// dailyLimit is the campaign's daily cap, ramped up for a newly paired
// number: 20 sends on its first day, doubling each day.
func dailyLimit(p campaigns.Pacing, pairedAt, now time.Time) int {
	if !p.WarmUp || pairedAt.IsZero() {
		return p.DailyCap
	}
	days := int(now.Sub(pairedAt) / (24 * time.Hour))
	if days >= 10 {
		return p.DailyCap
	}
	return min(p.DailyCap, 20<<days)
}

// inQuietHours reports whether local is inside the campaign's quiet window
// (which may wrap midnight, e.g. 22:00–08:00).
func inQuietHours(p campaigns.Pacing, local time.Time) bool {
	if p.QuietStart == "" {
		return false
	}
	cur := local.Format("15:04")
	if p.QuietStart <= p.QuietEnd {
		return cur >= p.QuietStart && cur < p.QuietEnd
	}
	return cur >= p.QuietStart || cur < p.QuietEnd
}

func (r *runner) pairedAt() time.Time {
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	return r.obs.PairedAt
}

// restrictionTTL bounds how long a restriction can go unnoticed by a
// sending session: one account read per session per interval.
const restrictionTTL = 5 * time.Second

// accountRestricted reports whether the account restricted processing
// (a privacy request). Queued messages then stay queued, unsent, until an
// unrestrict. A failed read keeps the last answer.
func (r *runner) accountRestricted() bool {
	if r.h.now().Before(r.restrictedUntil) {
		return r.restricted
	}
	r.restrictedUntil = r.h.now().Add(restrictionTTL)
	if a, err := r.h.store.FindAccount(r.ctx); err == nil {
		r.restricted = a.Restricted()
	} else if !errs.Is(err, errs.NotFound) { // no account item: nothing restricts it

		r.logErr("account read failed", err)
	}
	return r.restricted
}

// timeZone is the account's time zone, read at most once a minute.
func (r *runner) timeZone() *time.Location {
	if r.tz != nil && r.h.now().Before(r.tzUntil) {
		return r.tz
	}
	r.tz, r.tzUntil = time.UTC, r.h.now().Add(time.Minute)
	if a, err := r.h.store.FindAccount(r.ctx); err == nil {
		if loc, err := time.LoadLocation(a.TimeZone); err == nil {
			r.tz = loc
		}
	}
	return r.tz
}

func (r *runner) logErr(msg string, err error) {
	if err != nil && r.ctx.Err() == nil {
		r.log.Warn(msg, "error", err.Error())
	}
}

// sendOne sends one message; false when the session cannot send now.
func (r *runner) sendOne(m messages.Message, attempts map[string]int) bool {
	ctx := r.ctx
	log := r.log.With("message_id", m.ID)
	// cur tracks the status this sender last wrote, so each transition
	// needs no read first.
	cur := m
	move := func(to messages.Status, reason string, at time.Time) error {
		err := r.h.store.TransitionFenced(ctx, cur, r.h.cfg.ID, messages.Update{From: []messages.Status{cur.Status}, To: to, Reason: reason, At: at})
		if err != nil {
			return err
		}
		cur.Status = to
		if to == messages.StatusSent || to == messages.StatusFailed {
			if err := events.PublishMessageStatus(ctx, r.h.events, r.acct, events.MessageStatusData{MessageID: m.ID,
				SessionID: r.id, CampaignID: m.CampaignID, To: m.To, Status: string(to), Reason: reason, At: at}); err != nil {
				log.Warn("message status event publish failed", "error", err.Error())
			}
		}
		return nil
	}
	fenced := func(_ []messages.Status, to messages.Status, reason string) error {
		return move(to, reason, r.h.now().UTC())
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
	text, media, err := r.h.store.FindMessageBody(ctx, m.ID)
	if errs.Is(err, errs.NotFound) { // waited past the body's retention period
		_ = move(messages.StatusFailed, messages.ReasonBodyExpired, r.h.now().UTC())
		return true
	}
	if err != nil {
		log.Warn("message body read failed", "error", err.Error())
		return false
	}
	c := r.currentClient()
	if c == nil {
		_ = fenced([]messages.Status{messages.StatusSending}, messages.StatusQueued, "")
		return false
	}
	out := wa.Outgoing{ID: messages.WhatsAppID(m.ID), To: m.To, Text: text}
	if md := media; md != nil {
		data, ctype, err := netguard.Fetch(ctx, r.h.media, md.URL, mediaLimit(md.Type))
		if err != nil {
			log.Warn("media fetch failed", "error", err.Error())
			attempts[m.ID]++
			if attempts[m.ID] >= sendAttempts {
				delete(attempts, m.ID)
				_ = move(messages.StatusFailed, messages.ReasonMediaUnavailable, r.h.now().UTC())
				return true
			}
			_ = move(messages.StatusQueued, "", r.h.now().UTC())
			return false
		}
		if md.Caption != "" {
			out.Text = md.Caption
		}
		out.Media = &wa.Media{Type: md.Type, MimeType: ctype, Filename: md.Filename, Data: data}
	}
	res, err := c.Send(ctx, out)
	switch {
	case err == nil:
		delete(attempts, m.ID)
		if err := move(messages.StatusSent, "", res.Timestamp.UTC()); err != nil && !errs.Is(err, errs.Conflict) {
			log.Warn("mark sent failed; the resend after recovery reuses the WhatsApp id", "error", err.Error())
		}
		log.Debug("message sent", "whatsapp_id", res.ID)
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

// mediaLimit is WhatsApp's size limit per media type.
func mediaLimit(typ string) int64 {
	switch typ {
	case "image":
		return 5 << 20
	case "document":
		return 100 << 20
	}
	return 16 << 20 // audio, video
}

// publishCompleted reports a campaign's completion (one event per campaign:
// its id is fixed by the campaign).
func (r *runner) publishCompleted(campaignID string) {
	now := r.h.now().UTC()
	e, err := events.New(events.CampaignCompleted, r.acct, r.id, now, events.CampaignCompletedData{CampaignID: campaignID}, campaignID)
	if err == nil {
		err = r.h.events.Publish(r.ctx, e)
	}
	if err != nil {
		r.log.Warn("campaign.completed publish failed", "campaign_id", campaignID, "error", err.Error())
	}
}
