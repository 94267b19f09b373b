package httpapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/messages"
)

// MessageJSON is a message as the API shows it.
type MessageJSON struct {
	ID         string          `json:"id" example:"msg_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	SessionID  string          `json:"session_id"`
	CampaignID string          `json:"campaign_id,omitempty"`
	To         string          `json:"to" doc:"Recipient, E.164."`
	Text       string          `json:"text,omitempty" doc:"On GET /v1/messages/{id} only (lists carry metadata); absent once the body's 30-day retention ends."`
	Media      *messages.Media `json:"media,omitempty"`
	Status     string          `json:"status" enum:"queued,sending,sent,delivered,read,failed,skipped"`
	Reason     string          `json:"reason,omitempty" doc:"Why a message failed or was skipped, e.g. not_on_whatsapp, suppressed."`
	History    []ChangeJSON    `json:"history,omitempty" doc:"Every status the message went through (GET /v1/messages/{id} only)."`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// ChangeJSON is one status change.
type ChangeJSON struct {
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

func messageJSON(m messages.Message, withHistory bool) MessageJSON {
	j := MessageJSON{ID: m.ID, SessionID: m.SessionID, CampaignID: m.CampaignID, To: m.To, Text: m.Text, Media: m.Media,
		Status: string(m.Status), Reason: m.Reason, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if withHistory {
		for _, c := range m.History {
			j.History = append(j.History, ChangeJSON{Status: string(c.Status), Reason: c.Reason, At: c.At})
		}
	}
	return j
}

type (
	sendMessageInput struct {
		IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Retry safely: the same key and body return the same message for 24 h; the same key with another body is a 409."`
		Body           struct {
			SessionID string          `json:"session_id" maxLength:"64"`
			To        string          `json:"to" maxLength:"32" example:"+4915123456789" doc:"E.164, or national format in the account's default region."`
			Text      string          `json:"text,omitempty" maxLength:"4096"`
			Media     *messages.Media `json:"media,omitempty"`
		}
	}
	messageOutput struct {
		Body MessageJSON
	}
	listMessagesInput struct {
		SessionID  string `query:"session_id" maxLength:"64"`
		CampaignID string `query:"campaign_id" maxLength:"64"`
		Status     string `query:"status" enum:"queued,sending,sent,delivered,read,failed,skipped,"`
		To         string `query:"to" maxLength:"32"`
		Cursor     string `query:"cursor" maxLength:"512"`
		Limit      int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}
	listMessagesOutput struct {
		Body struct {
			Data       []MessageJSON `json:"data"`
			NextCursor *string       `json:"next_cursor"`
		}
	}
	messageIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
)

func (s *Server) messageRoutes() {
	tags := []string{"Messages"}
	svc := s.messages
	register(s, huma.Operation{OperationID: "send-message", Method: "POST", Path: "/v1/messages", DefaultStatus: 202,
		Summary: "Send a message", Description: "Queues a text or media message on a connected session. Honours Idempotency-Key.",
		Tags: tags, Errors: []int{404, 409}}, accounts.ScopeSend,
		func(ctx context.Context, in *sendMessageInput) (*messageOutput, error) {
			m, _, err := svc.Send(ctx, messages.SendInput{SessionID: in.Body.SessionID, To: in.Body.To, Text: in.Body.Text,
				Media: in.Body.Media, IdempotencyKey: in.IdempotencyKey})
			if err != nil {
				return nil, err
			}
			return &messageOutput{Body: messageJSON(m, false)}, nil
		})
	register(s, huma.Operation{OperationID: "list-messages", Method: "GET", Path: "/v1/messages", Summary: "List messages",
		Description: "Newest first; filter by session, campaign, status or recipient.", Tags: tags}, accounts.ScopeRead,
		func(ctx context.Context, in *listMessagesInput) (*listMessagesOutput, error) {
			page, err := svc.List(ctx, messages.Filter{SessionID: in.SessionID, CampaignID: in.CampaignID,
				Status: messages.Status(in.Status), To: in.To, Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, err
			}
			return listOutput(page), nil
		})
	register(s, huma.Operation{OperationID: "get-message", Method: "GET", Path: "/v1/messages/{id}", Summary: "Get a message with its status history",
		Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *messageIDInput) (*messageOutput, error) {
			m, err := svc.Get(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &messageOutput{Body: messageJSON(m, true)}, nil
		})
}

func listOutput(page messages.Page) *listMessagesOutput {
	out := &listMessagesOutput{}
	out.Body.Data = make([]MessageJSON, 0, len(page.Messages))
	for _, m := range page.Messages {
		out.Body.Data = append(out.Body.Data, messageJSON(m, false))
	}
	if page.Next != "" {
		out.Body.NextCursor = &page.Next
	}
	return out
}
