package billing_test

import (
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/billing"
)

func TestEvaluateEveryStatus(t *testing.T) {
	plans := billing.MustDefaultCatalog(map[string]string{"starter": "price_s", "pro": "price_p"})
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	grace := 7 * 24 * time.Hour
	free, starter := billing.DefaultLimits["free"], billing.DefaultLimits["starter"]
	tests := []struct {
		status     billing.Status
		pastDue    time.Time
		plan       billing.Limits
		sending    bool
		restricted bool
		warning    bool
	}{
		{billing.StatusNone, time.Time{}, free, true, false, false},
		{billing.StatusTrialing, time.Time{}, starter, true, false, false},
		{billing.StatusActive, time.Time{}, starter, true, false, false},
		{billing.StatusPastDue, now.Add(-time.Hour), starter, true, false, true},          // in grace
		{billing.StatusPastDue, now.Add(-8 * 24 * time.Hour), starter, false, true, true}, // grace over
		{billing.StatusIncomplete, time.Time{}, free, true, true, true},
		{billing.StatusIncompleteExpired, time.Time{}, free, true, true, true},
		{billing.StatusUnpaid, time.Time{}, free, true, true, true},
		{billing.StatusCanceled, time.Time{}, free, true, true, true},
		{billing.StatusPaused, time.Time{}, free, true, true, true},
		{"something_new", time.Time{}, free, true, true, true}, // unknown fails safe
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			a := billing.Evaluate(billing.State{Status: tc.status, PlanID: "starter", PastDueSince: tc.pastDue}, plans, grace, now)
			if a.Plan.Limits != tc.plan {
				t.Errorf("limits %+v, want %+v", a.Plan.Limits, tc.plan)
			}
			if a.SendingAllowed != tc.sending || a.Restricted != tc.restricted || (a.Warning != "") != tc.warning {
				t.Errorf("sending %v restricted %v warning %q; want %v %v %v", a.SendingAllowed, a.Restricted, a.Warning, tc.sending, tc.restricted, tc.warning)
			}
		})
	}
	for _, st := range billing.Statuses { // every status is covered above
		found := false
		for _, tc := range tests {
			found = found || tc.status == st
		}
		if !found {
			t.Errorf("status %s not covered", st)
		}
	}
}

func TestPlanLimitOverride(t *testing.T) {
	tests := []struct {
		in      map[string]int64
		wantErr bool
	}{
		{map[string]int64{"contacts": 5, "sessions": 2}, false},
		{map[string]int64{"nonsense": 1}, true},
		{nil, false},
	}
	for _, tc := range tests {
		l, err := billing.DefaultLimits["free"].Override(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%v: err %v", tc.in, err)
		}
		if !tc.wantErr && tc.in["contacts"] != 0 && l.Contacts != tc.in["contacts"] {
			t.Errorf("contacts %d", l.Contacts)
		}
	}
}
