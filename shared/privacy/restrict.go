package privacy

import (
	"context"

	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/errs"
)

// pauseCampaigns pauses every running or scheduled campaign with reason
// restricted; the data stays as it is.
func (s *Service) pauseCampaigns(ctx context.Context, j *job) error {
	cs, err := s.o.Campaigns.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Status != campaigns.StatusRunning && c.Status != campaigns.StatusScheduled {
			continue
		}
		_, err := s.o.Campaigns.Pause(ctx, c.ID, campaigns.ReasonRestricted)
		switch {
		case err == nil:
			j.r.Result.add(&j.r.Result.Counts, "campaigns_paused", 1)
		case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound): // ended meanwhile
		default:
			return err
		}
	}
	return nil
}

// resumeCampaigns resumes the campaigns a restriction paused, and only
// those: a campaign the customer paused stays paused.
func (s *Service) resumeCampaigns(ctx context.Context, j *job) error {
	cs, err := s.o.Campaigns.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Status != campaigns.StatusPaused || c.StatusReason != campaigns.ReasonRestricted {
			continue
		}
		_, err := s.o.Campaigns.Resume(ctx, c.ID)
		switch {
		case err == nil:
			j.r.Result.add(&j.r.Result.Counts, "campaigns_resumed", 1)
		case errs.Is(err, errs.Conflict), errs.Is(err, errs.NotFound):
		default:
			return err
		}
	}
	return nil
}
