package tlsmitm

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// A clone is the hello a fresh parse of the same bytes gives, and keeps
// it after the original's memory is scribbled over and the original is
// reused, as a Conn does with its hello and its pooled buffer.
func TestClientHelloClone(t *testing.T) {
	msgs := map[string][]byte{}
	for _, f := range clientHelloFiles {
		_, msgs[f.file] = readHelloRecord(t, f.file)
	}
	// pre_shared_key, last: one identity, one 32-byte binder.
	identity := append(putU16(nil, 4), "tckt\x00\x00\x00\x01"...)
	binder := append([]byte{32}, make([]byte, 32)...)
	msgs["pre_shared_key"] = tlstest.ParseClientHello(t, goHello(t)).Set(extPreSharedKey,
		slices.Concat(putU16(nil, uint16(len(identity))), identity, putU16(nil, uint16(len(binder))), binder)).Message()
	// More ALPN protocols than the hello's fixed array holds.
	var alpn []byte
	for _, p := range []string{"h2", "http/1.1", "a", "b", "c", "d"} {
		alpn = append(append(alpn, byte(len(p))), p...)
	}
	msgs["six ALPN protocols"] = tlstest.ParseClientHello(t, goHello(t)).Set(extALPN, append(putU16(nil, uint16(len(alpn))), alpn...)).Message()

	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			want, err := ParseClientHello(bytes.Clone(msg))
			if err != nil {
				t.Fatal(err)
			}
			orig, err := ParseClientHello(bytes.Clone(msg))
			if err != nil {
				t.Fatal(err)
			}
			c := orig.Clone()
			for i := range orig.Raw {
				orig.Raw[i] = 0xee
			}
			if err := orig.parse(goHello(t)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("clone %+v\nwant  %+v", c, want)
			}
		})
	}
}
