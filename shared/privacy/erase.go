package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/chatsend/chatsend/shared/accounts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/retention"
)

// TypeBillingRecord is the item type of the billing records an erasure
// keeps (the legal remainder).
const TypeBillingRecord = "billing_record"

// credentialTypes are revoked first, so the account cannot be used while
// the rest is erased.
var credentialTypes = map[string]bool{"api_key": true, "api_key_hash": true, "login_session": true}

func (s *Service) countDeleted(j *job, deleted map[string]int) {
	for t, n := range deleted {
		j.r.Result.add(&j.r.Result.Deleted, "table:"+t, n)
	}
}

// eraseCredentials revokes every API key (both items) and login.
func (s *Service) eraseCredentials(ctx context.Context, j *job) error {
	deleted, _, err := s.o.Store.DeleteAccountItems(ctx, func(t string) bool { return credentialTypes[t] })
	if err != nil {
		return err
	}
	s.countDeleted(j, deleted)
	return nil
}

// eraseStop restricts the account, so the session host sends nothing more
// while the rest is erased.
func (s *Service) eraseStop(ctx context.Context, j *job) error {
	err := s.o.Accounts.SetFlag(ctx, accounts.FlagRestricted, j.r.CreatedAt)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	return err
}

// eraseSessions asks the session host to log out and delete every session
// with its device keys (the normal session delete), then waits for the
// host to finish — at most SessionWait in all, across restarts of the job.
func (s *Service) eraseSessions(ctx context.Context, j *job) error {
	list, err := s.o.Sessions.List(ctx)
	if err != nil {
		return err
	}
	for _, ses := range list {
		if err := s.o.Sessions.Delete(ctx, ses.ID); err != nil && !errs.Is(err, errs.NotFound) {
			return fmt.Errorf("delete session %s: %w", ses.ID, err)
		}
	}
	if j.r.WaitStartedAt.IsZero() {
		j.r.WaitStartedAt = s.o.Now().UTC()
		j.r.Result.add(&j.r.Result.Deleted, "whatsapp:sessions", len(list))
		if err := s.save(ctx, j.r); err != nil {
			return err
		}
	}
	for {
		left, err := s.o.Store.CountSessionItems(ctx)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if s.o.Now().Sub(j.r.WaitStartedAt) >= s.o.SessionWait {
			j.r.Result.Notes = append(j.r.Result.Notes, fmt.Sprintf("%d WhatsApp session(s) were not confirmed deleted by the session host within %s; "+
				"their records are erased below and the host deletes their device keys when it next reconciles them", left, s.o.SessionWait))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.o.PollEvery):
		}
	}
}

// eraseObjects deletes every object of the account in every bucket.
func (s *Service) eraseObjects(ctx context.Context, j *job) error {
	for _, b := range s.o.Buckets {
		n, err := b.DeletePrefix(ctx, j.AccountID+"/")
		if err != nil {
			return err
		}
		j.r.Result.add(&j.r.Result.Deleted, "s3:"+b.Name(), n)
	}
	// Earlier exports' download links name the account's (now deleted)
	// objects: scrub them from the requests that outlive the account.
	reqs, err := s.o.Store.ListRequests(ctx, j.r.Subject)
	if err != nil {
		return fmt.Errorf("list privacy requests: %w", err)
	}
	for _, r := range reqs {
		if r.ID == j.r.ID || r.Result.DownloadURL == "" {
			continue
		}
		r.Result.DownloadURL, r.Result.DownloadExpiresAt = "", nil
		r.Result.Notes = append(r.Result.Notes, "the export was deleted when the account was erased")
		if err := s.save(ctx, &r); err != nil {
			return err
		}
	}
	return nil
}

// eraseBilling deletes or redacts the payment provider's customer.
func (s *Service) eraseBilling(ctx context.Context, j *job) error {
	if s.o.Billing == nil {
		j.r.Result.Notes = append(j.r.Result.Notes, "billing is not configured: no payment-provider customer to delete")
		return nil
	}
	kept, err := s.o.Billing.EraseBilling(ctx)
	if err != nil {
		return fmt.Errorf("erase billing: %w", err)
	}
	j.r.Result.Kept = append(j.r.Result.Kept, kept...)
	return nil
}

// eraseItems deletes every item of the account except billing records. A
// second pass catches items written while the first ran (a late status
// update); the by_account index is eventually consistent, so passes repeat
// until one deletes nothing.
func (s *Service) eraseItems(ctx context.Context, j *job) error {
	for pass := 0; pass < 5; pass++ {
		deleted, kept, err := s.o.Store.DeleteAccountItems(ctx, func(t string) bool { return t != TypeBillingRecord })
		if err != nil {
			return err
		}
		s.countDeleted(j, deleted)
		j.r.Result.Counts = nil
		for t, n := range kept {
			j.r.Result.add(&j.r.Result.Counts, "kept:"+t, n)
		}
		if len(deleted) == 0 {
			return nil
		}
	}
	return nil
}

// eraseSummary states what was kept and why.
func (s *Service) eraseSummary(ctx context.Context, j *job) error {
	r := &j.r.Result
	if n := r.Counts["kept:"+TypeBillingRecord]; n > 0 {
		r.Kept = append(r.Kept, fmt.Sprintf("%d billing record(s) (invoices, minimal billing data): %s; deleted after %d years",
			n, retention.PolicyFor(retention.BillingRecord).Why, int(retention.PolicyFor(retention.BillingRecord).Period.Hours()/24/365)))
	}
	r.Kept = append(r.Kept,
		fmt.Sprintf("this request's audit record (a hash of the account id, the request type and timestamps, the counts above; no content): %s; deleted after %d years",
			retention.PolicyFor(retention.PrivacyAudit).Why, int(retention.PolicyFor(retention.PrivacyAudit).Period.Hours()/24/365)),
		"database backups (point-in-time recovery) still hold erased data for up to 35 days, then it is gone")
	return nil
}
