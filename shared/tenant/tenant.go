// Package tenant carries the caller's account id through a request. The
// authentication middleware is the only writer; the storage layer reads it to
// scope every tenant query, and fails closed when it is missing, so a handler
// cannot forget tenant isolation.
package tenant

import (
	"context"

	"github.com/chatsend/chatsend/shared/errs"
)

type ctxKey struct{}

// With returns ctx scoped to accountID.
func With(ctx context.Context, accountID string) context.Context {
	return context.WithValue(ctx, ctxKey{}, accountID)
}

// AccountID returns the account id in ctx or an internal error: reaching a
// tenant query without a tenant is a bug, never a reason to return data.
func AccountID(ctx context.Context) (string, error) {
	if id, ok := ctx.Value(ctxKey{}).(string); ok && id != "" {
		return id, nil
	}
	return "", &errs.Error{Code: errs.Internal, Message: "internal error", Err: errNoTenant}
}

type noTenantError struct{}

func (noTenantError) Error() string { return "tenant query without a tenant in the context" }

var errNoTenant error = noTenantError{}
