package contacts_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/contacts"
)

type want struct {
	line   int
	fields string // fields joined by "|", or "" when rejected
	reason string // a substring of the reason, or "" when the record parsed
}

func check(t *testing.T, data string, wants []want) []contacts.Record {
	t.Helper()
	recs, _, err := contacts.ReadRecords([]byte(data), contacts.Checkpoint{Offset: 0, Line: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(wants) {
		t.Fatalf("got %d records, want %d: %+v", len(recs), len(wants), summarize(recs))
	}
	for i, w := range wants {
		r := recs[i]
		if r.Line != w.line || (w.reason == "") != (r.Reason == "") || !strings.Contains(r.Reason, w.reason) ||
			(w.reason == "" && strings.Join(r.Fields, "|") != w.fields) {
			t.Errorf("record %d: got line %d fields %q reason %q; want line %d fields %q reason ~%q",
				i, r.Line, r.Fields, r.Reason, w.line, w.fields, w.reason)
		}
	}
	return recs
}

func summarize(recs []contacts.Record) []string {
	var out []string
	for _, r := range recs {
		f := strings.Join(r.Fields, "|")
		if len(f) > 40 {
			f = f[:40] + "…"
		}
		out = append(out, fmt.Sprintf("%d:%s:%s", r.Line, f, r.Reason))
	}
	return out
}

// TestCSVRecords covers the record reader on good and broken input: a
// broken line is rejected by its number and the rest is read.
func TestCSVRecords(t *testing.T) {
	big := strings.Repeat("x", contacts.MaxLineBytes+10)
	huge := strings.Repeat("y", 10_000_000)
	for _, tc := range []struct {
		name  string
		data  string
		wants []want
	}{
		{"plain", "phone,name\n+1,a\n+2,b\n", []want{{1, "phone|name", ""}, {2, "+1|a", ""}, {3, "+2|b", ""}}},
		{"no final newline and CRLF", "a,b\r\n+1,x\r\n+2,y", []want{{1, "a|b", ""}, {2, "+1|x", ""}, {3, "+2|y", ""}}},
		{"blank lines skipped", "h\n\n\n+1\n\r\n+2\n\n", []want{{1, "h", ""}, {4, "+1", ""}, {6, "+2", ""}}},
		{"quoted fields with commas, quotes and line breaks", "h,n\n+1,\"Lima, \"\"Ana\"\"\"\n+2,\"two\nlines\"\n+3,c\n",
			[]want{{1, "h|n", ""}, {2, "+1|Lima, \"Ana\"", ""}, {3, "+2|two\nlines", ""}, {5, "+3|c", ""}}},
		{"bare quote", "h,n\n+1,Ana \"the boss\"\n+2,b\n", []want{{1, "h|n", ""}, {2, "", "broken quoting"}, {3, "+2|b", ""}}},
		{"text after a closing quote", "h,n\n+1,\"Ana\"x\n+2,b\n", []want{{1, "h|n", ""}, {2, "", "broken quoting"}, {3, "+2|b", ""}}},
		{"unclosed quote does not swallow the file", "h,n\n+1,\"Ana\n+2,b\n+3,c\n",
			[]want{{1, "h|n", ""}, {2, "", "broken quoting"}, {3, "+2|b", ""}, {4, "+3|c", ""}}},
		{"unclosed quote on the last line", "h,n\n+1,b\n+2,\"c\n", []want{{1, "h|n", ""}, {2, "+1|b", ""}, {3, "", "broken quoting"}}},
		{"quote closed lines later by another broken line", "h,n\n+1,\"Ana\n+2,b\n+3,\"c\"d\n+4,e\n",
			[]want{{1, "h|n", ""}, {2, "", "broken quoting"}, {3, "+2|b", ""}, {4, "", "broken quoting"}, {5, "+4|e", ""}}},
		{"line over 64 KiB", "h,n\n+1," + big + "\n+2,b\n", []want{{1, "h|n", ""}, {2, "", "longer than 64 KiB"}, {3, "+2|b", ""}}},
		{"10 MB line", "h,n\n+1," + huge + "\n+2,b\n", []want{{1, "h|n", ""}, {2, "", "longer than 64 KiB"}, {3, "+2|b", ""}}},
		{"long unclosed quote", "h,n\n+1,\"" + big + "\n+2,b\n", []want{{1, "h|n", ""}, {2, "", "longer than 64 KiB"}, {3, "+2|b", ""}}},
		{"unclosed quote running into a long line", "h,n\n+1,\"a\n+2," + big + "\n+3,c\n",
			[]want{{1, "h|n", ""}, {2, "", "not closed"}, {3, "", "longer than 64 KiB"}, {4, "+3|c", ""}}},
		{"blank lines before a long line", "h\n" + strings.Repeat("\n", 70_000) + "+1,ok\n+2," + big + "\n+3\n",
			[]want{{1, "h", ""}, {70_002, "+1|ok", ""}, {70_003, "", "longer than 64 KiB"}, {70_004, "+3", ""}}},
		{"wrong field count is not the reader's business", "a,b\n+1\n+2,b,c\n", []want{{1, "a|b", ""}, {2, "+1", ""}, {3, "+2|b|c", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.data, tc.wants) })
	}
}

// TestCSVResume: reading from any record's end checkpoint gives exactly the
// records that followed it in a full read, so a job resumed there neither
// skips nor repeats a row.
func TestCSVResume(t *testing.T) {
	data := "phone,name,tags\r\n+1,\"a\nb\",x\n\n+2,\"bad\n+3,c,y\n+4,\"d\"e,z\n" + strings.Repeat("w", contacts.MaxLineBytes+1) +
		"\n+5,\"f,g\",\"t1;t2\"\n\n\n+6,h,i"
	all, opens, err := contacts.ReadRecords([]byte(data), contacts.Checkpoint{Offset: 0, Line: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 8 {
		t.Fatalf("full read: %v", summarize(all))
	}
	if opens > 4 { // the first open, one per broken record, one more for the blank line before the first
		t.Errorf("%d opens for 2 broken multi-line records", opens)
	}
	for i, r := range all {
		rest, _, err := contacts.ReadRecords([]byte(data), r.End)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rest, all[i+1:]) && !(len(rest) == 0 && i == len(all)-1) {
			t.Errorf("resume after line %d: got %v, want %v", r.Line, summarize(rest), summarize(all[i+1:]))
		}
	}
}
