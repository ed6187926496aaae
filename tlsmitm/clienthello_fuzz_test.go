package tlsmitm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/lucid-edge/lucid/internal/clienthellos"
)

// within reports whether sub lies inside the memory of whole.
func within(sub, whole []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(whole) == 0 {
		return false
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	w := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	return s >= w && s+uintptr(len(sub)) <= w+uintptr(len(whole))
}

// FuzzClientHello feeds arbitrary handshake messages to the ClientHello
// parser: it must not panic or touch its input, must refuse with an alert
// or return a hello whose fields are slices of the input, and must give
// the same answer twice.
func FuzzClientHello(f *testing.F) {
	for _, h := range clienthellos.All() {
		msg := h.Message()
		f.Add(msg)
		// Truncations: inside the header, the fixed fields, the
		// extensions, and one byte short of the end.
		for _, n := range []int{1, 4, 40, len(msg) / 2, len(msg) - 1} {
			f.Add(msg[:n])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		ch, err := ParseClientHello(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("ParseClientHello modified its input")
		}
		if (ch == nil) == (err == nil) {
			t.Fatalf("ParseClientHello returned hello %v and error %v", ch != nil, err)
		}
		ch2, err2 := ParseClientHello(data)
		if !reflect.DeepEqual(err, err2) {
			t.Fatalf("second parse: error %v, first %v", err2, err)
		}
		if err != nil {
			var ae *AlertError
			if !errors.As(err, &ae) {
				t.Fatalf("parse error %T is not an *AlertError", err)
			}
			return
		}
		if !reflect.DeepEqual(ch, ch2) {
			t.Fatal("parsing the same bytes twice gave different hellos")
		}
		if unsafe.SliceData(ch.Raw) != unsafe.SliceData(data) || len(ch.Raw) != len(data) {
			t.Fatal("Raw is not the input")
		}
		if len(ch.Random) != 32 {
			t.Fatalf("Random has %d bytes", len(ch.Random))
		}
		if len(ch.SessionID) > 32 {
			t.Fatalf("SessionID has %d bytes", len(ch.SessionID))
		}
		if len(ch.CipherSuites) == 0 || len(ch.CompressionMethods) == 0 {
			t.Fatal("hello without cipher suites or compression methods")
		}
		fields := map[string][]byte{
			"Random":             ch.Random,
			"SessionID":          ch.SessionID,
			"CompressionMethods": ch.CompressionMethods,
			"PSKModes":           ch.PSKModes,
		}
		for i, ks := range ch.KeyShares {
			if len(ks.Data) == 0 {
				t.Fatalf("KeyShares[%d] is empty", i)
			}
			fields["KeyShares.Data"+string(rune('0'+i%10))] = ks.Data
		}
		for name, b := range fields {
			if !within(b, data) {
				t.Fatalf("%s does not lie within the input", name)
			}
		}
		if ch.ServerName != "" && !bytes.Contains(data, []byte(ch.ServerName)) {
			t.Fatalf("ServerName %q is not in the input", ch.ServerName)
		}
		for _, p := range ch.ALPNProtocols {
			if p == "" || !bytes.Contains(data, []byte(p)) {
				t.Fatalf("ALPN protocol %q is not in the input", p)
			}
		}
		if len(ch.KeyShares) > 0 && !ch.KeyShareSent {
			t.Fatal("key shares without KeyShareSent")
		}
		if ch.RecordSizeLimit != 0 && ch.RecordSizeLimit < 64 {
			t.Fatalf("RecordSizeLimit %d accepted", ch.RecordSizeLimit)
		}
	})
}
