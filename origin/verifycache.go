package origin

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// verifyCache remembers origin chains that verified, so that the chain of
// a busy origin is verified once per interval instead of on every
// connection: x509 verification (a signature check per link and the chain
// building) costs about as much as our whole server handshake.
//
// An entry is keyed by SHA-256 over the name and the chain exactly as the
// origin sent it. It records only success, and lives until the TTL or the
// earliest NotAfter of the verified chain, whichever comes first; a chain
// that fails is verified again every time. One cache belongs to one set of
// roots: a Dialer holds one for its Config.Roots. It is safe for
// concurrent use.
type verifyCache struct {
	ttl time.Duration
	max int
	now func() time.Time // tests move time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // key -> valid until
}

// newVerifyCache returns a cache of at most max chains, each trusted for
// at most ttl.
func newVerifyCache(max int, ttl time.Duration) *verifyCache {
	return &verifyCache{ttl: ttl, max: max, now: time.Now, entries: make(map[[sha256.Size]byte]time.Time)}
}

func verifyCacheKey(certs []*x509.Certificate, name string) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	for _, c := range certs {
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// known reports whether the chain verified for name recently enough.
func (v *verifyCache) known(key [sha256.Size]byte) bool {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.entries[key]
	if ok && !now.Before(until) {
		delete(v.entries, key)
		ok = false
	}
	return ok
}

// add records a chain that verified; chain is the verified chain (leaf to
// root), whose earliest NotAfter bounds the entry.
func (v *verifyCache) add(key [sha256.Size]byte, chain []*x509.Certificate) {
	now := v.now()
	until := now.Add(v.ttl)
	for _, c := range chain {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		for k, t := range v.entries {
			if !now.Before(t) {
				delete(v.entries, k)
			}
		}
		// Still full: drop any one; map order is as good as random here.
		for k := range v.entries {
			if len(v.entries) < v.max {
				break
			}
			delete(v.entries, k)
		}
	}
	if v.max > 0 {
		v.entries[key] = until
	}
}

// size reports how many chains the cache holds.
func (v *verifyCache) size() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.entries)
}
