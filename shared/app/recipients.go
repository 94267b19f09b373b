package app

import (
	"context"

	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/privacy"
)

// recipients implements privacy.Recipients over the table.
type recipients struct{ d *Deps }

var _ privacy.Recipients = recipients{}

// EraseRecipient implements privacy.Recipients.
func (r recipients) EraseRecipient(ctx context.Context, e164 string) (map[string]int, error) {
	return nil, errs.E(errs.Unavailable, "not yet")
}

// ExportRecipient implements privacy.Recipients.
func (r recipients) ExportRecipient(ctx context.Context, e164 string) (map[string]any, error) {
	return nil, errs.E(errs.Unavailable, "not yet")
}
