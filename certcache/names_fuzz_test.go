package certcache_test

import (
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/certcache"
)

// FuzzLeafNames feeds an origin certificate from the wire, the SNI and the
// names a policy allowed (one a line) through ForOrigin's mint. Whatever
// the input, it must not panic, and a leaf it mints carries only the SNI
// and allowed names the origin's certificate covers.
func FuzzLeafNames(f *testing.F) {
	for _, der := range mintFuzzOrigins(f) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der, "", "")
		f.Add(der, "added.example.com", strings.Join(cert.DNSNames, "\n"))
		f.Add(der, "192.0.2.99", "evil.test\n*.test\n192.0.2.99")
		if len(cert.DNSNames) > 0 {
			sub := strings.Replace(cert.DNSNames[0], "*", "a", 1)
			f.Add(der, sub, sub+"\nb."+sub+"\n"+strings.ToUpper(cert.DNSNames[0]))
		}
	}
	p, err := mintFuzzSetup()
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, der []byte, sni, allowedLines string) {
		origin, err := certcache.ParseOrigin(der)
		if err != nil {
			return
		}
		allowed := strings.Split(allowedLines, "\n")
		chain, _, err := p.issuer.ForOrigin("acme", sni, allowed, origin, false).Mint(&p.leafKey.PublicKey)
		if err != nil {
			return
		}
		leaf, err := x509.ParseCertificate(chain[0])
		if err != nil {
			t.Fatalf("minted leaf does not parse: %v", err)
		}
		names := slices.Clone(leaf.DNSNames)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		for _, n := range names {
			if sameName(n, sni) {
				continue
			}
			if !slices.ContainsFunc(allowed, func(a string) bool { return sameName(a, n) }) {
				t.Errorf("the leaf carries %q, which it was not given", n)
			}
			covered := origin.VerifyHostname(n) == nil
			if strings.HasPrefix(n, "*.") {
				covered = slices.ContainsFunc(origin.DNSNames, func(o string) bool { return strings.EqualFold(o, n) })
			}
			if !covered {
				t.Errorf("the leaf carries %q, which the origin's certificate does not cover", n)
			}
		}
	})
}
