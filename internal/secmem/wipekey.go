package secmem

import (
	"crypto/ecdsa"
	"crypto/rsa"
)

// WipePrivateKey zeroes what Go exposes of an ECDSA or RSA private key:
// the scalar, the private exponent, the primes and the CRT values. Copies
// the crypto libraries keep inside the key object (precomputed tables,
// FIPS key structs) are out of reach and die with it; the callers keep
// such objects for as short a time as they can. Other key types are left
// alone.
func WipePrivateKey(key any) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		// D is deprecated for reading keys; here it is the one handle Go
		// gives on the scalar's words, and zeroing them is the point.
		//lint:ignore SA1019 wiping, not using, the scalar
		if d := k.D; d != nil {
			clear(d.Bits())
		}
	case *rsa.PrivateKey:
		if k.D != nil {
			clear(k.D.Bits())
		}
		for _, p := range k.Primes {
			clear(p.Bits())
		}
		if k.Precomputed.Dp != nil {
			clear(k.Precomputed.Dp.Bits())
		}
		if k.Precomputed.Dq != nil {
			clear(k.Precomputed.Dq.Bits())
		}
		if k.Precomputed.Qinv != nil {
			clear(k.Precomputed.Qinv.Bits())
		}
	}
}
