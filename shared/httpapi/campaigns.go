package httpapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/messages"
)

// CampaignJSON is a campaign as the API shows it.
type CampaignJSON struct {
	ID           string             `json:"id" example:"cmp_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Name         string             `json:"name"`
	SessionID    string             `json:"session_id"`
	Template     string             `json:"template"`
	Audience     campaigns.Audience `json:"audience"`
	ScheduleAt   *time.Time         `json:"schedule_at"`
	Pacing       campaigns.Pacing   `json:"pacing"`
	Status       string             `json:"status" enum:"draft,scheduled,running,paused,completed,cancelled"`
	StatusReason string             `json:"status_reason,omitempty" doc:"Why it is paused or cancelled: user, billing, restricted."`
	Counts       campaigns.Counts   `json:"counts" doc:"Messages by current status; they add up to total."`
	Progress     float64            `json:"progress" doc:"Share of messages that left the queue (0 to 1); 0 until fan-out created some."`
	FanoutDone   bool               `json:"fanout_done" doc:"Every recipient has a message."`
	CreatedAt    time.Time          `json:"created_at"`
	StartedAt    *time.Time         `json:"started_at"`
	CompletedAt  *time.Time         `json:"completed_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func campaignJSON(c campaigns.Campaign) CampaignJSON {
	j := CampaignJSON{ID: c.ID, Name: c.Name, SessionID: c.SessionID, Template: c.Template, Audience: c.Audience,
		ScheduleAt: optTime(c.ScheduleAt), Pacing: c.Pacing, Status: string(c.Status), StatusReason: c.StatusReason,
		Counts: c.Counts, FanoutDone: c.FanoutDone, CreatedAt: c.CreatedAt, StartedAt: optTime(c.StartedAt), CompletedAt: optTime(c.CompletedAt)}
	if c.Counts.Total > 0 {
		j.Progress = float64(c.Counts.Total-c.Counts.Pending()) / float64(c.Counts.Total)
	}
	return j
}

type (
	createCampaignInput struct {
		Body struct {
			Name       string             `json:"name" maxLength:"100"`
			SessionID  string             `json:"session_id" maxLength:"64"`
			Template   string             `json:"template" maxLength:"4096" example:"Hi {{first_name|there}}, your order is ready in {{custom.store|our store}}." doc:"Placeholders: {{first_name}}, {{name}}, {{custom.FIELD}}, each with an optional |fallback."`
			Audience   campaigns.Audience `json:"audience" doc:"Exactly one of tags (contacts with any of them) or contact_ids."`
			ScheduleAt *time.Time         `json:"schedule_at,omitempty" doc:"Start later instead of at once."`
			Pacing     *campaigns.Pacing  `json:"pacing,omitempty" doc:"Defaults are safe for a personal number: 8-20 s apart, 200 a day, warm-up on."`
		}
	}
	campaignOutput struct {
		Body CampaignJSON
	}
	listCampaignsOutput struct {
		Body struct {
			Data []CampaignJSON `json:"data"`
		}
	}
	campaignIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	campaignMessagesInput struct {
		ID     string `path:"id" maxLength:"64"`
		Status string `query:"status" enum:"queued,sending,sent,delivered,read,failed,skipped,"`
		Cursor string `query:"cursor" maxLength:"512"`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}
)

func (s *Server) campaignRoutes() {
	tags := []string{"Campaigns"}
	svc := s.campaigns
	register(s, huma.Operation{OperationID: "create-campaign", Method: "POST", Path: "/v1/campaigns", DefaultStatus: 201,
		Summary: "Create a campaign", Description: "Stored as a draft; unknown template placeholders are refused. Start it to send.",
		Tags: tags, Errors: []int{404}}, accounts.ScopeSend,
		func(ctx context.Context, in *createCampaignInput) (*campaignOutput, error) {
			c, err := svc.Create(ctx, campaigns.CreateInput{Name: in.Body.Name, SessionID: in.Body.SessionID, Template: in.Body.Template,
				Audience: in.Body.Audience, ScheduleAt: in.Body.ScheduleAt, Pacing: in.Body.Pacing})
			if err != nil {
				return nil, err
			}
			return &campaignOutput{Body: campaignJSON(c)}, nil
		})
	register(s, huma.Operation{OperationID: "list-campaigns", Method: "GET", Path: "/v1/campaigns", Summary: "List campaigns", Tags: tags}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*listCampaignsOutput, error) {
			list, err := svc.List(ctx)
			if err != nil {
				return nil, err
			}
			out := &listCampaignsOutput{}
			out.Body.Data = make([]CampaignJSON, 0, len(list))
			for _, c := range list {
				out.Body.Data = append(out.Body.Data, campaignJSON(c))
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-campaign", Method: "GET", Path: "/v1/campaigns/{id}", Summary: "Get a campaign with live counts",
		Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *campaignIDInput) (*campaignOutput, error) {
			c, err := svc.Get(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &campaignOutput{Body: campaignJSON(c)}, nil
		})
	for _, op := range []struct {
		verb, summary string
		do            func(ctx context.Context, id string) (campaigns.Campaign, error)
	}{
		{"start", "Start a campaign (or schedule it)", svc.Start},
		{"pause", "Pause a campaign before its next message", func(ctx context.Context, id string) (campaigns.Campaign, error) {
			return svc.Pause(ctx, id, campaigns.ReasonUser)
		}},
		{"resume", "Resume a paused campaign where it stopped", svc.Resume},
		{"cancel", "Cancel a campaign; queued messages end skipped", svc.Cancel},
	} {
		register(s, huma.Operation{OperationID: op.verb + "-campaign", Method: "POST", Path: "/v1/campaigns/{id}/" + op.verb,
			Summary: op.summary, Tags: tags, Errors: []int{404, 409}}, accounts.ScopeSend,
			func(ctx context.Context, in *campaignIDInput) (*campaignOutput, error) {
				c, err := op.do(ctx, in.ID)
				if err != nil {
					return nil, err
				}
				return &campaignOutput{Body: campaignJSON(c)}, nil
			})
	}
	register(s, huma.Operation{OperationID: "campaign-messages", Method: "GET", Path: "/v1/campaigns/{id}/messages",
		Summary: "List a campaign's messages", Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *campaignMessagesInput) (*listMessagesOutput, error) {
			if _, err := svc.Get(ctx, in.ID); err != nil {
				return nil, err
			}
			page, err := s.messages.List(ctx, messages.Filter{CampaignID: in.ID, Status: messages.Status(in.Status), Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, err
			}
			return listOutput(page), nil
		})
}
