// Package clienthellos is the one corpus of real ClientHellos (Go, curl,
// openssl, Chromium, Firefox, uTLS browser presets) that parser tests and
// fuzz targets seed from; records/README.md says where each came from.
// Tests and fuzz targets of any package import it; nothing else should.
package clienthellos

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed records/*.bin
var files embed.FS

// Hello is one captured ClientHello.
type Hello struct {
	Name   string // the file name, e.g. "9-chromium156.bin"
	Record []byte // one whole TLS record, 5-byte header included
}

// Message is the handshake message inside the record (4-byte header
// included), as a parser of ClientHello messages takes it.
func (h Hello) Message() []byte { return h.Record[5:] }

// All returns the browser and tool ClientHellos (not the "extra-" ones made
// for one purpose), in file name order, each a fresh copy.
func All() []Hello {
	entries, err := files.ReadDir("records")
	if err != nil {
		panic(err) // the corpus is compiled in: cannot happen
	}
	var out []Hello
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "extra-") {
			continue
		}
		out = append(out, Hello{Name: e.Name(), Record: mustRead(e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Record returns the record in the named file (an extra one included), a
// fresh copy; it panics on a name the corpus does not hold, since that is
// a mistake in the test.
func Record(name string) []byte { return mustRead(name) }

func mustRead(name string) []byte {
	b, err := files.ReadFile(path.Join("records", name))
	if err != nil {
		panic(fmt.Sprintf("clienthellos: %v", err))
	}
	if len(b) < 5+4 || b[0] != 0x16 || int(b[3])<<8|int(b[4]) != len(b)-5 {
		panic(fmt.Sprintf("clienthellos: %s is not one handshake record", name))
	}
	return b
}
