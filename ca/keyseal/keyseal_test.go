package keyseal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// cheapParams keeps tests fast: the minimum ParseParams accepts.
func cheapParams(t testing.TB) Params {
	t.Helper()
	p := Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}
	rand.Read(p.Salt[:])
	return p
}

func deriveKEK(t testing.TB, password string, p Params) *KEK {
	t.Helper()
	k, err := DeriveKEK([]byte(password), p)
	if err != nil {
		t.Fatalf("DeriveKEK: %v", err)
	}
	t.Cleanup(k.Close)
	return k
}

// testKey is a private key in PKCS #8 and the secret values inside it that
// must never appear in sealed records.
type testKey struct {
	name    string
	der     []byte
	secrets map[string][]byte
}

func ecdsaKey(t testing.TB) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	scalar, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return testKey{"ecdsa-p256", der, map[string][]byte{"DER": der, "scalar": scalar}}
}

func rsaKey(t testing.TB) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{"rsa-2048", der, map[string][]byte{
		"DER":        der,
		"prime p":    priv.Primes[0].Bytes(),
		"prime q":    priv.Primes[1].Bytes(),
		"exponent d": priv.D.Bytes(),
	}}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := deriveKEK(t, "correct horse battery staple", cheapParams(t))
	for _, key := range []testKey{ecdsaKey(t), rsaKey(t)} {
		t.Run(key.name, func(t *testing.T) {
			ct, dk, err := k.Seal("key-1", key.der)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			for what, secret := range key.secrets {
				if bytes.Contains(ct, secret) {
					t.Errorf("ciphertext contains the key's %s", what)
				}
				if bytes.Contains(dk, secret) {
					t.Errorf("sealed data key contains the key's %s", what)
				}
			}
			got, err := k.Open("key-1", ct, dk)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, key.der) {
				t.Fatal("Open returned other bytes than were sealed")
			}
			if _, err := x509.ParsePKCS8PrivateKey(got); err != nil {
				t.Fatalf("opened key does not parse: %v", err)
			}
		})
	}
}

func TestSealTwiceDiffers(t *testing.T) {
	k := deriveKEK(t, "pw", cheapParams(t))
	der := ecdsaKey(t).der
	ct1, dk1, err := k.Seal("key-1", der)
	if err != nil {
		t.Fatal(err)
	}
	ct2, dk2, err := k.Seal("key-1", der)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ct1[:12], ct2[:12]) || bytes.Equal(ct1, ct2) {
		t.Error("two seals of one key share a ciphertext nonce or ciphertext")
	}
	if bytes.Equal(dk1, dk2) {
		t.Error("two seals of one key share a sealed data key")
	}
	// Each data key opens only its own ciphertext: the data keys differ.
	if _, err := k.Open("key-1", ct1, dk2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ciphertext 1 with data key 2: err = %v, want ErrCorrupt", err)
	}
}

func TestWrongPassword(t *testing.T) {
	p := cheapParams(t)
	right := deriveKEK(t, "right password", p)
	ct, dk, err := right.Seal("key-1", ecdsaKey(t).der)
	if err != nil {
		t.Fatal(err)
	}
	v, err := right.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	otherSalt := p
	otherSalt.Salt[0] ^= 1
	for name, k := range map[string]*KEK{
		"other password": deriveKEK(t, "wrong password", p),
		"other salt":     deriveKEK(t, "right password", otherSalt),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Open("key-1", ct, dk); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("Open: err = %v, want ErrWrongPassword", err)
			}
			if err := k.CheckVerifier(v); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("CheckVerifier: err = %v, want ErrWrongPassword", err)
			}
		})
	}
}

// The key ID is bound into both records: rows swapped between keys in the
// database do not open as the other key.
func TestKeyIDBinding(t *testing.T) {
	k := deriveKEK(t, "pw", cheapParams(t))
	ctA, dkA, err := k.Seal("key-a", ecdsaKey(t).der)
	if err != nil {
		t.Fatal(err)
	}
	ctB, dkB, err := k.Seal("key-b", ecdsaKey(t).der)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ct, dk []byte
		want   error
	}{
		{"both records of A opened as B", ctA, dkA, ErrWrongPassword},
		{"A's ciphertext in B's row", ctA, dkB, ErrCorrupt},
		{"A's data key in B's row", ctB, dkA, ErrWrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open("key-b", tt.ct, tt.dk)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Error("Open returned bytes with an error")
			}
		})
	}
	if _, err := k.Open("key-b", ctB, dkB); err != nil {
		t.Fatalf("B's own records: %v", err)
	}
}

