package dynamo_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatsend/chatsend/shared/dynamo"
	"github.com/chatsend/chatsend/shared/retention"
)

// TestRetentionDocMatchesCode: docs/retention.md lists exactly the classes
// of shared/retention, each with its period and reason, and names every
// item type the adapter writes under its class.
func TestRetentionDocMatchesCode(t *testing.T) {
	raw, err := os.ReadFile("../../docs/retention.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // class → cells
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "`") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		class := strings.Trim(cells[0], "`")
		if _, dup := rows[class]; dup {
			t.Errorf("class %s listed twice", class)
		}
		rows[class] = cells
	}
	for _, p := range retention.Policies() {
		cells, ok := rows[string(p.Class)]
		if !ok {
			t.Errorf("docs/retention.md lacks class %s", p.Class)
			continue
		}
		delete(rows, string(p.Class))
		if want := periodText(p); cells[1] != want {
			t.Errorf("class %s: period %q, want %q", p.Class, cells[1], want)
		}
		if cells[2] != p.Why {
			t.Errorf("class %s: why %q, want %q (from shared/retention)", p.Class, cells[2], p.Why)
		}
	}
	for class := range rows {
		t.Errorf("docs/retention.md lists class %s, which the code does not have", class)
	}
	classes := map[string][]string{}
	for _, p := range retention.Policies() {
		classes[string(p.Class)] = rowOf(string(raw), string(p.Class))
	}
	for typ, class := range dynamo.ItemClasses() {
		row := strings.Join(classes[string(class)], "|")
		if !strings.Contains(row, "`"+typ+"`") {
			t.Errorf("item type %s (class %s) is not named in its class's row", typ, class)
		}
	}
}

func rowOf(doc, class string) []string {
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `"+class+"` |") {
			return strings.Split(line, "|")
		}
	}
	return nil
}

// periodText is how the doc writes a class's period.
func periodText(p retention.Policy) string {
	text := func(d time.Duration) string {
		day := 24 * time.Hour
		switch {
		case d%(365*day) == 0:
			return fmt.Sprintf("%d years", d/(365*day))
		case d == day:
			return "1 day"
		case d%day == 0:
			return fmt.Sprintf("%d days", d/day)
		case d%time.Hour == 0:
			return fmt.Sprintf("%d h", d/time.Hour)
		default:
			return fmt.Sprintf("%d min", d/time.Minute)
		}
	}
	if p.Period == 0 {
		return "while the account exists"
	}
	if p.Max > 0 {
		return fmt.Sprintf("%s (account setting: 0–%s)", text(p.Period), text(p.Max))
	}
	return text(p.Period)
}
