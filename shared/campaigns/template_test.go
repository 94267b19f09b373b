package campaigns_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/campaigns"
)

func TestTemplate(t *testing.T) {
	r := campaigns.Recipient{FirstName: "Ana", Name: "Ana Lima", Custom: map[string]string{"city": "Porto"}}
	empty := campaigns.Recipient{}
	for _, tc := range []struct{ src, full, blank string }{
		{"Hi {{first_name}}!", "Hi Ana!", "Hi !"},
		{"Hi {{ first_name | there }}!", "Hi Ana!", "Hi there!"},
		{"{{name|friend}} from {{custom.city|your city}}", "Ana Lima from Porto", "friend from your city"},
		{"No placeholders", "No placeholders", "No placeholders"},
		{"Olá {{first_name|}}, tudo bem?", "Olá Ana, tudo bem?", "Olá , tudo bem?"},
	} {
		tpl, err := campaigns.ParseTemplate(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if got := tpl.Render(r); got != tc.full {
			t.Errorf("%q full: %q, want %q", tc.src, got, tc.full)
		}
		if got := tpl.Render(empty); got != tc.blank {
			t.Errorf("%q blank: %q, want %q", tc.src, got, tc.blank)
		}
	}
	for _, bad := range []string{"Hi {{last_name}}", "Hi {{custom.}}", "Hi {{custom.Bad-Key}}", "Hi {{first_name", "Hi first_name}}", "{{}}", "{{phone}}"} {
		if _, err := campaigns.ParseTemplate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
