package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/sessions"
)

// SessionJSON is a WhatsApp session as the API shows it.
type SessionJSON struct {
	ID             string     `json:"id" example:"ses_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Label          string     `json:"label"`
	Status         string     `json:"status" enum:"pending,waiting_for_qr,pairing,connected,disconnected,logged_out,failed"`
	StatusReason   string     `json:"status_reason" doc:"Machine-readable reason for the status, e.g. qr_expired, stream_replaced, temporarily_banned, logged_out_by_phone; empty when none."`
	Backend        string     `json:"backend" enum:"whatsmeow,simulator" doc:"simulator means no real WhatsApp connection: offline development only."`
	Phone          string     `json:"phone,omitempty" doc:"The linked number, E.164."`
	PushName       string     `json:"push_name,omitempty" doc:"The WhatsApp display name of the linked number."`
	ConnectedSince *time.Time `json:"connected_since"`
	LastEventAt    time.Time  `json:"last_event_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func sessionJSON(s sessions.Session) SessionJSON {
	j := SessionJSON{ID: s.ID, Label: s.Label, Status: string(s.Status), StatusReason: s.StatusReason, Backend: s.Backend,
		Phone: s.Phone, PushName: s.PushName, LastEventAt: s.LastEventAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if !s.ConnectedSince.IsZero() && s.Status == sessions.StatusConnected {
		t := s.ConnectedSince
		j.ConnectedSince = &t
	}
	return j
}

// QRJSON is a pairing QR code.
type QRJSON struct {
	Code      string    `json:"code" doc:"The text encoded in the QR code."`
	PNGBase64 string    `json:"png_base64" doc:"The QR code as a PNG image, base64."`
	ExpiresAt time.Time `json:"expires_at" doc:"WhatsApp rotates codes: fetch again after this."`
}

type (
	createSessionInput struct {
		Body struct {
			Label string `json:"label" maxLength:"100" example:"Support line"`
		}
	}
	sessionOutput struct {
		Body SessionJSON
	}
	listSessionsOutput struct {
		Body struct {
			Data []SessionJSON `json:"data"`
		}
	}
	sessionIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	qrInput struct {
		ID     string `path:"id" maxLength:"64"`
		Accept string `header:"Accept" doc:"image/png for the image itself; JSON otherwise."`
	}
	qrOutput struct {
		ContentType string `header:"Content-Type"`
		Body        []byte
	}
	pairCodeInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Phone string `json:"phone" maxLength:"32" example:"+4915123456789" doc:"The number to link, E.164 with country code."`
		}
	}
	pairCodeOutput struct {
		Body struct {
			Code string `json:"code" doc:"Type this code on the phone: WhatsApp › Linked devices › Link with phone number."`
		}
	}
	groupsOutput struct {
		Body struct {
			Data []sessions.Group `json:"data"`
		}
	}
	checkNumbersInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Phones []string `json:"phones" maxItems:"100" minItems:"1" doc:"E.164 numbers to check, at most 100."`
		}
	}
	checkNumbersOutput struct {
		Body struct {
			Data []sessions.NumberStatus `json:"data"`
		}
	}
	simInboundInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			From string `json:"from" maxLength:"32" example:"+4915123456789"`
			Text string `json:"text" maxLength:"4096"`
		}
	}
)