func TestOpenRefusesDamagedRecords(t *testing.T) {
	k := deriveKEK(t, "pw", cheapParams(t))
	ct, dk, err := k.Seal("key-1", ecdsaKey(t).der)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x80
		return b
	}
	tests := []struct {
		name   string
		ct, dk []byte
		want   error
	}{
		{"ciphertext bit flipped", flip(ct, len(ct)/2), dk, ErrCorrupt},
		{"ciphertext nonce bit flipped", flip(ct, 0), dk, ErrCorrupt},
		{"ciphertext truncated", ct[:len(ct)-1], dk, ErrCorrupt},
		{"ciphertext empty", nil, dk, ErrCorrupt},
		{"data key bit flipped", ct, flip(dk, 20), ErrWrongPassword},
		{"data key truncated", ct, dk[:len(dk)-1], ErrCorrupt},
		{"data key empty", ct, nil, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Open("key-1", tt.ct, tt.dk); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSealRefusesEmptyInput(t *testing.T) {
	k := deriveKEK(t, "pw", cheapParams(t))
	if _, _, err := k.Seal("", []byte("key")); err == nil {
		t.Error("Seal with an empty key ID succeeded")
	}
	if _, _, err := k.Seal("key-1", nil); err == nil {
		t.Error("Seal of an empty key succeeded")
	}
	if _, err := k.Open("", nil, nil); err == nil {
		t.Error("Open with an empty key ID succeeded")
	}
}

func TestVerifier(t *testing.T) {
	p := cheapParams(t)
	k := deriveKEK(t, "pw", p)
	v1, err := k.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := k.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(v1, v2) {
		t.Error("two verifiers are equal; the nonce is not fresh")
	}
	if bytes.Contains(v1, []byte(verifierPlain)) {
		t.Error("verifier holds the known value in clear")
	}
	// The same password and parameters at the next start-up pass.
	again := deriveKEK(t, "pw", p)
	if err := again.CheckVerifier(v1); err != nil {
		t.Errorf("CheckVerifier with the same password: %v", err)
	}
	if err := k.CheckVerifier(v1[:len(v1)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated verifier: err = %v, want ErrCorrupt", err)
	}
	// A sealed data key has the KEK's key but not the verifier's role.
	_, dk, err := k.Seal("key-1", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.CheckVerifier(dk); err == nil {
		t.Error("a sealed data key passed as the verifier")
	}
}

func TestClose(t *testing.T) {
	k := deriveKEK(t, "pw", cheapParams(t))
	ct, dk, err := k.Seal("key-1", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	if k.key != [keySize]byte{} {
		t.Error("Close left the key in memory")
	}
	if _, _, err := k.Seal("key-1", []byte("key")); !errors.Is(err, ErrClosed) {
		t.Errorf("Seal after Close: err = %v, want ErrClosed", err)
	}
	if _, err := k.Open("key-1", ct, dk); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: err = %v, want ErrClosed", err)
	}
	if _, err := k.NewVerifier(); !errors.Is(err, ErrClosed) {
		t.Errorf("NewVerifier after Close: err = %v, want ErrClosed", err)
	}
	k.Close() // twice is harmless
}

func TestDeriveKEKRefuses(t *testing.T) {
	if _, err := DeriveKEK(nil, cheapParams(t)); err == nil {
		t.Error("empty password accepted")
	}
	huge := cheapParams(t)
	huge.MemoryKiB = maxMemoryKiB + 1
	if _, err := DeriveKEK([]byte("pw"), huge); err == nil {
		t.Error("memory above 4 GiB accepted")
	}
	if _, err := DeriveKEK([]byte("pw"), Params{}); err == nil {
		t.Error("zero Params accepted")
	}
}

func TestDeriveKEKDefaultParams(t *testing.T) {
	if testing.Short() {
		t.Skip("derives with 64 MiB; skipped with -short")
	}
	p, err := DefaultParams()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k := deriveKEK(t, "correct horse battery staple", p)
	t.Logf("DeriveKEK(%s) took %v", p, time.Since(start))
	der := rsaKey(t).der
	ct, dk, err := k.Seal("key-1", der)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Open("key-1", ct, dk)
	if err != nil || !bytes.Equal(got, der) {
		t.Fatalf("round trip with DefaultParams: err = %v", err)
	}
}

func BenchmarkDeriveKEK(b *testing.B) {
	p, err := DefaultParams()
	if err != nil {
		b.Fatal(err)
	}
	pw := []byte("correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		k, err := DeriveKEK(pw, p)
		if err != nil {
			b.Fatal(err)
		}
		k.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}
