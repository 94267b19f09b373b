package privacy

import (
	"context"

	"github.com/chatsend/chatsend/shared/campaigns"
)

// pauseCampaigns pauses every running or scheduled campaign with reason
// restricted; the data stays as it is.
func (s *Service) pauseCampaigns(ctx context.Context, j *job) error {
	n, err := s.o.Campaigns.PauseAll(ctx, campaigns.ReasonRestricted)
	if n > 0 {
		j.r.Result.add(&j.r.Result.Counts, "campaigns_paused", n)
	}
	return err
}

// resumeCampaigns resumes the campaigns a restriction paused, and only
// those: a campaign the customer paused stays paused.
func (s *Service) resumeCampaigns(ctx context.Context, j *job) error {
	n, err := s.o.Campaigns.ResumeAll(ctx, campaigns.ReasonRestricted)
	if n > 0 {
		j.r.Result.add(&j.r.Result.Counts, "campaigns_resumed", n)
	}
	return err
}
