package certcache_test

import (
	"crypto/x509"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/certcache"
)

// namesOrigin is an origin whose certificate covers an allowed host, a
// blocked one, a wildcard that covers the blocked one, a wildcard that
// does not, and an address.
func namesOrigin(t *testing.T, p *mintPKI) *x509.Certificate {
	tmpl := p.originTemplate()
	tmpl.DNSNames = []string{"www.example.com", "example.com", "blocked.example.com", "*.example.com", "*.cdn.example.com"}
	tmpl.IPAddresses = []net.IP{net.ParseIP("192.0.2.10").To4()}
	return p.origin(t, tmpl)
}

// leafNamesOf mints lf and returns its DNS names and IP addresses as
// strings.
func leafNamesOf(t *testing.T, lf certcache.LeafFor) (*x509.Certificate, []string, []string) {
	t.Helper()
	leaf := mintWith(t, lf)
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	return leaf, leaf.DNSNames, ips
}

// TestLeafNamesOnlyWhatPolicyAllows plays a policy that blocks
// blocked.example.com on an origin whose certificate also covers it: the
// leaf names exactly what it is given and the origin covers, so it never
// vouches for the blocked name, nor for names the origin does not cover.
func TestLeafNamesOnlyWhatPolicyAllows(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	origin := namesOrigin(t, p)
	tests := []struct {
		name     string
		sni      string
		allowed  []string
		wantDNS  []string
		wantIPs  []string
		refuseOn []string // names the leaf must not verify for
	}{
		{name: "nothing else allowed: the SNI alone", sni: "www.example.com",
			wantDNS: []string{"www.example.com"}, refuseOn: []string{"example.com", "blocked.example.com", "192.0.2.10", "x.cdn.example.com"}},
		{name: "the blocked name and the wildcard covering it left out", sni: "www.example.com",
			allowed: []string{"example.com", "*.cdn.example.com"},
			wantDNS: []string{"www.example.com", "example.com", "*.cdn.example.com"}, refuseOn: []string{"blocked.example.com", "other.example.com"}},
		{name: "names the origin does not cover are dropped", sni: "www.example.com",
			allowed: []string{"evil.test", "a.b.cdn.example.com", "*.test", "*.www.example.com", "img.cdn.example.com", "bad name", ""},
			wantDNS: []string{"www.example.com", "img.cdn.example.com"}, refuseOn: []string{"evil.test", "a.b.cdn.example.com", "x.www.example.com"}},
		{name: "duplicates and case", sni: "www.example.com",
			allowed: []string{"WWW.example.com", "EXAMPLE.com", "example.com"},
			wantDNS: []string{"www.example.com", "EXAMPLE.com"}},
		{name: "an address only when allowed and the origin lists it", sni: "www.example.com",
			allowed: []string{"192.0.2.10", "::ffff:192.0.2.10", "192.0.2.11", "fe80::1%eth0"},
			wantDNS: []string{"www.example.com"}, wantIPs: []string{"192.0.2.10"}, refuseOn: []string{"192.0.2.11"}},
		{name: "an IP literal SNI", sni: "192.0.2.10",
			wantIPs: []string{"192.0.2.10"}, refuseOn: []string{"www.example.com"}},
		{name: "no SNI", allowed: []string{"example.com"}, wantDNS: []string{"example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lf := iss.ForOrigin("acme", tc.sni, tc.allowed, origin, false)
			leaf, dns, ips := leafNamesOf(t, lf)
			if !slices.Equal(dns, tc.wantDNS) || !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("leaf names %q, IPs %q; want %q, %q", dns, ips, tc.wantDNS, tc.wantIPs)
			}
			given := append([]string{tc.sni}, tc.allowed...)
			for _, n := range append(dns, ips...) {
				if !slices.ContainsFunc(given, func(g string) bool { return sameName(g, n) }) {
					t.Errorf("the leaf carries %q, which it was not given", n)
				}
			}
			for _, n := range tc.refuseOn {
				if err := leaf.VerifyHostname(n); err == nil {
					t.Errorf("the leaf vouches for %q", n)
				}
			}
			passed, _, _ := leafNamesOf(t, iss.PassOn("acme", tc.sni, tc.allowed, origin, false))
			if !slices.Equal(passed.DNSNames, leaf.DNSNames) || len(passed.IPAddresses) != len(leaf.IPAddresses) {
				t.Errorf("passed-on leaf names %q %v, origin copy %q %v", passed.DNSNames, passed.IPAddresses, leaf.DNSNames, leaf.IPAddresses)
			}
		})
	}
}

