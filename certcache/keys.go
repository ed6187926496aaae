package certcache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"time"

	"github.com/lucid-edge/lucid/internal/secmem"
)

// LeafKey is a key pair that signs the handshakes of minted leaves. The
// leaves of one loop share it until it is rotated; a rotated key lives on
// while cached leaves still use it, and is destroyed with the last of them.
//
// The private key is a crypto/ecdsa or crypto/rsa object: those libraries
// keep the scalar on the Go heap and offer no other place. Its life is
// bounded by the rotation interval plus the cache TTL, and destroy zeroes
// what the library lets us reach.
type LeafKey struct {
	Signer  crypto.Signer
	RSA     bool
	created time.Time
	refs    int  // cache entries and mints in flight that use it
	retired bool // no longer handed to new mints
}

// leafKeys is one loop's current keys, one per algorithm.
type leafKeys struct {
	interval time.Duration
	ecdsa    *LeafKey
	rsa      *LeafKey
}

// current returns the key new leaves of that kind are minted with,
// rotating it when its interval has passed. The RSA key is nil until a
// mint has generated one off the loop: RSA key generation takes tens of
// milliseconds, far too long for an event loop.
func (k *leafKeys) current(wantRSA bool, now time.Time) (*LeafKey, error) {
	if wantRSA {
		if k.rsa != nil && now.Sub(k.rsa.created) >= k.interval {
			k.retire(k.rsa)
			k.rsa = nil
		}
		return k.rsa, nil
	}
	if k.ecdsa == nil || now.Sub(k.ecdsa.created) >= k.interval {
		key, err := newECDSAKey(now)
		if err != nil {
			return nil, err
		}
		if k.ecdsa != nil {
			k.retire(k.ecdsa)
		}
		k.ecdsa = key
	}
	return k.ecdsa, nil
}

// adoptRSA installs an RSA key a mint generated, unless another mint got
// there first; the loser serves only the leaf it was made for.
func (k *leafKeys) adoptRSA(key *LeafKey) {
	if k.rsa == nil {
		k.rsa = key
		return
	}
	key.retired = true
}

func (k *leafKeys) retire(key *LeafKey) {
	key.retired = true
	key.maybeDestroy()
}

func (key *LeafKey) acquire() { key.refs++ }

func (key *LeafKey) release() {
	key.refs--
	key.maybeDestroy()
}

func (key *LeafKey) maybeDestroy() {
	if key.retired && key.refs <= 0 && key.Signer != nil {
		secmem.WipePrivateKey(key.Signer)
		key.Signer = nil
		keysDestroyed.Inc()
	}
}

func newECDSAKey(now time.Time) (*LeafKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	keysGenerated.Inc()
	return &LeafKey{Signer: k, created: now}, nil
}

func newRSAKey(now time.Time) (*LeafKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keysGenerated.Inc()
	return &LeafKey{Signer: k, RSA: true, created: now}, nil
}
