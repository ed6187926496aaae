package tlsmitm

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzMirroredSpec turns arbitrary ClientHellos into the uTLS spec the
// upstream handshake would send: parsing the hello, fingerprinting it and
// stripping what cannot be forwarded must never panic.
func FuzzMirroredSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/clienthellos/*.bin")
	for _, name := range files {
		rec, err := os.ReadFile(name)
		if err == nil && len(rec) > 5 {
			f.Add(rec[5:])
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ch, err := ParseClientHello(msg)
		if err != nil {
			return
		}
		spec, err := mirroredSpec(ch)
		if err == nil && spec == nil {
			t.Fatal("no spec and no error")
		}
	})
}
