package origin

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func chainOf(t *testing.T, p *testPKI, notAfter time.Time, names ...string) []*x509.Certificate {
	t.Helper()
	c := p.leaf(t, time.Now().Add(-time.Hour), notAfter, names...)
	var certs []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, x)
	}
	return certs
}

// A chain that verified is not verified again for the same name: shown by
// a second call with roots that trust nothing, which only the cache lets
// through. Another name, another chain, or a failure is verified afresh.
func TestVerifyCacheRemembersSuccessOnly(t *testing.T) {
	p := newTestPKI(t)
	chain := chainOf(t, p, time.Now().Add(24*time.Hour), originName, "other.test")
	cache := newVerifyCache(16, 10*time.Minute)
	none := x509.NewCertPool()

	if err := verifyOrigin(chain, originName, none, cache); err == nil {
		t.Fatal("a chain verified against empty roots")
	}
	if cache.size() != 0 {
		t.Fatal("a failure was cached")
	}
	if err := verifyOrigin(chain, originName, p.roots, cache); err != nil {
		t.Fatal(err)
	}
	if err := verifyOrigin(chain, originName, none, cache); err != nil {
		t.Fatalf("the verified chain was checked again: %v", err)
	}
	// The same chain for another of its names is a new question.
	if err := verifyOrigin(chain, "other.test", none, cache); err == nil {
		t.Fatal("a cached chain passed for another name without verification")
	}
	// A wrong name fails whatever the cache holds.
	if err := verifyOrigin(chain, "wrong.test", p.roots, cache); err == nil || !strings.Contains(err.Error(), "wrong.test") {
		t.Fatalf("wrong name: %v", err)
	}
	// Another chain (a new leaf for the same name) is verified.
	other := chainOf(t, p, time.Now().Add(24*time.Hour), originName)
	if err := verifyOrigin(other, originName, none, cache); err == nil {
		t.Fatal("a different chain passed on another chain's cache entry")
	}
}

// An entry ends with the TTL, and sooner with the chain's first NotAfter.
func TestVerifyCacheExpiry(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now()
	cache := newVerifyCache(16, 10*time.Minute)
	cache.now = func() time.Time { return now }
	none := x509.NewCertPool()

	long := chainOf(t, p, now.Add(24*time.Hour), originName)
	if err := verifyOrigin(long, originName, p.roots, cache); err != nil {
		t.Fatal(err)
	}
	short := chainOf(t, p, now.Add(2*time.Minute), originName)
	if err := verifyOrigin(short, originName, p.roots, cache); err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * time.Minute) // past short's NotAfter, inside the TTL
	if err := verifyOrigin(long, originName, none, cache); err != nil {
		t.Fatalf("inside the TTL: %v", err)
	}
	if err := verifyOrigin(short, originName, none, cache); err == nil {
		t.Fatal("an entry outlived its chain's NotAfter")
	}
	now = now.Add(10 * time.Minute) // past the TTL
	if err := verifyOrigin(long, originName, none, cache); err == nil {
		t.Fatal("an entry outlived the TTL")
	}
}

// The cache never holds more than its bound.
func TestVerifyCacheBounded(t *testing.T) {
	p := newTestPKI(t)
	cache := newVerifyCache(3, time.Hour)
	for range 6 {
		chain := chainOf(t, p, time.Now().Add(24*time.Hour), originName)
		if err := verifyOrigin(chain, originName, p.roots, cache); err != nil {
			t.Fatal(err)
		}
		if cache.size() > 3 {
			t.Fatalf("cache holds %d entries, bound 3", cache.size())
		}
	}
	if cache.size() != 3 {
		t.Fatalf("cache holds %d entries, want 3", cache.size())
	}
}

func BenchmarkVerifyOrigin(b *testing.B) {
	p := newTestPKI(b)
	c := p.validLeaf(b)
	var chain []*x509.Certificate
	for _, der := range c.Certificate {
		x, _ := x509.ParseCertificate(der)
		chain = append(chain, x)
	}
	b.Run("cache=off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := verifyOrigin(chain, originName, p.roots, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache=on", func(b *testing.B) {
		cache := newVerifyCache(16, time.Hour)
		b.ReportAllocs()
		for b.Loop() {
			if err := verifyOrigin(chain, originName, p.roots, cache); err != nil {
				b.Fatal(err)
			}
		}
	})
}
