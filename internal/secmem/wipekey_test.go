package secmem

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

func bigIsZero(n *big.Int) bool {
	for _, w := range n.Bits() {
		if w != 0 {
			return false
		}
	}
	return true
}

func TestWipePrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	//lint:ignore SA1019 the test reads the scalar's words to see them wiped
	d := ec.D
	WipePrivateKey(ec)
	if !bigIsZero(d) {
		t.Fatal("the ECDSA scalar was not zeroed")
	}
	r, _ := rsa.GenerateKey(rand.Reader, 1024)
	r.Precompute()
	parts := []*big.Int{r.D, r.Primes[0], r.Primes[1], r.Precomputed.Dp, r.Precomputed.Dq, r.Precomputed.Qinv}
	WipePrivateKey(r)
	for i, p := range parts {
		if !bigIsZero(p) {
			t.Fatalf("RSA private part %d was not zeroed", i)
		}
	}
}
