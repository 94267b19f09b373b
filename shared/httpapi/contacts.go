package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
)

// ContactJSON is a contact as the API shows it.
type ContactJSON struct {
	ID        string            `json:"id" example:"con_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Phone     string            `json:"phone" example:"+4915112345678" doc:"E.164; unique within the account."`
	Name      string            `json:"name"`
	FirstName string            `json:"first_name"`
	Tags      []string          `json:"tags" doc:"Lowercase, sorted."`
	Custom    map[string]string `json:"custom" doc:"Template fields: {{custom.FIELD}}."`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func contactJSON(c contacts.Contact) ContactJSON {
	j := ContactJSON{ID: c.ID, Phone: c.Phone, Name: c.Name, FirstName: c.FirstName, Tags: c.Tags, Custom: c.Custom,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if j.Custom == nil {
		j.Custom = map[string]string{}
	}
	return j
}

// ImportJSON is a contact import job and its progress.
type ImportJSON struct {
	ID            string            `json:"id" example:"imp_01jd8x2m3n4p5q6r7s8t9v0w1x"`
	Status        string            `json:"status" enum:"queued,running,completed,failed"`
	Processed     int               `json:"processed" doc:"Data rows read so far: created + updated + unchanged + rejected."`
	Created       int               `json:"created"`
	Updated       int               `json:"updated"`
	Unchanged     int               `json:"unchanged" doc:"Rows that matched an existing contact without changing it (a re-imported file)."`
	Rejected      int               `json:"rejected"`
	Errors        []ImportErrorJSON `json:"errors" doc:"The first 1,000 rejected lines."`
	FailureReason string            `json:"failure_reason,omitempty" doc:"Why a failed job failed (the file as a whole)."`
	CreatedAt     time.Time         `json:"created_at"`
	CompletedAt   *time.Time        `json:"completed_at" doc:"Null until the job ends."`
}

// ImportErrorJSON is one rejected line of an import.
type ImportErrorJSON struct {
	Line   int    `json:"line" doc:"1-based line number in the file; the header is line 1."`
	Reason string `json:"reason"`
}

func importJSON(j contacts.ImportJob) ImportJSON {
	out := ImportJSON{ID: j.ID, Status: string(j.Status), Processed: j.Processed, Created: j.Created, Updated: j.Updated,
		Unchanged: j.Unchanged, Rejected: j.Rejected, Errors: make([]ImportErrorJSON, 0, len(j.Errors)),
		FailureReason: j.FailureReason, CreatedAt: j.CreatedAt}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, ImportErrorJSON{Line: e.Line, Reason: e.Reason})
	}
	if !j.CompletedAt.IsZero() {
		t := j.CompletedAt
		out.CompletedAt = &t
	}
	return out
}

// SuppressionJSON is a suppressed phone number.
type SuppressionJSON struct {
	Phone     string    `json:"phone" example:"+4915112345678"`
	Reason    string    `json:"reason" enum:"manual,opted_out,complaint,blocked"`
	CreatedAt time.Time `json:"created_at"`
}

func suppressionJSON(s contacts.Suppression) SuppressionJSON {
	return SuppressionJSON{Phone: s.Phone, Reason: s.Reason, CreatedAt: s.CreatedAt}
}

type (
	contactBody struct {
		Phone     string            `json:"phone" maxLength:"64" example:"+4915112345678" doc:"E.164, or national format read with the account's default_region."`
		Name      string            `json:"name,omitempty" maxLength:"1000"`
		FirstName string            `json:"first_name,omitempty" maxLength:"1000"`
		Tags      []string          `json:"tags,omitempty" maxItems:"200" doc:"At most 50; 1 to 50 letters, digits, spaces and - _ . : / + & @ ' each; stored lowercase."`
		Custom    map[string]string `json:"custom,omitempty" doc:"At most 50 fields; names of a-z, 0-9 and _ (1 to 40), values up to 1,000 bytes."`
	}
	createContactInput struct {
		Body contactBody
	}
	contactOutput struct {
		Body ContactJSON
	}
	contactIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	patchContactInput struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Phone     *string            `json:"phone,omitempty" maxLength:"64"`
			Name      *string            `json:"name,omitempty" maxLength:"1000"`
			FirstName *string            `json:"first_name,omitempty" maxLength:"1000"`
			Tags      *[]string          `json:"tags,omitempty" maxItems:"200" doc:"Replaces all tags."`
			Custom    *map[string]string `json:"custom,omitempty" doc:"Replaces all custom fields."`
		}
	}
	listContactsInput struct {
		Tag    string `query:"tag" maxLength:"200" doc:"Only contacts with this tag."`
		Cursor string `query:"cursor" maxLength:"2048" doc:"next_cursor of the previous page."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}
	listContactsOutput struct {
		Body struct {
			Data       []ContactJSON `json:"data"`
			NextCursor *string       `json:"next_cursor" doc:"Null on the last page."`
		}
	}
	importInput struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"text/csv"`
	}
	importOutput struct {
		Body ImportJSON
	}
	importIDInput struct {
		ID string `path:"id" maxLength:"64"`
	}
	suppressInput struct {
		Body struct {
			Phone  string `json:"phone" maxLength:"64" example:"+4915112345678"`
			Reason string `json:"reason,omitempty" maxLength:"32" doc:"manual (default), opted_out, complaint or blocked."`
		}
	}
	suppressionOutput struct {
		Status int
		Body   SuppressionJSON
	}
	listSuppressionsInput struct {
		Cursor string `query:"cursor" maxLength:"2048"`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}
	listSuppressionsOutput struct {
		Body struct {
			Data       []SuppressionJSON `json:"data"`
			NextCursor *string           `json:"next_cursor" doc:"Null on the last page."`
		}
	}
	suppressionPhoneInput struct {
		Phone string `path:"phone" maxLength:"64" doc:"The number, URL-escaped: %2B4915112345678."`
	}
)

// cursorJSON turns an empty cursor into null.
func cursorJSON(c string) *string {
	if c == "" {
		return nil
	}
	return &c
}

// region is the caller's default region for phone numbers written
// without a country code.
func (s *Server) region(ctx context.Context) (string, error) {
	a, err := s.accounts.GetAccount(ctx)
	return a.DefaultRegion, err
}

func (s *Server) contactRoutes() {
	tags := []string{"Contacts"}
	svc := s.contacts
	register(s, huma.Operation{OperationID: "create-contact", Method: "POST", Path: "/v1/contacts", DefaultStatus: 201,
		Summary: "Create a contact", Description: "The phone number is normalised to E.164 and is unique per account (409 if taken).",
		Tags: tags, Errors: []int{409}}, accounts.ScopeFull,
		func(ctx context.Context, in *createContactInput) (*contactOutput, error) {
			region, err := s.region(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			c, err := svc.CreateContact(ctx, region, contacts.ContactInput{Phone: b.Phone, Name: b.Name, FirstName: b.FirstName, Tags: b.Tags, Custom: b.Custom})
			if err != nil {
				return nil, err
			}
			return &contactOutput{Body: contactJSON(c)}, nil
		})
	register(s, huma.Operation{OperationID: "list-contacts", Method: "GET", Path: "/v1/contacts", Summary: "List contacts",
		Description: "Oldest first, optionally with a tag; follow next_cursor for the next page.", Tags: tags}, accounts.ScopeRead,
		func(ctx context.Context, in *listContactsInput) (*listContactsOutput, error) {
			page, err := svc.ListContacts(ctx, contacts.Filter{Tag: in.Tag, Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, err
			}
			out := &listContactsOutput{}
			out.Body.Data = make([]ContactJSON, 0, len(page.Contacts))
			for _, c := range page.Contacts {
				out.Body.Data = append(out.Body.Data, contactJSON(c))
			}
			out.Body.NextCursor = cursorJSON(page.Next)
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-contact", Method: "GET", Path: "/v1/contacts/{id}", Summary: "Get a contact",
		Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *contactIDInput) (*contactOutput, error) {
			c, err := svc.GetContact(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &contactOutput{Body: contactJSON(c)}, nil
		})
	register(s, huma.Operation{OperationID: "update-contact", Method: "PATCH", Path: "/v1/contacts/{id}", Summary: "Update a contact",
		Description: "Changes the fields given; tags and custom replace the whole set.", Tags: tags, Errors: []int{404, 409}}, accounts.ScopeFull,
		func(ctx context.Context, in *patchContactInput) (*contactOutput, error) {
			region, err := s.region(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			c, err := svc.UpdateContact(ctx, region, in.ID, contacts.ContactPatch{Phone: b.Phone, Name: b.Name, FirstName: b.FirstName, Tags: b.Tags, Custom: b.Custom})
			if err != nil {
				return nil, err
			}
			return &contactOutput{Body: contactJSON(c)}, nil
		})
	register(s, huma.Operation{OperationID: "delete-contact", Method: "DELETE", Path: "/v1/contacts/{id}", DefaultStatus: 204,
		Summary: "Delete a contact", Tags: tags, Errors: []int{404}}, accounts.ScopeFull,
		func(ctx context.Context, in *contactIDInput) (*struct{}, error) {
			return nil, svc.DeleteContact(ctx, in.ID)
		})

	register(s, huma.Operation{OperationID: "import-contacts", Method: "POST", Path: "/v1/contacts/imports", DefaultStatus: 202,
		Summary: "Import contacts from a CSV file",
		Description: "The body is the CSV file itself (`Content-Type: text/csv`, UTF-8, at most 10 MiB). The header row names the " +
			"columns: `phone` (required), `name`, `first_name`, `tags` (several separated by `;` or `,`) and `custom.<field>`. " +
			"A row matches an existing contact by phone number; its non-empty cells update the contact and its tags are added. " +
			"Bad rows are reported by line and never stop the rest; importing the same file again changes nothing. " +
			"Poll the returned job for progress.",
		Tags: tags, MaxBodyBytes: contacts.MaxImportBytes + 1, // huma answers 413 when it reads MaxBodyBytes bytes
		Middlewares: huma.Middlewares{s.limitImportSize}}, accounts.ScopeFull,
		func(ctx context.Context, in *importInput) (*importOutput, error) {
			region, err := s.region(ctx)
			if err != nil {
				return nil, err
			}
			job, err := svc.StartImport(ctx, region, in.ContentType, in.RawBody)
			if err != nil {
				return nil, err
			}
			return &importOutput{Body: importJSON(job)}, nil
		})
	register(s, huma.Operation{OperationID: "get-contact-import", Method: "GET", Path: "/v1/contacts/imports/{id}",
		Summary: "Get an import's progress", Tags: tags, Errors: []int{404}}, accounts.ScopeRead,
		func(ctx context.Context, in *importIDInput) (*importOutput, error) {
			job, err := svc.GetImport(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &importOutput{Body: importJSON(job)}, nil
		})

	supTags := []string{"Suppressions"}
	register(s, huma.Operation{OperationID: "create-suppression", Method: "POST", Path: "/v1/suppressions", DefaultStatus: 201,
		Summary: "Suppress a phone number", Description: "A suppressed number never receives campaign messages. " +
			"201 when added; 200 with the existing suppression when the number was already suppressed.",
		Tags: supTags}, accounts.ScopeFull,
		func(ctx context.Context, in *suppressInput) (*suppressionOutput, error) {
			region, err := s.region(ctx)
			if err != nil {
				return nil, err
			}
			sup, created, err := svc.AddSuppression(ctx, region, in.Body.Phone, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			out := &suppressionOutput{Status: 201, Body: suppressionJSON(sup)}
			if !created {
				out.Status = 200
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "list-suppressions", Method: "GET", Path: "/v1/suppressions", Summary: "List suppressed numbers",
		Tags: supTags}, accounts.ScopeRead,
		func(ctx context.Context, in *listSuppressionsInput) (*listSuppressionsOutput, error) {
			page, err := svc.ListSuppressions(ctx, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &listSuppressionsOutput{}
			out.Body.Data = make([]SuppressionJSON, 0, len(page.Suppressions))
			for _, sup := range page.Suppressions {
				out.Body.Data = append(out.Body.Data, suppressionJSON(sup))
			}
			out.Body.NextCursor = cursorJSON(page.Next)
			return out, nil
		})
	register(s, huma.Operation{OperationID: "delete-suppression", Method: "DELETE", Path: "/v1/suppressions/{phone}", DefaultStatus: 204,
		Summary: "Lift a suppression", Tags: supTags, Errors: []int{404, 422}}, accounts.ScopeFull,
		func(ctx context.Context, in *suppressionPhoneInput) (*struct{}, error) {
			region, err := s.region(ctx)
			if err != nil {
				return nil, err
			}
			return nil, svc.DeleteSuppression(ctx, region, in.Phone)
		})
}

// limitImportSize refuses an import whose declared size is over the limit
// before its body is read, with a message about the file.
func (s *Server) limitImportSize(hctx huma.Context, next func(huma.Context)) {
	if n, err := strconv.ParseInt(hctx.Header("Content-Length"), 10, 64); err == nil && n > contacts.MaxImportBytes {
		s.writeErr(hctx, errs.E(errs.TooLarge, "the CSV file is larger than 10 MiB; split it into several imports"))
		return
	}
	next(hctx)
}
