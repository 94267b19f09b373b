package phone_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/phone"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ raw, region, want string }{
		{"+49 151 23456789", "", "+4915123456789"},
		{"+1 (202) 456-1111", "", "+12024561111"},
		{"0151 23456789", "DE", "+4915123456789"},
		{"(202) 456-1111", "US", "+12024561111"},
		{"0151 23456789", "", ""},
		{"+1 555", "", ""},
		{"hello", "", ""},
		{"", "US", ""},
		{"+999 1234567", "", ""},
	} {
		got, msg := phone.Normalize(tc.raw, tc.region)
		if got != tc.want || (tc.want == "") != (msg != "") {
			t.Errorf("Normalize(%q, %q) = %q, %q; want %q", tc.raw, tc.region, got, msg, tc.want)
		}
	}
}
