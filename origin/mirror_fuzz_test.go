package origin

import (
	"testing"

	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// FuzzMirroredSpec turns arbitrary ClientHellos into the uTLS spec the
// upstream handshake would send: fingerprinting a hello tlsmitm accepted
// and stripping what cannot be forwarded must never panic. The input is
// parsed first because the handshake only ever gets hellos tlsmitm parsed.
func FuzzMirroredSpec(f *testing.F) {
	for _, h := range clienthellos.All() {
		f.Add(h.Message())
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ch, err := tlsmitm.ParseClientHello(msg)
		if err != nil {
			return
		}
		spec, err := mirroredSpec(ch)
		if err == nil && spec == nil {
			t.Fatal("no spec and no error")
		}
	})
}
