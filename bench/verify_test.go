package bench

import (
	"crypto/x509"
	"strings"
	"testing"
)

func TestVerifierCachesVerdictsPerChainAndName(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	v, err := newVerifier(ca.pemFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ca.leaf(t).Certificate[0])
	stranger, _ := x509.ParseCertificate(other.leaf(t).Certificate[0])
	chain := []*x509.Certificate{leaf}

	for range 3 {
		if err := v.verify("o7.bench.test", chain); err != nil {
			t.Fatalf("a certificate from the trusted CA failed: %v", err)
		}
	}
	// The cached verdict is for that name only.
	if err := v.verify("elsewhere.example", chain); err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Fatalf("a certificate was accepted for a name it does not cover: %v", err)
	}
	for range 2 {
		if err := v.verify("o7.bench.test", []*x509.Certificate{stranger}); err == nil {
			t.Fatal("a certificate from another CA was accepted")
		}
	}
	if n := v.size.Load(); n != 3 {
		t.Fatalf("%d cached verdicts, want 3 (good, wrong name, wrong CA)", n)
	}
	if err := v.verify("o7.bench.test", nil); err == nil {
		t.Fatal("an empty chain was accepted")
	}
}

// The cache exists because chain verification costs about as much as the
// client's share of a handshake; these two show by how much it saves.
func BenchmarkVerifyCached(b *testing.B) {
	v, chain := benchChain(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.verify("localhost", chain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	v, chain := benchChain(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: v.roots, DNSName: "localhost"}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchChain(b *testing.B) (*verifier, []*x509.Certificate) {
	ca := newTestCA(b)
	v, err := newVerifier(ca.pemFile)
	if err != nil {
		b.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(ca.leaf(b).Certificate[0])
	return v, []*x509.Certificate{leaf}
}
