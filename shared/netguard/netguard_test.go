package netguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/chatsend/chatsend/shared/netguard"
)

func TestAllowed(t *testing.T) {
	for _, bad := range []string{"127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "fe80::1", "fc00::1", "fd00:ec2::254", "224.0.0.1", "::", "255.255.255.255"} {
		if netguard.Allowed(netip.MustParseAddr(bad)) {
			t.Errorf("%s allowed", bad)
		}
	}
	for _, good := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"} {
		if !netguard.Allowed(netip.MustParseAddr(good)) {
			t.Errorf("%s refused", good)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, bad := range []string{"http://example.com/x", "ftp://example.com", "https://127.0.0.1/", "https://[::1]/", "https://10.0.0.1/a",
		"https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/", "https://user:pw@example.com/", "https://localhost/", "/relative", "https://0.0.0.0/"} {
		if netguard.CheckURL(bad, false) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if err := netguard.CheckURL("https://example.com/a.png", false); err != nil {
		t.Error(err)
	}
	if err := netguard.CheckURL("http://127.0.0.1:8080/a.png", true); err != nil {
		t.Errorf("local http refused with allowHTTP: %v", err)
	}
}

// The dial-time check catches loopback however the URL was written, and
// redirects are not followed.
func TestDialTimeCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/secret", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	strict := netguard.NewClient(netguard.Options{})
	for _, u := range []string{srv.URL + "/a", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/a"} {
		if _, _, err := netguard.Fetch(context.Background(), strict, u, 1000); !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("%s: %v, want blocked at dial time", u, err)
		}
	}
	local := netguard.NewClient(netguard.Options{AllowLoopback: true})
	if b, _, err := netguard.Fetch(context.Background(), local, srv.URL+"/a", 1000); err != nil || len(b) != 100 {
		t.Fatalf("allowed loopback fetch: %v %d", err, len(b))
	}
	if _, _, err := netguard.Fetch(context.Background(), local, srv.URL+"/a", 50); err == nil {
		t.Fatal("oversize body not refused")
	}
	if _, _, err := netguard.Fetch(context.Background(), local, srv.URL+"/redirect", 1000); err == nil || !strings.Contains(err.Error(), "302") {
		t.Fatalf("redirect followed or not reported: %v", err)
	}
}
