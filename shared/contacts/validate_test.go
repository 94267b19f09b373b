package contacts_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
)

func TestNormalizeTags(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	for _, tc := range []struct {
		in      []string
		want    string // joined by ","
		problem string
	}{
		{[]string{" VIP ", "vip", "Newsletter", "b2b"}, "b2b,newsletter,vip", ""},
		{[]string{"São Paulo", "été-2025", "a/b:c.d_e+f&g@h'i"}, "a/b:c.d_e+f&g@h'i,são paulo,été-2025", ""},
		{[]string{"  "}, "", "empty"},
		{[]string{"vip#1"}, "", "character"},
		{[]string{"a;b"}, "", "character"},
		{[]string{"line\nbreak"}, "", "character"},
		{[]string{strings.Repeat("a", 51)}, "", "longer than 50"},
		{[]string{strings.Repeat("é", 50)}, strings.Repeat("é", 50), ""},
		{many, "", "at most 50 tags"},
		{append(many[:50:50], "t0"), strings.Join(sortedTags(many[:50]), ","), ""},
	} {
		got, msg := contacts.NormalizeTags(tc.in)
		if (msg == "") != (tc.problem == "") || !strings.Contains(msg, tc.problem) || (msg == "" && strings.Join(got, ",") != tc.want) {
			t.Errorf("NormalizeTags(%q) = %q, %q; want %q, ~%q", tc.in, got, msg, tc.want, tc.problem)
		}
	}
}

func sortedTags(in []string) []string {
	out, _ := contacts.NormalizeTags(in)
	return out
}

func TestCheckCustom(t *testing.T) {
	fifty := map[string]string{}
	for i := 0; i < 51; i++ {
		fifty[fmt.Sprintf("f%d", i)] = "x"
	}
	for _, tc := range []struct {
		in      map[string]string
		problem string
	}{
		{map[string]string{"birthday": "1990-01-01", "plan_2": strings.Repeat("x", 1000)}, ""},
		{map[string]string{"Birthday": "x"}, "must be 1 to 40 characters"},
		{map[string]string{"with-dash": "x"}, "must be"},
		{map[string]string{strings.Repeat("k", 41): "x"}, "must be"},
		{map[string]string{"": "x"}, "must be"},
		{map[string]string{"big": strings.Repeat("x", 1001)}, "longer than 1000 bytes"},
		{map[string]string{"bad": "\xff"}, "UTF-8"},
		{fifty, "at most 50 custom fields"},
	} {
		if msg := contacts.CheckCustom(tc.in); (msg == "") != (tc.problem == "") || !strings.Contains(msg, tc.problem) {
			t.Errorf("CheckCustom(%d fields) = %q, want ~%q", len(tc.in), msg, tc.problem)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		problem string
	}{
		{"\ufeffPhone, Name ,FIRST_NAME,tags,custom.Plan", "phone,name,first_name,tags,custom.plan", ""},
		{"phone", "phone", ""},
		{"name,email,zip", "", `unknown columns "email", "zip"`},
		{"name,tags", "", "no phone column"},
		{"phone,phone", "", "more than once: phone"},
		{"phone,custom.bad-key", "", "custom field names must be"},
	} {
		got, err := contacts.ParseHeader(strings.Split(tc.in, ","))
		if tc.problem == "" {
			if err != nil || strings.Join(got, ",") != tc.want {
				t.Errorf("ParseHeader(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.Invalid || len(e.Fields) == 0 || !strings.Contains(fmt.Sprint(e.Fields), tc.problem) {
			t.Errorf("ParseHeader(%q) error = %v, want invalid ~%q", tc.in, err, tc.problem)
		}
	}
}

func TestNormalizeReason(t *testing.T) {
	for in, want := range map[string]string{"": "manual", "Opted_Out": "opted_out", "blocked": "blocked", "spam": ""} {
		got, msg := contacts.NormalizeReason(in)
		if got != want || (want == "") != (msg != "") {
			t.Errorf("NormalizeReason(%q) = %q, %q; want %q", in, got, msg, want)
		}
	}
	if msg := contacts.CheckName("name", "Ana\nLima", 200); msg == "" {
		t.Error("a name with a line break passed")
	}
}