func (s *Server) sessionRoutes() {
	tags := []string{"Sessions"}
	svc := s.sessions
	register(s, huma.Operation{OperationID: "create-session", Method: "POST", Path: "/v1/sessions", DefaultStatus: 201,
		Summary: "Create a WhatsApp session", Description: "Starts pairing: poll the session until it is waiting_for_qr, then fetch its QR code or ask for a pairing code.",
		Tags: tags}, accounts.ScopeFull,
		func(ctx context.Context, in *createSessionInput) (*sessionOutput, error) {
			ses, err := svc.Create(ctx, in.Body.Label)
			if err != nil {
				return nil, err
			}
			return &sessionOutput{Body: sessionJSON(ses)}, nil
		})
	register(s, huma.Operation{OperationID: "list-sessions", Method: "GET", Path: "/v1/sessions", Summary: "List sessions", Tags: tags}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*listSessionsOutput, error) {
			list, err := svc.List(ctx)
			if err != nil {
				return nil, err
			}
			out := &listSessionsOutput{}
			out.Body.Data = make([]SessionJSON, 0, len(list))
			for _, ses := range list {
				out.Body.Data = append(out.Body.Data, sessionJSON(ses))
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-session", Method: "GET", Path: "/v1/sessions/{id}", Summary: "Get a session", Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *sessionIDInput) (*sessionOutput, error) {
			ses, err := svc.Get(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &sessionOutput{Body: sessionJSON(ses)}, nil
		})
	register(s, huma.Operation{OperationID: "delete-session", Method: "DELETE", Path: "/v1/sessions/{id}", DefaultStatus: 204,
		Summary: "Delete a session", Description: "Logs the device out of WhatsApp, deletes its keys and removes the session.", Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
			return nil, svc.Delete(ctx, in.ID)
		})
	for _, op := range []struct {
		id, path, summary, desc string
		do                      func(context.Context, string) (sessions.Session, error)
	}{
		{"restart-session", "/v1/sessions/{id}/restart", "Restart a session", "Reconnects; a logged-out session starts pairing again.", svc.Restart},
		{"logout-session", "/v1/sessions/{id}/logout", "Log a session out", "Unlinks the device from the phone and deletes its keys; the session stays, logged_out.", svc.Logout},
	} {
		register(s, huma.Operation{OperationID: op.id, Method: "POST", Path: op.path, DefaultStatus: 202, Summary: op.summary,
			Description: op.desc, Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
			func(ctx context.Context, in *sessionIDInput) (*sessionOutput, error) {
				ses, err := op.do(ctx, in.ID)
				if err != nil {
					return nil, err
				}
				return &sessionOutput{Body: sessionJSON(ses)}, nil
			})
	}
	register(s, huma.Operation{OperationID: "get-session-qr", Method: "GET", Path: "/v1/sessions/{id}/qr", Summary: "Get the pairing QR code",
		Description: "JSON `{code, png_base64, expires_at}`, or the PNG itself with `Accept: image/png`. 409 unless the session is waiting_for_qr.",
		Tags:        tags, Errors: []int{404, 409},
		Responses: map[string]*huma.Response{"200": {Description: "The QR code", Content: map[string]*huma.MediaType{
			"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(typeOf[QRJSON](), true, "")},
			"image/png":        {Schema: &huma.Schema{Type: "string", Format: "binary"}},
		}}}}, accounts.ScopeRead,
		func(ctx context.Context, in *qrInput) (*qrOutput, error) {
			qr, err := svc.QR(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			png, err := qrcode.Encode(qr.Code, qrcode.Medium, 256)
			if err != nil {
				return nil, fmt.Errorf("render qr: %w", err)
			}
			if strings.Contains(in.Accept, "image/png") {
				return &qrOutput{ContentType: "image/png", Body: png}, nil
			}
			b, err := json.Marshal(QRJSON{Code: qr.Code, PNGBase64: base64.StdEncoding.EncodeToString(png), ExpiresAt: qr.ExpiresAt})
			if err != nil {
				return nil, fmt.Errorf("encode qr: %w", err)
			}
			return &qrOutput{ContentType: "application/json", Body: b}, nil
		})
	register(s, huma.Operation{OperationID: "session-pair-code", Method: "POST", Path: "/v1/sessions/{id}/pair-code",
		Summary: "Pair by phone number", Description: "Asks WhatsApp for an 8-character code to type on the phone instead of scanning the QR code.",
		Tags: tags, Errors: []int{404, 409, 503}}, accounts.ScopeFull,
		func(ctx context.Context, in *pairCodeInput) (*pairCodeOutput, error) {
			code, err := svc.PairCode(ctx, in.ID, in.Body.Phone)
			if err != nil {
				return nil, err
			}
			out := &pairCodeOutput{}
			out.Body.Code = code
			return out, nil
		})
	register(s, huma.Operation{OperationID: "session-groups", Method: "GET", Path: "/v1/sessions/{id}/groups", Summary: "List WhatsApp groups",
		Tags: tags, Errors: []int{404, 409, 503}}, accounts.ScopeRead,
		func(ctx context.Context, in *sessionIDInput) (*groupsOutput, error) {
			groups, err := svc.Groups(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			out := &groupsOutput{}
			out.Body.Data = append(make([]sessions.Group, 0, len(groups)), groups...)
			return out, nil
		})
	register(s, huma.Operation{OperationID: "session-check-numbers", Method: "POST", Path: "/v1/sessions/{id}/check-numbers",
		Summary: "Check which numbers are on WhatsApp", Tags: tags, Errors: []int{404, 409, 503}}, accounts.ScopeSend,
		func(ctx context.Context, in *checkNumbersInput) (*checkNumbersOutput, error) {
			res, err := svc.CheckNumbers(ctx, in.ID, in.Body.Phones)
			if err != nil {
				return nil, err
			}
			out := &checkNumbersOutput{}
			out.Body.Data = res
			return out, nil
		})

	if !svc.Simulated() {
		return // with the real backend these routes do not exist
	}
	simTags := []string{"Simulator"}
	register(s, huma.Operation{OperationID: "simulator-scan", Method: "POST", Path: "/v1/simulator/sessions/{id}/scan", DefaultStatus: 204,
		Summary: "Simulator: scan the QR code", Description: "Only with CHATSEND_WHATSAPP_BACKEND=simulator: the session links with a made-up number.",
		Tags: simTags, Errors: []int{404, 409}}, accounts.ScopeFull,
		func(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
			return nil, svc.SimulateScan(ctx, in.ID)
		})
	register(s, huma.Operation{OperationID: "simulator-inbound", Method: "POST", Path: "/v1/simulator/sessions/{id}/inbound", DefaultStatus: 204,
		Summary: "Simulator: a contact writes", Description: "Only with CHATSEND_WHATSAPP_BACKEND=simulator: delivers an inbound message to the session.",
		Tags: simTags, Errors: []int{404, 409}}, accounts.ScopeFull,
		func(ctx context.Context, in *simInboundInput) (*struct{}, error) {
			return nil, svc.SimulateInbound(ctx, in.ID, in.Body.From, in.Body.Text)
		})
}
