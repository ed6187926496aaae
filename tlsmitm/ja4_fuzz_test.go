package tlsmitm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lucid-edge/lucid/internal/clienthellos"
)

// FuzzJA4 fingerprints every hello the parser accepts: JA4 must not panic,
// must have the JA4 shape, and its plain-text part must agree with the
// parsed hello.
func FuzzJA4(f *testing.F) {
	for _, h := range clienthellos.All() {
		f.Add(h.Message())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ch, err := ParseClientHello(data)
		if err != nil {
			return
		}
		got := JA4(ch)
		if !ja4Format.MatchString(got) {
			t.Fatalf("JA4 %q does not have the JA4 format", got)
		}
		if again := JA4(ch); again != got {
			t.Fatalf("JA4 gave %s, then %s", got, again)
		}
		dest := "i"
		if slices.Contains(ch.Extensions, 0) {
			dest = "d"
		}
		counts := fmt.Sprintf("%s%02d%02d", dest, min(nonGREASE(ch.CipherSuites), 99), min(nonGREASE(ch.Extensions), 99))
		if got[3:8] != counts {
			t.Fatalf("JA4 %s, want SNI and counts %s", got, counts)
		}
	})
}

// nonGREASE counts the values that are not GREASE (RFC 8701: 0x?a?a with
// both bytes equal), written apart from ja4.go's isGREASE on purpose.
func nonGREASE(vals []uint16) int {
	n := 0
	for _, v := range vals {
		if v&0x0f0f != 0x0a0a || v>>8 != v&0xff {
			n++
		}
	}
	return n
}