func TestLeafNamesRefused(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	origin := namesOrigin(t, p)
	key := p.leafECDSA.Public()
	tests := []struct {
		name    string
		sni     string
		allowed []string
		wantErr string
	}{
		{"no SNI and nothing covered", "", []string{"evil.test"}, "no name for the leaf"},
		{"more allowed names than a leaf may carry", "www.example.com", mintDNSNames(certcache.MaxSANs+1, "h%d.example.com"), "allowed names, the limit is"},
		{"wildcard SNI", "*.example.com", nil, "invalid character '*'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain, _, err := iss.ForOrigin("acme", tc.sni, tc.allowed, origin, false).Mint(key)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("minted %d certificates, error %v; want %q", len(chain), err, tc.wantErr)
			}
		})
	}
}

// TestLeafKeyNames: the cache key carries what policy allowed, so a leaf
// minted when blocked.example.com was allowed is never served once it is
// blocked.
func TestLeafKeyNames(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	origin := namesOrigin(t, p)
	key := func(allowed ...string) certcache.Key {
		return iss.ForOrigin("acme", "www.example.com", allowed, origin, false).Key
	}
	lists := [][]string{nil, {"example.com"}, {"example.com", "blocked.example.com"}, {"ab", "c"}, {"a", "bc"}, {"abc"}}
	for i := range lists {
		if key(lists[i]...) != key(slices.Clone(lists[i])...) {
			t.Errorf("%q: two keys for one list", lists[i])
		}
		for j := i + 1; j < len(lists); j++ {
			if key(lists[i]...) == key(lists[j]...) {
				t.Errorf("%q and %q share a cache key", lists[i], lists[j])
			}
		}
	}
	if iss.PassOn("acme", "www.example.com", []string{"example.com"}, origin, false).Key == key("example.com") {
		t.Error("a passed-on leaf shares the origin copy's key")
	}

	q := make(chan func(), 16)
	c := certcache.New(certcache.Config{RunOnLoop: func(f func()) { q <- f }})
	defer c.Close()
	before := iss.ForOrigin("acme", "www.example.com", []string{"blocked.example.com"}, origin, false)
	mintOnLoop(t, c, q, before.Key, before.Mint)
	after := iss.ForOrigin("acme", "www.example.com", nil, origin, false)
	if got := c.Get(after.Key, time.Now()); got != nil {
		t.Error("a leaf minted under another policy outcome was served")
	}
}

// ForOrigin copies the allowed names: a caller reusing its slice cannot
// change a mint that has not run yet.
func TestForOriginCopiesAllowed(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	allowed := []string{"example.com"}
	lf := iss.ForOrigin("acme", "www.example.com", allowed, namesOrigin(t, p), false)
	allowed[0] = "blocked.example.com"
	if _, dns, _ := leafNamesOf(t, lf); !slices.Equal(dns, []string{"www.example.com", "example.com"}) {
		t.Errorf("leaf names %q", dns)
	}
}

// sameName reports whether a and b name the same host: DNS names without
// regard to case, addresses as addresses (an IPv4-mapped one as IPv4).
func sameName(a, b string) bool {
	x, errA := netip.ParseAddr(a)
	y, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return x.Unmap() == y.Unmap()
	}
	return strings.EqualFold(a, b)
}
