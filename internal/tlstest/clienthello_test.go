package tlstest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/lucid-edge/lucid/internal/clienthellos"
)

// Every captured hello splits and writes back byte for byte.
func TestClientHelloRoundTrip(t *testing.T) {
	for _, c := range clienthellos.All() {
		t.Run(c.Name, func(t *testing.T) {
			h := ParseClientHelloRecord(t, c.Record)
			if got := h.Record(); !bytes.Equal(got, c.Record) {
				t.Fatalf("Record does not round-trip:\n got % x\nwant % x", got, c.Record)
			}
			if got := h.Message(); !bytes.Equal(got, c.Message()) {
				t.Fatal("Message does not round-trip")
			}
			at := h.ExtensionsOffset()
			body := h.Body()
			if n := int(binary.BigEndian.Uint16(body[at:])); n != len(body)-at-2 {
				t.Errorf("ExtensionsOffset %d reads a block of %d bytes, the body has %d after it", at, n, len(body)-at-2)
			}
		})
	}
}

func TestClientHelloEdits(t *testing.T) {
	orig := ParseClientHelloRecord(t, clienthellos.Record("1-go126.bin"))
	h := orig.Clone()
	sni := h.Find(0x0000)
	if sni < 0 {
		t.Fatal("the Go hello has no server_name")
	}
	n := len(h.Extensions)
	h.Without(t, 0x0000).Set(0xff00, []byte{1, 2}).Set(0x0010, []byte{0, 3, 2, 'h', '2'})
	if h.Find(0x0000) >= 0 || len(h.Extensions) != n || h.Extensions[n-1].Type != 0xff00 {
		t.Errorf("after Without and Set: %v", h.Extensions)
	}
	if orig.Find(0x0000) != sni || len(orig.Extensions) != n {
		t.Error("editing the clone changed the original")
	}
	again := ParseClientHello(t, h.Message())
	if i := again.Find(0x0010); i < 0 || !bytes.Equal(again.Extensions[i].Data, []byte{0, 3, 2, 'h', '2'}) {
		t.Error("the edited ALPN did not survive a round trip")
	}

	h.Extensions = nil
	if got := ParseClientHello(t, h.Message()); got.Extensions != nil || len(h.Body()) != h.ExtensionsOffset() {
		t.Error("a hello without an extensions block grew one")
	}
}
