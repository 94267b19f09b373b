package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/webhooks"
)

// WebhookEndpointJSON is a webhook endpoint as the API shows it. Signing
// secrets appear only in the create and rotate answers.
type WebhookEndpointJSON struct {
	ID             string    `json:"id" example:"whe_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	URL            string    `json:"url" example:"https://example.com/hooks/chatsend"`
	Events         []string  `json:"events" example:"[\"message.delivered\",\"message.received\"]"`
	SessionIDs     []string  `json:"session_ids" doc:"Only events of these sessions; empty = all. Events without a session are always sent."`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason,omitempty" doc:"Why ChatSend disabled the endpoint after sustained failure; re-enable with PATCH."`
	FailureStreak  int       `json:"failure_streak" doc:"Consecutive deliveries that failed every retry."`
	Secret         string    `json:"secret,omitempty" doc:"The signing secret (whsec_…): shown only when created or rotated."`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func endpointJSON(e webhooks.Endpoint, secret string) WebhookEndpointJSON {
	return WebhookEndpointJSON{ID: e.ID, URL: e.URL, Events: nonNil(e.Events), SessionIDs: nonNil(e.SessionIDs), Description: e.Description,
		Enabled: e.Enabled, DisabledReason: e.DisabledReason, FailureStreak: e.FailureStreak, Secret: secret,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WebhookDeliveryJSON is a delivery with its attempts.
type WebhookDeliveryJSON struct {
	ID          string             `json:"id" example:"whd_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	EndpointID  string             `json:"endpoint_id"`
	EventID     string             `json:"event_id" doc:"The webhook-id header of every attempt."`
	EventType   string             `json:"event_type"`
	Status      string             `json:"status" enum:"pending,delivered,failed,dead"`
	Reason      string             `json:"reason,omitempty" doc:"Why it failed without an attempt (endpoint disabled or deleted)."`
	Attempts    []webhooks.Attempt `json:"attempts"`
	NextRetryAt *time.Time         `json:"next_retry_at"`
	CreatedAt   time.Time          `json:"created_at"`
}

func deliveryJSON(d webhooks.Delivery) WebhookDeliveryJSON {
	a := d.Attempts
	if a == nil {
		a = []webhooks.Attempt{}
	}
	return WebhookDeliveryJSON{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: string(d.Status),
		Reason: d.Reason, Attempts: a, NextRetryAt: optTime(d.NextRetryAt), CreatedAt: d.CreatedAt}
}

type (
	createEndpointInput struct {
		Body struct {
			URL         string   `json:"url" maxLength:"2048" doc:"https; private, loopback and metadata addresses are refused."`
			Events      []string `json:"events" maxItems:"20" doc:"Event types, or [\"*\"] for all."`
			SessionIDs  []string `json:"session_ids,omitempty" maxItems:"100"`
			Description string   `json:"description,omitempty" maxLength:"500"`
		}
	}
	updateEndpointInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			URL         *string  `json:"url,omitempty" maxLength:"2048"`
			Events      []string `json:"events,omitempty" maxItems:"20"`
			SessionIDs  []string `json:"session_ids,omitempty" maxItems:"100" doc:"[] removes the filter."`
			Description *string  `json:"description,omitempty" maxLength:"500"`
			Enabled     *bool    `json:"enabled,omitempty" doc:"true re-enables a disabled endpoint and clears its failure streak."`
		}
	}
	endpointOutput struct {
		Body WebhookEndpointJSON
	}
	listEndpointsOutput struct {
		Body struct {
			Data []WebhookEndpointJSON `json:"data"`
		}
	}
	endpointIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	deliveryOutput struct {
		Body WebhookDeliveryJSON
	}
	listDeliveriesInput struct {
		ID     string `path:"id" maxLength:"64"`
		Cursor string `query:"cursor" maxLength:"64"`
		Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	}
	listDeliveriesOutput struct {
		Body struct {
			Data       []WebhookDeliveryJSON `json:"data"`
			NextCursor *string               `json:"next_cursor"`
		}
	}
)

func (s *Server) webhookRoutes() {
	tags := []string{"Webhooks"}
	svc := s.webhooks
	base := "/v1/webhook-endpoints"
	register(s, huma.Operation{OperationID: "create-webhook-endpoint", Method: "POST", Path: base, DefaultStatus: 201,
		Summary: "Register a webhook endpoint", Description: "Returns the signing secret once. Deliveries are signed per Standard Webhooks 1.0.",
		Tags: tags, Errors: []int{409}}, accounts.ScopeFull,
		func(ctx context.Context, in *createEndpointInput) (*endpointOutput, error) {
			e, secret, err := svc.CreateEndpoint(ctx, webhooks.EndpointInput{URL: &in.Body.URL, Events: in.Body.Events,
				SessionIDs: in.Body.SessionIDs, Description: &in.Body.Description})
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: endpointJSON(e, secret)}, nil
		})
	register(s, huma.Operation{OperationID: "list-webhook-endpoints", Method: "GET", Path: base, Summary: "List webhook endpoints", Tags: tags},
		accounts.ScopeRead, func(ctx context.Context, _ *struct{}) (*listEndpointsOutput, error) {
			list, err := svc.ListEndpoints(ctx)
			if err != nil {
				return nil, err
			}
			out := &listEndpointsOutput{}
			out.Body.Data = make([]WebhookEndpointJSON, 0, len(list))
			for _, e := range list {
				out.Body.Data = append(out.Body.Data, endpointJSON(e, ""))
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-webhook-endpoint", Method: "GET", Path: base + "/{id}", Summary: "Get a webhook endpoint",
		Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *endpointIDInput) (*endpointOutput, error) {
			e, err := svc.GetEndpoint(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: endpointJSON(e, "")}, nil
		})
	register(s, huma.Operation{OperationID: "update-webhook-endpoint", Method: "PATCH", Path: base + "/{id}",
		Summary: "Change a webhook endpoint", Description: "Absent fields are unchanged.", Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *updateEndpointInput) (*endpointOutput, error) {
			e, err := svc.UpdateEndpoint(ctx, in.ID, webhooks.EndpointInput{URL: in.Body.URL, Events: in.Body.Events,
				SessionIDs: in.Body.SessionIDs, Description: in.Body.Description, Enabled: in.Body.Enabled})
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: endpointJSON(e, "")}, nil
		})
	register(s, huma.Operation{OperationID: "delete-webhook-endpoint", Method: "DELETE", Path: base + "/{id}", DefaultStatus: 204,
		Summary: "Delete a webhook endpoint", Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *endpointIDInput) (*struct{}, error) {
			return nil, svc.DeleteEndpoint(ctx, in.ID)
		})
	register(s, huma.Operation{OperationID: "rotate-webhook-secret", Method: "POST", Path: base + "/{id}/rotate-secret",
		Summary: "Rotate the signing secret", Description: "Returns the new secret once; the old one keeps signing alongside for 24 h.",
		Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *endpointIDInput) (*endpointOutput, error) {
			e, secret, err := svc.RotateSecret(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &endpointOutput{Body: endpointJSON(e, secret)}, nil
		})
	register(s, huma.Operation{OperationID: "test-webhook-endpoint", Method: "POST", Path: base + "/{id}/test", DefaultStatus: 202,
		Summary: "Send a ping event to this endpoint", Tags: tags, Errors: []int{404, 409}}, accounts.ScopeFull,
		func(ctx context.Context, in *endpointIDInput) (*deliveryOutput, error) {
			d, err := svc.SendTest(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &deliveryOutput{Body: deliveryJSON(d)}, nil
		})
	register(s, huma.Operation{OperationID: "list-webhook-deliveries", Method: "GET", Path: base + "/{id}/deliveries",
		Summary: "List an endpoint's deliveries", Description: "Newest first, with every attempt. Kept 30 days.", Tags: tags, Errors: []int{404}},
		accounts.ScopeRead, func(ctx context.Context, in *listDeliveriesInput) (*listDeliveriesOutput, error) {
			list, next, err := svc.ListDeliveries(ctx, in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &listDeliveriesOutput{}
			out.Body.Data = make([]WebhookDeliveryJSON, 0, len(list))
			for _, d := range list {
				out.Body.Data = append(out.Body.Data, deliveryJSON(d))
			}
			if next != "" {
				out.Body.NextCursor = &next
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "replay-webhook-delivery", Method: "POST", Path: "/v1/webhook-deliveries/{id}/replay",
		DefaultStatus: 202, Summary: "Attempt a delivery again now", Description: "Restarts the delivery's retry schedule.",
		Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *endpointIDInput) (*deliveryOutput, error) {
			d, err := svc.Replay(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &deliveryOutput{Body: deliveryJSON(d)}, nil
		})
	s.documentWebhooks()
}

// webhookExamples holds one example data object per event type.
var webhookExamples = map[string]any{
	webhooks.MessageQueued:           map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "to": "+4915123456789", "status": "queued"},
	webhooks.MessageSent:             map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "sent"},
	webhooks.MessageDelivered:        map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "delivered"},
	webhooks.MessageRead:             map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "read"},
	webhooks.MessageFailed:           map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "failed", "reason": "not_on_whatsapp"},
	webhooks.MessageSkipped:          map[string]any{"message_id": "msg_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "skipped", "reason": "suppressed"},
	webhooks.MessageReceived:         map[string]any{"session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "from": "+4915123456789", "push_name": "Ana", "text": "Hi!", "media": map[string]any{"type": "image", "mime_type": "image/jpeg", "size": 48213}},
	webhooks.SessionStatus:           map[string]any{"session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x", "status": "disconnected", "reason": "logged_out"},
	webhooks.CampaignCompleted:       map[string]any{"campaign_id": "cmp_01jd8x2m3n4p5q6r7s8t9v0w1x", "counts": map[string]int{"total": 120, "delivered": 110, "failed": 4, "skipped": 6}},
	webhooks.ContactOptedOut:         map[string]any{"phone": "+4915123456789", "keyword": "STOP", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x"},
	webhooks.ContactOptedIn:          map[string]any{"phone": "+4915123456789", "keyword": "START", "session_id": "ses_01jd8x2m3n4p5q6r7s8t9v0w1x"},
	webhooks.ContactsImportCompleted: map[string]any{"import_id": "imp_01jd8x2m3n4p5q6r7s8t9v0w1x", "processed": 1000, "created": 950, "updated": 40, "unchanged": 0, "rejected": 10, "at": "2025-01-02T03:04:05Z"},
	webhooks.BillingStatusChanged:    map[string]any{"from": "active", "to": "past_due", "plan": "starter", "subscription_id": "sub_1Q2w3E4r5T6y7U8i", "sending_allowed": true, "at": "2025-01-02T03:04:05Z"},
	webhooks.Ping:                    map[string]any{"endpoint_id": "whe_01jd8x2m3n4p5q6r7s8t9v0w1x", "message": "ping from ChatSend"},
}

// documentWebhooks adds the OpenAPI 3.1 webhooks section: the envelope
// and an example for every event type.
func (s *Server) documentWebhooks() {
	oa := s.api.OpenAPI()
	schema := oa.Components.Schemas.Schema(typeOf[webhooks.Envelope](), true, "WebhookEnvelope")
	if oa.Webhooks == nil {
		oa.Webhooks = map[string]*huma.PathItem{}
	}
	for _, typ := range webhooks.EventTypes {
		data, _ := json.Marshal(webhookExamples[typ])
		example := webhooks.Envelope{ID: "evt_6f1c0c8e2b0d4f8a9e3b7a1d2c4e5f60", Type: typ,
			CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), AccountID: "acct_01jd8x2m3n4p5q6r7s8t9v0w1x", Data: data}
		oa.Webhooks[typ] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook-" + typ, Summary: "Event " + typ, Tags: []string{"Webhooks"},
			Description: "POSTed to subscribed endpoints with headers webhook-id (the envelope id, the same on every retry), " +
				"webhook-timestamp (unix seconds) and webhook-signature (v1,<base64 HMAC-SHA256 of id.timestamp.body>, " +
				"space-separated while a rotated secret is still active). Answer 2xx within 10 s; otherwise it is retried " +
				"for about 3 days.",
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
				"application/json": {Schema: schema, Example: example}}},
			Responses: map[string]*huma.Response{"2XX": {Description: "Received."}},
		}}
	}
}
