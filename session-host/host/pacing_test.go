package host

import (
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/campaigns"
)

func TestQuietHours(t *testing.T) {
	at := func(hhmm string) time.Time {
		tm, _ := time.Parse("15:04", hhmm)
		return tm
	}
	night := campaigns.Pacing{QuietStart: "22:00", QuietEnd: "08:00"}
	lunch := campaigns.Pacing{QuietStart: "12:00", QuietEnd: "13:30"}
	for _, tc := range []struct {
		p     campaigns.Pacing
		now   string
		quiet bool
	}{
		{night, "21:59", false}, {night, "22:00", true}, {night, "03:00", true}, {night, "07:59", true}, {night, "08:00", false},
		{lunch, "11:59", false}, {lunch, "12:00", true}, {lunch, "13:29", true}, {lunch, "13:30", false},
		{campaigns.Pacing{}, "03:00", false},
	} {
		if got := inQuietHours(tc.p, at(tc.now)); got != tc.quiet {
			t.Errorf("%s–%s at %s: quiet=%v", tc.p.QuietStart, tc.p.QuietEnd, tc.now, got)
		}
	}
}

func TestWarmUpRamp(t *testing.T) {
	paired := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	p := campaigns.Pacing{DailyCap: 200, WarmUp: true}
	for _, tc := range []struct {
		after time.Duration
		want  int
	}{{time.Hour, 20}, {25 * time.Hour, 40}, {49 * time.Hour, 80}, {73 * time.Hour, 160}, {97 * time.Hour, 200}, {30 * 24 * time.Hour, 200}} {
		if got := dailyLimit(p, paired, paired.Add(tc.after)); got != tc.want {
			t.Errorf("after %s: %d, want %d", tc.after, got, tc.want)
		}
	}
	if got := dailyLimit(campaigns.Pacing{DailyCap: 200}, paired, paired.Add(time.Hour)); got != 200 {
		t.Errorf("warm-up off: %d", got)
	}
	if got := dailyLimit(p, time.Time{}, paired); got != 200 {
		t.Errorf("unknown pairing time: %d", got)
	}
}

func TestIntervalBounds(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := interval(8*time.Second, 20*time.Second)
		if d < 8*time.Second || d >= 20*time.Second {
			t.Fatalf("interval %s out of [8s, 20s)", d)
		}
	}
	if interval(5*time.Second, 5*time.Second) != 5*time.Second {
		t.Fatal("fixed interval")
	}
}
