package keywire_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/lucid-edge/lucid/ca/keywire"
)

var update = flag.Bool("update", false, "rewrite testdata/answer.golden with what Marshal writes now")

// goldenMeta and goldenKey are the answer pinned by testdata/answer.golden.
// The CRL URL holds the characters encoding/json escapes and the expiry a
// fraction of a second, so their encodings are pinned too.
var goldenMeta = keywire.Meta{
	Org: "acme", KeyID: "key-0123456789abcdef", Algorithm: "ecdsa-p256",
	Chain:  [][]byte{[]byte("intermediate certificate DER"), []byte("root certificate DER")},
	CRLURL: "https://ca.example:8443/crl/acme?from=<edge>&v=1", FailMode: "tunnel",
	NotAfter: time.Date(2031, time.May, 1, 12, 30, 0, 500, time.UTC),
}

// goldenKey is a P-256 key with the scalar 1, 2, ..., 32, in PKCS #8.
func goldenKey(t *testing.T) []byte {
	t.Helper()
	scalar := make([]byte, 32)
	for i := range scalar {
		scalar[i] = byte(i + 1)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestGoldenAnswer pins the wire bytes. The golden file was first written
// by the key API's writer as it was before this package existed, so an
// edge and a CA from either side of that change read each other; a
// difference here breaks that for whoever upgrades first.
func TestGoldenAnswer(t *testing.T) {
	key := goldenKey(t)
	a, err := keywire.Marshal(goldenMeta, key)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if n, err := a.WriteTo(&got); err != nil || n != int64(got.Len()) || a.Len() != got.Len() {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes, Len %d", n, err, got.Len(), a.Len())
	}
	path := filepath.Join("testdata", "answer.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("Marshal wrote\n%q\nwant\n%q", got.Bytes(), want)
	}

	r := bytes.NewReader(want)
	meta, err := keywire.ReadMeta(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta, goldenMeta) {
		t.Errorf("ReadMeta = %+v, want %+v", meta, goldenMeta)
	}
	gotKey, err := keywire.ReadKey(r, make([]byte, keywire.MaxKeyLen+1))
	if err != nil || !bytes.Equal(gotKey, key) {
		t.Errorf("ReadKey = %x, %v; want %x", gotKey, err, key)
	}
}

// answer frames head and key by hand, as a CA (or an attacker) could.
func answer(head string, key []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(head)))
	return append(append(b, head...), key...)
}

func withLength(n uint32, rest string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), rest...)
}

// errReader returns its data, then err instead of io.EOF.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errReset = errors.New("connection reset by peer")

func TestReadRefuses(t *testing.T) {
	key := bytes.Repeat([]byte{0x30}, 100)
	for _, tc := range []struct {
		name      string
		r         io.Reader
		metaErr   string // empty: ReadMeta succeeds
		keyErr    string
		truncated bool
	}{
		{name: "empty", r: bytes.NewReader(nil), metaErr: "inside its 4-byte length", truncated: true},
		{name: "three bytes", r: bytes.NewReader([]byte{0, 0, 1}), metaErr: "inside its 4-byte length", truncated: true},
		{name: "zero length", r: bytes.NewReader(withLength(0, "{}")), metaErr: "metadata of 0 bytes, want 1 to 262144"},
		{name: "length over the limit", r: bytes.NewReader(withLength(keywire.MaxMetaLen+1, "{}")), metaErr: "metadata of 262145 bytes"},
		{name: "largest length", r: bytes.NewReader(withLength(1<<32-1, "{}")), metaErr: "metadata of 4294967295 bytes"},
		{name: "metadata cut short", r: bytes.NewReader(withLength(100, `{"org":"acme"}`)), metaErr: "inside its 100 bytes of metadata", truncated: true},
		{name: "metadata not JSON", r: bytes.NewReader(answer("org=acme", key)), metaErr: "keywire: metadata: invalid character"},
		{name: "metadata with trailing bytes", r: bytes.NewReader(answer(`{"org":"acme"}{}`, key)), metaErr: "keywire: metadata: invalid character"},
		{name: "metadata null", r: bytes.NewReader(answer(` null `, key)), metaErr: "metadata is null, want an object"},
		{name: "metadata of the wrong type", r: bytes.NewReader(answer(`{"chain":"AAAA"}`, key)), metaErr: "keywire: metadata: json: cannot unmarshal"},
		{name: "chain not base64", r: bytes.NewReader(answer(`{"chain":["%%"]}`, key)), metaErr: "keywire: metadata: illegal base64"},
		{name: "no key", r: bytes.NewReader(answer(`{"org":"acme"}`, nil)), keyErr: "before the key", truncated: true},
		{name: "key one byte too long", r: bytes.NewReader(answer(`{}`, make([]byte, keywire.MaxKeyLen+1))), keyErr: "a key longer than 4095 bytes"},
		{name: "metadata read fails", r: &errReader{data: withLength(20, "{"), err: errReset}, metaErr: "reading its 20 bytes of metadata: connection reset"},
		{name: "key read fails", r: &errReader{data: answer(`{}`, key), err: errReset}, keyErr: "reading the key: connection reset"},
		{name: "body cut short inside the key", r: &errReader{data: answer(`{}`, key), err: io.ErrUnexpectedEOF}, keyErr: "inside the key", truncated: true},
		{name: "body cut short inside the metadata", r: &errReader{data: withLength(20, "{"), err: io.ErrUnexpectedEOF}, metaErr: "inside its 20 bytes of metadata", truncated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keywire.ReadMeta(tc.r)
			if tc.metaErr == "" && err == nil {
				_, err = keywire.ReadKey(tc.r, make([]byte, keywire.MaxKeyLen+1))
			} else if tc.metaErr == "" {
				t.Fatalf("ReadMeta: %v", err)
			}
			want := tc.metaErr + tc.keyErr
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want one saying %q", err, want)
			}
			if errors.Is(err, keywire.ErrTruncated) != tc.truncated {
				t.Errorf("errors.Is(%v, ErrTruncated) = %v, want %v", err, !tc.truncated, tc.truncated)
			}
			if errors.Is(err, errReset) != strings.Contains(want, "reset") {
				t.Errorf("%v does not wrap the reader's error", err)
			}
		})
	}
}

