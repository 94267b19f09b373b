package campaigns

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/events"
	"github.com/chatsend/chatsend/shared/logging"
	"github.com/chatsend/chatsend/shared/messages"
)

// maxDelay is the longest delay one queue message can carry (SQS: 15 min);
// longer schedules re-enqueue themselves.
const maxDelay = 15 * time.Minute

// Lane is the dispatch-index lane of a campaign's messages.
func Lane(campaignID string) string { return "1" + campaignID + "#" }

// Fanout runs one fan-out job of a campaign until the audience is done or
// the deadline passes (then it enqueues its own continuation). It is safe
// to run twice, concurrently or after a crash: it resumes from the stored
// checkpoint and message ids are deterministic. Tenant-scoped.
func (s *Service) Fanout(ctx context.Context, id string, deadline time.Time) error {
	c, err := s.o.Store.FindCampaign(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return nil // deleted: nothing to do
	}
	if err != nil {
		return err
	}
	log := logging.Or(ctx, s.o.Logger).With("campaign_id", id)
	now := s.o.Now().UTC()
	switch c.Status {
	case StatusScheduled:
		if wait := c.ScheduleAt.Sub(now); wait > 0 {
			return s.o.Jobs.Enqueue(ctx, c.AccountID, c.ID, min(wait, maxDelay))
		}
		if c, err = s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusScheduled}, StatusRunning, "", now); err != nil {
			return err
		}
	case StatusCancelled:
		if err := s.skipQueued(ctx, c); err != nil {
			return err
		}
		// What the cancel skipped (and any recipient never fanned out)
		// goes back to the month's quota.
		return s.settle(ctx, id)
	case StatusRunning:
		if err := s.gate(ctx); errs.Is(err, errs.AccountRestricted) {
			// A restriction raced this job: stop sending, keep the data.
			_, err := s.o.Store.SetCampaignStatus(ctx, id, []Status{StatusRunning}, StatusPaused, ReasonRestricted, now)
			if errs.Is(err, errs.Conflict) {
				return nil
			}
			return err
		} else if err != nil {
			return err
		}
	case StatusPaused:
	default:
		return nil // draft or completed: nothing to fan out
	}
	if c.FanoutDone {
		if err := s.settle(ctx, id); err != nil {
			return err
		}
		done, err := s.o.Store.CompleteIfDone(ctx, id, now)
		if done {
			s.completed(ctx, c)
		}
		return err
	}
	tpl, err := ParseTemplate(c.Template)
	if err != nil {
		return fmt.Errorf("campaign %s template: %w", id, err)
	}
	cursor := c.FanoutCursor
	for {
		page, err := s.page(ctx, c, cursor)
		if err != nil {
			return err
		}
		added, err := s.addPage(ctx, c, tpl, page.Recipients)
		if err != nil {
			return err
		}
		if err := s.o.Store.SaveFanout(ctx, id, page.Next, page.Next == ""); err != nil {
			return err
		}
		if added > 0 {
			s.wake(ctx, c)
		}
		log.DebugContext(ctx, "fan-out page", "recipients", len(page.Recipients), "added", added)
		if page.Next == "" {
			break
		}
		cursor = page.Next
		if time.Now().After(deadline) {
			log.InfoContext(ctx, "fan-out continues in a new job")
			return s.o.Jobs.Enqueue(ctx, c.AccountID, c.ID, 0)
		}
	}
	// Every recipient has a message now: give back what was reserved for
	// skipped (suppressed) and missing recipients.
	if err := s.settle(ctx, id); err != nil {
		return err
	}
	done, err := s.o.Store.CompleteIfDone(ctx, id, s.o.Now().UTC())
	if err == nil && done {
		log.InfoContext(ctx, "campaign completed during fan-out")
		s.completed(ctx, c)
	}
	log.InfoContext(ctx, "fan-out done")
	return err
}

// page returns the recipients after cursor. Cursors: "t<tag index>:<inner>"
// for tag audiences, "i<offset>" for explicit contact ids.
func (s *Service) page(ctx context.Context, c Campaign, cursor string) (AudiencePage, error) {
	if len(c.Audience.ContactIDs) > 0 {
		off := 0
		if cursor != "" {
			off, _ = strconv.Atoi(strings.TrimPrefix(cursor, "i"))
		}
		end := min(off+pageSize, len(c.Audience.ContactIDs))
		rs, err := s.o.Audience.ByIDs(ctx, c.Audience.ContactIDs[off:end])
		if err != nil {
			return AudiencePage{}, fmt.Errorf("audience by ids: %w", err)
		}
		next := ""
		if end < len(c.Audience.ContactIDs) {
			next = "i" + strconv.Itoa(end)
		}
		return AudiencePage{Recipients: rs, Next: next}, nil
	}
	idx, inner := 0, ""
	if cursor != "" {
		head, rest, _ := strings.Cut(strings.TrimPrefix(cursor, "t"), ":")
		idx, _ = strconv.Atoi(head)
		inner = rest
	}
	if idx >= len(c.Audience.Tags) {
		return AudiencePage{}, nil
	}
	p, err := s.o.Audience.ByTag(ctx, c.Audience.Tags[idx], inner, pageSize)
	if err != nil {
		return AudiencePage{}, fmt.Errorf("audience by tag: %w", err)
	}
	switch {
	case p.Next != "":
		p.Next = fmt.Sprintf("t%d:%s", idx, p.Next)
	case idx+1 < len(c.Audience.Tags):
		p.Next = fmt.Sprintf("t%d:", idx+1)
	}
	return p, nil
}

