package ids_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/ids"
)

func TestRoundTripAndValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := ids.New(ids.Message)
		if seen[id] || !ids.Valid(ids.Message, id) || ids.Valid(ids.Contact, id) {
			t.Fatalf("bad id %s", id)
		}
		seen[id] = true
		b, ok := ids.Bytes(ids.Message, id)
		if !ok || ids.FromBytes(ids.Message, b) != id {
			t.Fatalf("round trip of %s failed", id)
		}
	}
	for _, bad := range []string{"", "msg_", "msg_0123456789abcdefghjkmnpqrs!", "msg_0123456789ABCDEFGHJKMNPQRS", "con_01m89kngna0ma3mbfxyye997j1"} {
		if ids.Valid(ids.Message, bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
