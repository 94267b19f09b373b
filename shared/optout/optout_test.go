package optout_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/optout"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"STOP", true}, {"stop", true}, {"  Stop!  ", true}, {"PARÁR", true}, {"Baja.", true}, {"sair", true},
		{"unsubscribe", true}, {"Cancel", true},
		{"please stop", false}, {"stopp", false}, {"", false}, {"!!!", false}, {"START", false},
	} {
		if got := optout.Match(tc.text, optout.DefaultKeywords); got != tc.want {
			t.Errorf("Match(%q) = %v", tc.text, got)
		}
	}
	if !optout.Match("Basta", optout.Keywords([]string{"basta", "fin"})) || optout.Match("stop", optout.Keywords([]string{"basta"})) {
		t.Error("custom keywords replace the defaults")
	}
	if !optout.Match("start", optout.OptInKeywords) {
		t.Error("START opts in")
	}
}
