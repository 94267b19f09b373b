package app

import (
	"context"

	"github.com/chatsend/chatsend/shared/campaigns"
	"github.com/chatsend/chatsend/shared/contacts"
)

// ContactsAudience adapts the contacts store to a campaign's audience.
type ContactsAudience struct {
	Store contacts.Store
	// Counter counts an audience before a campaign starts.
	Counter interface {
		CountContactsByTag(ctx context.Context, tag string) (int64, error)
	}
}

var _ campaigns.AudienceSource = ContactsAudience{}

func recipient(c contacts.Contact) campaigns.Recipient {
	return campaigns.Recipient{ContactID: c.ID, Phone: c.Phone, Name: c.Name, FirstName: c.FirstName, Custom: c.Custom}
}

// ByTag implements campaigns.AudienceSource.
func (a ContactsAudience) ByTag(ctx context.Context, tag, cursor string, limit int) (campaigns.AudiencePage, error) {
	p, err := a.Store.ListContacts(ctx, contacts.Filter{Tag: tag, Cursor: cursor, Limit: limit})
	if err != nil {
		return campaigns.AudiencePage{}, err
	}
	out := campaigns.AudiencePage{Next: p.Next, Recipients: make([]campaigns.Recipient, len(p.Contacts))}
	for i, c := range p.Contacts {
		out.Recipients[i] = recipient(c)
	}
	return out, nil
}

// ByIDs implements campaigns.AudienceSource.
func (a ContactsAudience) ByIDs(ctx context.Context, ids []string) ([]campaigns.Recipient, error) {
	cs, err := a.Store.FindContacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]campaigns.Recipient, len(cs))
	for i, c := range cs {
		out[i] = recipient(c)
	}
	return out, nil
}

// CountByTag implements campaigns.AudienceSource.
func (a ContactsAudience) CountByTag(ctx context.Context, tag string) (int64, error) {
	return a.Counter.CountContactsByTag(ctx, tag)
}

// Suppressed implements campaigns.AudienceSource.
func (a ContactsAudience) Suppressed(ctx context.Context, phones []string) (map[string]bool, error) {
	return a.Store.Suppressed(ctx, phones)
}
