package keywire_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/keywire"
)

// realAnswer is an answer as the CA sends it: a fresh key of alg, its
// certificate as the intermediate, and a root above it.
func realAnswer(f *testing.F, alg string, key crypto.Signer) []byte {
	f.Helper()
	cert := func(cn string) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			f.Fatal(err)
		}
		return der
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	meta := keywire.Meta{Org: "acme", KeyID: "key-1", Algorithm: alg, Chain: [][]byte{cert("acme intermediate"), cert("root")},
		CRLURL: "http://127.0.0.1:8080/crl/acme", FailMode: "block", NotAfter: time.Now().Add(24 * time.Hour)}
	a, err := keywire.Marshal(meta, der)
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := a.WriteTo(&b); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// countingReader counts the bytes its reader hands out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// allocated is the bytes allocated on the heap so far. ReadMemStats
// flushes every P's cache first, so the count is exact; runtime/metrics,
// cheaper, counts a span's free slots when a cache takes it, and so
// overshoots by whole spans.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// allocBound is what ReadMeta may allocate after reading n bytes: the
// package comment's 40 bytes per byte, with room to spare, and far less
// than the largest length an answer may claim.
func allocBound(n int) uint64 { return 64*uint64(n) + 64<<10 }

// allocatedByReadMeta is what one ReadMeta of in allocates. The fuzz
// worker's other goroutines allocate meanwhile, never the other way, so
// it measures up to three times and keeps the least.
func allocatedByReadMeta(in []byte, bound uint64) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		before := allocated()
		_, _ = keywire.ReadMeta(bytes.NewReader(in))
		least = min(least, allocated()-before)
		if least <= bound {
			break
		}
	}
	return least
}

// FuzzReadAnswer reads arbitrary bytes as a key answer, the way the edge
// reads the CA's: ReadMeta, then ReadKey into a block the size the edge
// gives it. Nothing may panic; neither step may read past its bound, and
// ReadMeta may allocate only in proportion to what it read (the package
// comment's 40 bytes per byte, with room to spare); whatever parses must
// marshal back to an answer that reads the same, with the key bytes as
// they came.
func FuzzReadAnswer(f *testing.F) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range [][]byte{realAnswer(f, "ecdsa-p256", p256), realAnswer(f, "rsa-2048", rsa2048)} {
		f.Add(a)
		headEnd := 4 + int(binary.BigEndian.Uint32(a))
		for _, cut := range []int{0, 1, 3, 4, 5, headEnd / 2, headEnd - 1, headEnd, headEnd + 1, len(a) - 1} {
			f.Add(a[:cut])
		}
	}
	for _, s := range [][]byte{
		withLength(0, "{}"), withLength(keywire.MaxMetaLen+1, "{}"), withLength(1<<32-1, ""), withLength(100, `{"org":`),
		withLength(keywire.MaxMetaLen, "{"), // the largest claim, unmet: must cost no more than what came
		answer(`null`, []byte{0x30}), answer(`{"ORG":"acme","unknown":[1,{"a":null}]}`, []byte{0x30}),
		answer(`{"chain":[null,"",""],"not_after":"2031-05-01T12:30:00+14:00"}`, []byte{0x30}),
		answer(`{"crl_url":"\u003c\ud800\u0026"}  `, []byte{0x30}), answer(`{}`, make([]byte, keywire.MaxKeyLen+1)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &countingReader{r: bytes.NewReader(in)}
		meta, err := keywire.ReadMeta(r)
		if r.n > 4+keywire.MaxMetaLen {
			t.Fatalf("ReadMeta read %d bytes", r.n)
		}
		bound := allocBound(r.n)
		if grew := allocatedByReadMeta(in, bound); grew > bound {
			t.Fatalf("ReadMeta allocated %d bytes after reading %d", grew, r.n)
		}
		if err != nil {
			return
		}
		headEnd := r.n
		block := make([]byte, keywire.MaxKeyLen+1)
		key, err := keywire.ReadKey(r, block)
		if r.n-headEnd > len(block) {
			t.Fatalf("ReadKey read %d bytes into a %d-byte block", r.n-headEnd, len(block))
		}
		if err != nil {
			return
		}
		if len(key) == 0 || &key[0] != &block[0] || !bytes.Equal(key, in[headEnd:]) {
			t.Fatalf("ReadKey returned %d bytes that are not the answer's last %d, in the caller's block", len(key), len(in)-headEnd)
		}

		js, err := json.Marshal(meta)
		if err != nil {
			t.Fatalf("encoding what was read: %v", err)
		}
		if len(js) > keywire.MaxMetaLen {
			// Decoding is lenient (a string grows once its invalid
			// UTF-8 and "<" are escaped, a missing field is written
			// out): an answer near the limit may not fit again.
			return
		}
		first := marshal(t, meta, key)
		if bytes.Equal(js, in[4:headEnd]) && !bytes.Equal(first, in) {
			t.Fatalf("an answer as Marshal writes it did not come back byte for byte:\n%q\n%q", in, first)
		}
		r2 := bytes.NewReader(first)
		meta2, err := keywire.ReadMeta(r2)
		if err != nil {
			t.Fatalf("reading what Marshal wrote: %v", err)
		}
		key2, err := keywire.ReadKey(r2, make([]byte, keywire.MaxKeyLen+1))
		if err != nil || !bytes.Equal(key2, key) {
			t.Fatalf("the key did not survive a round trip: %v", err)
		}
		if second := marshal(t, meta2, key2); !bytes.Equal(second, first) {
			t.Fatalf("a round trip changed the answer:\n%q\n%q", first, second)
		}
	})
}

func marshal(t *testing.T, meta keywire.Meta, key []byte) []byte {
	t.Helper()
	a, err := keywire.Marshal(meta, key)
	if err != nil {
		t.Fatalf("Marshal of what was read: %v", err)
	}
	var b bytes.Buffer
	if _, err := a.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
