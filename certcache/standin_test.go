package certcache_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/certcache"
)

// mintWith runs a LeafFor's mint for a fresh key and parses the leaf.
func mintWith(t *testing.T, lf certcache.LeafFor) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, _, err := lf.Mint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestLeafKinds: a copy of the origin, a passed-on invalid origin and a
// stand-in for the same name never share a cache key; each carries what
// its kind promises.
func TestLeafKinds(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	untrusted, err := certcache.NewUntrustedIssuer()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := p.originTemplate()
	tmpl.NotBefore, tmpl.NotAfter = p.now.Add(-60*24*time.Hour), p.now.Add(-24*time.Hour) // expired
	expired := p.origin(t, tmpl)
	valid := p.origin(t, p.originTemplate())

	allowed := []string{"example.com"}
	copied := iss.ForOrigin("acme", "www.example.com", allowed, valid, false)
	passed := untrusted.PassOn("acme", "www.example.com", allowed, expired, false)
	standIn := iss.StandIn("acme", "www.example.com", false)
	keys := []certcache.Key{copied.Key, passed.Key, standIn.Key}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[i] == keys[j] {
				t.Errorf("leaves of kinds %d and %d share the key %+v", keys[i].Kind, keys[j].Kind, keys[i])
			}
		}
	}
	if other := iss.ForOrigin("acme", "www.example.com", allowed, expired, false); other.Key == copied.Key {
		t.Error("two origin certificates share a cache key")
	}

	now := time.Now()
	want := []string{"www.example.com", "example.com"}
	if leaf := mintWith(t, copied); !slices.Equal(leaf.DNSNames, want) || leaf.Issuer.String() != iss.Cert.Subject.String() {
		t.Errorf("origin copy: names %v, issuer %s", leaf.DNSNames, leaf.Issuer)
	}
	leaf := mintWith(t, passed)
	if leaf.Issuer.String() != untrusted.Cert.Subject.String() {
		t.Errorf("passed-on leaf signed by %s, not the untrusted issuer", leaf.Issuer)
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) || !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("passed-on leaf: valid %v to %v, names %v; want valid now with the allowed names", leaf.NotBefore, leaf.NotAfter, leaf.DNSNames)
	}
	leaf = mintWith(t, standIn)
	if !slices.Equal(leaf.DNSNames, []string{"www.example.com"}) || now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		t.Errorf("stand-in: names %v, valid %v to %v; want the name alone, valid now", leaf.DNSNames, leaf.NotBefore, leaf.NotAfter)
	}
	if leaf = mintWith(t, iss.StandIn("acme", "192.0.2.7", false)); len(leaf.IPAddresses) != 1 || len(leaf.DNSNames) != 0 {
		t.Errorf("stand-in for an IP literal: IPs %v, names %v", leaf.IPAddresses, leaf.DNSNames)
	}
}