// addPage renders and stores one page of messages; suppressed phones get
// skipped messages, so the campaign still accounts for every recipient.
func (s *Service) addPage(ctx context.Context, c Campaign, tpl Template, rs []Recipient) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	phones := make([]string, len(rs))
	for i, r := range rs {
		phones[i] = r.Phone
	}
	sup, err := s.o.Audience.Suppressed(ctx, phones)
	if err != nil {
		return 0, fmt.Errorf("suppressions: %w", err)
	}
	var keep *time.Duration
	if s.o.BodyRetention != nil {
		d, err := s.o.BodyRetention(ctx)
		if err != nil {
			return 0, fmt.Errorf("body retention: %w", err)
		}
		keep = &d
	}
	now := s.o.Now().UTC()
	ms := make([]messages.Message, 0, len(rs))
	for _, r := range rs {
		m := messages.Message{ID: MessageID(c.ID, r.ContactID, c.StartedAt), AccountID: c.AccountID, SessionID: c.SessionID,
			CampaignID: c.ID, ContactID: r.ContactID, To: r.Phone, Text: tpl.Render(r), Status: messages.StatusQueued, BodyRetention: keep,
			CreatedAt: now, UpdatedAt: now, History: []messages.Change{{Status: messages.StatusQueued, At: now}}}
		if sup[r.Phone] {
			m.Status, m.Reason = messages.StatusSkipped, messages.ReasonSuppressed
			m.History = append(m.History, messages.Change{Status: messages.StatusSkipped, Reason: messages.ReasonSuppressed, At: now})
		}
		ms = append(ms, m)
	}
	added, err := s.o.Store.AddCampaignMessages(ctx, c.ID, ms)
	if err != nil || added == 0 || s.o.Events == nil {
		return added, err
	}
	// One event per page (its id fixed by the page's first message, so a
	// rerun of the page repeats the same event id).
	d := events.MessageStatusBatchData{Items: make([]events.MessageStatusData, len(ms))}
	for i, m := range ms {
		d.Items[i] = events.MessageStatusData{MessageID: m.ID, SessionID: m.SessionID, CampaignID: c.ID, To: m.To,
			Status: string(m.Status), Reason: m.Reason, At: now}
	}
	e, err := events.New(events.MessageStatusBatch, c.AccountID, c.SessionID, now, d, ms[0].ID, ms[len(ms)-1].ID)
	if err == nil {
		err = s.o.Events.Publish(ctx, e)
	}
	if err != nil {
		logging.Or(ctx, s.o.Logger).WarnContext(ctx, "fan-out status event publish failed", "campaign_id", c.ID, "error", err.Error())
	}
	return added, nil
}

// completed reports a campaign's completion.
func (s *Service) completed(ctx context.Context, c Campaign) {
	if s.o.Events == nil {
		return
	}
	e, err := events.New(events.CampaignCompleted, c.AccountID, c.SessionID, s.o.Now().UTC(), events.CampaignCompletedData{CampaignID: c.ID}, c.ID)
	if err == nil {
		err = s.o.Events.Publish(ctx, e)
	}
	if err != nil {
		logging.Or(ctx, s.o.Logger).WarnContext(ctx, "campaign.completed publish failed", "campaign_id", c.ID, "error", err.Error())
	}
}

// skipQueued ends a cancelled campaign's queued messages as skipped.
func (s *Service) skipQueued(ctx context.Context, c Campaign) error {
	for {
		batch, err := s.o.Messages.Dispatchable(ctx, c.SessionID, Lane(c.ID), 100)
		if err != nil {
			return err
		}
		n := 0
		for _, m := range batch {
			_, err := s.o.Messages.Transition(ctx, m.ID, messages.Update{From: []messages.Status{messages.StatusQueued},
				To: messages.StatusSkipped, Reason: ReasonCancelled, At: s.o.Now().UTC()})
			switch {
			case err == nil:
				n++
			case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
			default:
				return err
			}
		}
		if n == 0 {
			return nil // nothing left that is still queued (a sending one finishes on its own)
		}
	}
}
