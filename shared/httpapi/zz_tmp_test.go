package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTmpRace100k(t *testing.T) {
	if false {
		t.Skip("100,000 rows: run without -short and -race, or see make bench")
	}
	e := contactsEnv(t)
	a := e.SignUp("big@example.com")
	var b strings.Builder
	b.WriteString("phone,name,tags,custom.plan\n")
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&b, "+49151%08d,Name %d,vip;t%d,gold\n", i, i, i%7)
	}
	start := time.Now()
	done := importCSV(t, e, a.Key, b.String(), 5*time.Minute)
	if got, want := importCounts(done), "completed processed=100000 created=100000 updated=0 unchanged=0 rejected=0"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	t.Logf("100,000 rows in %s (%.0f rows/s)", time.Since(start).Round(time.Millisecond), 100_000/time.Since(start).Seconds())
}
