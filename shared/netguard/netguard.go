// Package netguard makes outbound HTTP requests to customer-supplied URLs
// (media to send, later webhook endpoints) safe from SSRF: the address a
// name resolves to is checked at dial time — not only when the URL was
// registered — so DNS rebinding cannot reach loopback, private, link-local,
// CGNAT, multicast, unspecified or cloud-metadata addresses, IPv4 or IPv6
// (v4-mapped included). Redirects are not followed and bodies are capped.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrBlocked is returned for a destination that is not a public address.
var ErrBlocked = errors.New("destination address is not allowed")

var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),        // private
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),       // loopback
	netip.MustParsePrefix("169.254.0.0/16"),    // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),     // private
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),      // documentation
	netip.MustParsePrefix("192.168.0.0/16"),    // private
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"),   // documentation
	netip.MustParsePrefix("203.0.113.0/24"),    // documentation
	netip.MustParsePrefix("224.0.0.0/4"),       // multicast
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, broadcast
	netip.MustParsePrefix("::/128"),            // unspecified
	netip.MustParsePrefix("::1/128"),           // loopback
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64 (embeds IPv4)
	netip.MustParsePrefix("100::/64"),          // discard
	netip.MustParsePrefix("2001:db8::/32"),     // documentation
	netip.MustParsePrefix("fc00::/7"),          // unique local
	netip.MustParsePrefix("fe80::/10"),         // link-local
	netip.MustParsePrefix("ff00::/8"),          // multicast
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6
}

// Allowed reports whether ip is a public unicast address.
func Allowed(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// Options tune a Client.
type Options struct {
	// AllowLoopback permits 127.0.0.0/8 and ::1 (local development and
	// tests only, behind an explicit setting).
	AllowLoopback bool
	// Timeout bounds a whole request (default 10 s).
	Timeout time.Duration
}

// NewClient returns an http.Client whose every connection is checked at
// dial time and which never follows redirects.
func NewClient(o Options) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrBlocked, address)
		}
		ip := ap.Addr().Unmap()
		if o.AllowLoopback && ip.IsLoopback() {
			return nil
		}
		if !Allowed(ip) {
			return fmt.Errorf("%w: %s", ErrBlocked, ip)
		}
		return nil
	}}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: o.Timeout, MaxIdleConnsPerHost: 4}
	return &http.Client{Transport: tr, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// CheckURL validates a URL before it is stored: https (or http when
// allowHTTP), a host, and — for literal IPs — an allowed address. Names are
// checked again at dial time.
func CheckURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute URL without credentials")
	}
	if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
		return errors.New("must use https")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil && !Allowed(ip) && !(allowHTTP && ip.Unmap().IsLoopback()) {
		return fmt.Errorf("%w: %s", ErrBlocked, ip)
	}
	if host == "localhost" && !allowHTTP {
		return fmt.Errorf("%w: localhost", ErrBlocked)
	}
	return nil
}

// Fetch GETs raw with c and returns at most limit bytes of a 2xx body and
// its content type; a larger body is an error, not a truncation.
func Fetch(ctx context.Context, c *http.Client, raw string, limit int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, "", fmt.Errorf("media request: %w", err)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetch media: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, "", fmt.Errorf("fetch media: HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("read media: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, "", fmt.Errorf("media is larger than %d bytes", limit)
	}
	return body, res.Header.Get("Content-Type"), nil
}
