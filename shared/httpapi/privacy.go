package httpapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/privacy"
)

// PrivacyRequestJSON is a privacy request as the API shows it.
type PrivacyRequestJSON struct {
	ID          string         `json:"id" example:"prq_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Type        string         `json:"type" enum:"export,erase,restrict,unrestrict,object,withdraw_consent,contact_erase"`
	Status      string         `json:"status" enum:"received,verifying,running,completed,failed"`
	Phase       string         `json:"phase,omitempty" doc:"The step the job is at (its checkpoint)."`
	DueAt       time.Time      `json:"due_at" doc:"When the request must be answered at the latest: one month after it was received."`
	Result      privacy.Result `json:"result" doc:"What the request did: for an export the download link (24 h); for an erase counts per store and what was kept and why."`
	Failure     string         `json:"failure,omitempty" doc:"Why a failed request failed."`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	CompletedAt *time.Time     `json:"completed_at" doc:"Null until the request ends."`
}

func privacyJSON(r privacy.Request) PrivacyRequestJSON {
	return PrivacyRequestJSON{ID: r.ID, Type: string(r.Type), Status: string(r.Status), Phase: r.Phase, DueAt: r.DueAt,
		Result: r.Result, Failure: r.Failure, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CompletedAt: timePtr(r.CompletedAt)}
}

type (
	createPrivacyInput struct {
		Body struct {
			Type     string `json:"type" enum:"export,erase,restrict,unrestrict,object,withdraw_consent"`
			Password string `json:"password,omitempty" maxLength:"256" doc:"The account password: needed for export and erase unless you use a dashboard login less than 10 minutes old. Never stored or logged."`
		}
	}
	privacyOutput struct {
		Body PrivacyRequestJSON
	}
	listPrivacyOutput struct {
		Body struct {
			Data []PrivacyRequestJSON `json:"data"`
		}
	}
	privacyIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	contactPhoneInput struct {
		Body struct {
			Phone string `json:"phone" maxLength:"32" example:"+4915112345678"`
		}
	}
	contactExportOutput struct {
		Body map[string]any
	}
	downloadOutput struct {
		Location string `header:"Location" doc:"A presigned URL of the ZIP, valid 15 minutes."`
	}
)

func (s *Server) privacyRoutes() {
	tags := []string{"Privacy"}
	register(s, huma.Operation{OperationID: "create-privacy-request", Method: "POST", Path: "/v1/privacy/requests", DefaultStatus: 202,
		Summary: "Make a privacy request",
		Description: "export: a ZIP of all your data (download link valid 24 h, file deleted after 7 days). " +
			"erase: deletes the account and all its data for good, keeping only what law requires. " +
			"restrict / unrestrict: stop and resume processing (sends, campaigns) while data stays stored. " +
			"object / withdraw_consent: product and marketing emails and usage analytics off. " +
			"export and erase need the account password (or a dashboard login less than 10 minutes old). " +
			"Requests run asynchronously; poll GET /v1/privacy/requests/{id}.",
		Tags: tags}, accounts.ScopeFull,
		func(ctx context.Context, in *createPrivacyInput) (*privacyOutput, error) {
			p, _ := PrincipalFrom(ctx)
			r, err := s.privacy.Create(ctx, privacy.Type(in.Body.Type), privacy.Proof{Principal: p, Password: in.Body.Password, ClientIP: clientIPFrom(ctx)})
			if err != nil {
				return nil, err
			}
			return &privacyOutput{Body: privacyJSON(r)}, nil
		})

	register(s, huma.Operation{OperationID: "list-privacy-requests", Method: "GET", Path: "/v1/privacy/requests",
		Summary: "List privacy requests", Description: "Newest first; includes contact erasures.", Tags: tags}, accounts.ScopeRead,
		func(ctx context.Context, _ *struct{}) (*listPrivacyOutput, error) {
			rs, err := s.privacy.List(ctx)
			if err != nil {
				return nil, err
			}
			out := &listPrivacyOutput{}
			out.Body.Data = make([]PrivacyRequestJSON, 0, len(rs))
			for _, r := range rs {
				out.Body.Data = append(out.Body.Data, privacyJSON(r))
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "get-privacy-request", Method: "GET", Path: "/v1/privacy/requests/{id}",
		Summary: "Get a privacy request", Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *privacyIDInput) (*privacyOutput, error) {
			r, err := s.privacy.Get(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &privacyOutput{Body: privacyJSON(r)}, nil
		})

	register(s, huma.Operation{OperationID: "download-privacy-export", Method: "GET", Path: "/v1/privacy/requests/{id}/download",
		DefaultStatus: 303, Summary: "Download an export",
		Description: "Redirects to a fresh presigned URL of a completed export's ZIP (valid 15 minutes), for as long as the " +
			"export's download period lasts (24 h). Use it when the result's download_url no longer works.",
		Tags: tags, Errors: []int{404, 409}}, accounts.ScopeFull,
		func(ctx context.Context, in *privacyIDInput) (*downloadOutput, error) {
			url, err := s.privacy.Download(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &downloadOutput{Location: url}, nil
		})

	register(s, huma.Operation{OperationID: "erase-contact", Method: "POST", Path: "/v1/contacts/erase", DefaultStatus: 202,
		Summary: "Erase a recipient's data",
		Description: "Erases one phone number from your account: the contact, messages (metadata and bodies), campaign " +
			"recipients and webhook delivery logs that mention it. The number stays suppressed as a hash, so it is never " +
			"re-imported or messaged by accident. Runs asynchronously as a privacy request of type contact_erase.",
		Tags: tags}, accounts.ScopeFull,
		func(ctx context.Context, in *contactPhoneInput) (*privacyOutput, error) {
			r, err := s.privacy.EraseContact(ctx, in.Body.Phone)
			if err != nil {
				return nil, err
			}
			return &privacyOutput{Body: privacyJSON(r)}, nil
		})

	register(s, huma.Operation{OperationID: "export-contact", Method: "POST", Path: "/v1/contacts/export",
		Summary: "Export a recipient's data",
		Description: "Everything your account holds about one phone number, as JSON: contact, suppression, messages " +
			"with retained bodies, webhook deliveries that mention it.",
		Tags: tags}, accounts.ScopeFull,
		func(ctx context.Context, in *contactPhoneInput) (*contactExportOutput, error) {
			out, err := s.privacy.ExportContact(ctx, in.Body.Phone)
			if err != nil {
				return nil, err
			}
			return &contactExportOutput{Body: out}, nil
		})
}