func TestReadAcceptsTheLimitsAndShortReads(t *testing.T) {
	head := `{"org":"acme","chain":["` + strings.Repeat("AAAA", 60<<10) + `"]}`
	head += strings.Repeat(" ", keywire.MaxMetaLen-len(head))
	key := bytes.Repeat([]byte{7}, keywire.MaxKeyLen)
	for name, r := range map[string]io.Reader{
		"whole":          bytes.NewReader(answer(head, key)),
		"one byte reads": iotest.OneByteReader(bytes.NewReader(answer(head, key))),
		"EOF with data":  iotest.DataErrReader(bytes.NewReader(answer(head, key))),
	} {
		t.Run(name, func(t *testing.T) {
			meta, err := keywire.ReadMeta(r)
			if err != nil || meta.Org != "acme" || len(meta.Chain) != 1 {
				t.Fatalf("ReadMeta of %d bytes of metadata: %+v, %v", len(head), meta.Org, err)
			}
			got, err := keywire.ReadKey(r, make([]byte, keywire.MaxKeyLen+1))
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("ReadKey of a %d-byte key: %d bytes, %v", len(key), len(got), err)
			}
		})
	}
}

// TestReadKeyStaysInTheCallersMemory: the key lands in dst and nowhere
// else; a dst too small for a key and the byte after it is refused.
func TestReadKeyStaysInTheCallersMemory(t *testing.T) {
	key := bytes.Repeat([]byte{0xa5}, 1200)
	dst := make([]byte, keywire.MaxKeyLen+1)
	r := bytes.NewReader(key)
	got, err := keywire.ReadKey(r, dst)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &dst[0] || !bytes.Equal(got, key) {
		t.Fatal("ReadKey did not return the key in dst")
	}
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(key)
		if _, err := keywire.ReadKey(r, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadKey allocated %.0f times: the key may have been copied", allocs)
	}
	if _, err := keywire.ReadKey(bytes.NewReader(key), dst[:len(key)]); err == nil || !strings.Contains(err.Error(), "longer than 1199 bytes") {
		t.Errorf("a key that fills dst: %v", err)
	}
	if _, err := keywire.ReadKey(bytes.NewReader(key), dst[:1]); err == nil {
		t.Error("ReadKey into one byte of memory succeeded")
	}
}

// slicesWriter records the slices it is given, not copies of them.
type slicesWriter struct{ got [][]byte }

func (w *slicesWriter) Write(p []byte) (int, error) {
	w.got = append(w.got, p)
	return len(p), nil
}

// TestWriteToHandsOverTheCallersKey: Marshal keeps no copy of the key, and
// WriteTo writes the caller's own slice.
func TestWriteToHandsOverTheCallersKey(t *testing.T) {
	key := goldenKey(t)
	a, err := keywire.Marshal(goldenMeta, key)
	if err != nil {
		t.Fatal(err)
	}
	var w slicesWriter
	if _, err := a.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	last := w.got[len(w.got)-1]
	if &last[0] != &key[0] || len(last) != len(key) {
		t.Fatal("WriteTo did not write the caller's key slice itself")
	}
	for _, p := range w.got[:len(w.got)-1] {
		if bytes.Contains(p, key) {
			t.Fatal("the head carries a copy of the key")
		}
	}
}

func TestMarshalRefusesWhatReadersRefuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta keywire.Meta
		key  []byte
		want string
	}{
		{"no key", goldenMeta, nil, "a key of 0 bytes, want 1 to 4095"},
		{"key too long", goldenMeta, make([]byte, keywire.MaxKeyLen+1), "a key of 4096 bytes"},
		{"metadata too long", keywire.Meta{Chain: [][]byte{make([]byte, keywire.MaxMetaLen)}}, []byte{1}, "over the 262144-byte limit"},
		{"expiry beyond year 9999", keywire.Meta{NotAfter: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, []byte{1}, "encoding the metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := keywire.Marshal(tc.meta, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Marshal: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
