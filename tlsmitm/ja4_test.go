package tlsmitm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// ja4Format is the shape of every JA4 that JA4 can return.
var ja4Format = regexp.MustCompile(`^t(13|12|11|10|s3|s2|d1|d2|d3|00)[di][0-9]{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

// Lists as JA4_ro prints them (original order), from published examples.
var (
	// FoxIO's JA4.md, "Cipher hash", "Extension hash" and "Raw Output".
	foxioSuites = []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	foxioExts   = []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015}
	foxioSigs   = []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}
	// Chrome 143 as tls.browserleaks.com reported it (ja4 and ja4_ro),
	// t13d1516h2_8daaf6152771_d8a2da3f94cd.
	chrome143Exts = []uint16{0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01, 0x0023, 0x0012, 0x0005, 0x000d, 0x001b}
)

// helloSpec describes a ClientHello to build for a JA4 test.
type helloSpec struct {
	version  uint16 // legacy_version, 0x0303 when zero
	suites   []uint16
	exts     []uint16 // in wire order; bodies come from the fields below
	sigs     []uint16
	alpn     []string
	versions []uint16 // supported_versions, {0x0304, 0x0303} when nil
}

// build serializes the hello, giving every extension a body the parser
// accepts.
func (s helloSpec) build(t testing.TB) []byte {
	t.Helper()
	h := &tlstest.ClientHello{
		LegacyVersion: orDefault(s.version, 0x0303),
		Random:        make([]byte, 32),
		Compressions:  []byte{0},
		Extensions:    []tlstest.Extension{},
	}
	for _, c := range s.suites {
		h.CipherSuites = putU16(h.CipherSuites, c)
	}
	for _, typ := range s.exts {
		var body []byte
		switch typ {
		case extServerName:
			name := "example.com"
			body = putU16(nil, uint16(3+len(name)))
			body = append(putU16(append(body, 0), uint16(len(name))), name...)
		case extALPN:
			var list []byte
			for _, p := range s.alpn {
				list = append(append(list, byte(len(p))), p...)
			}
			body = append(putU16(nil, uint16(len(list))), list...)
		case extSignatureAlgorithms:
			body = u16List(s.sigs...)
		case extSupportedVersions:
			vers := s.versions
			if vers == nil {
				vers = []uint16{0x0304, 0x0303}
			}
			body = u16List(vers...)[1:] // one-byte length
			body[0] = byte(2 * len(vers))
		case extSupportedGroups:
			body = u16List(0x001d, 0x0017)
		case extKeyShare:
			share := append(putU16(putU16(nil, 0x001d), 32), make([]byte, 32)...)
			body = append(putU16(nil, uint16(len(share))), share...)
		case extPSKModes:
			body = []byte{1, 1}
		case extRecordSizeLimit:
			body = putU16(nil, 0x4001)
		case extCompressCertificate:
			body = []byte{2, 0, 2} // brotli
		}
		h.Extensions = append(h.Extensions, tlstest.Extension{Type: typ, Data: body})
	}
	return h.Message()
}

func orDefault(v, def uint16) uint16 {
	if v == 0 {
		return def
	}
	return v
}

func ja4Of(t testing.TB, msg []byte) string {
	t.Helper()
	ch, err := ParseClientHello(msg)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	got := JA4(ch)
	if !ja4Format.MatchString(got) {
		t.Errorf("JA4 %q does not have the JA4 format", got)
	}
	return got
}

// TestJA4Published checks hellos built from published JA4_ro lists against
// the JA4 published with them.
func TestJA4Published(t *testing.T) {
	h2 := []string{"h2", "http/1.1"}
	tests := []struct {
		name string
		spec helloSpec
		want string
	}{
		{"FoxIO JA4.md example", helloSpec{suites: foxioSuites, exts: foxioExts, sigs: foxioSigs, alpn: h2},
			"t13d1516h2_8daaf6152771_e5627efa2ab1"},
		// JA4.md: without signature algorithms the string ends without "_":
		// the extension list alone hashes to 6d807ffa2a79. A GREASE-only list
		// is the parseable way to send none.
		{"FoxIO example, no signature algorithms", helloSpec{suites: foxioSuites, exts: foxioExts, sigs: []uint16{0x0a0a}, alpn: h2},
			"t13d1516h2_8daaf6152771_6d807ffa2a79"},
		{"browserleaks Chrome 143", helloSpec{suites: foxioSuites, exts: chrome143Exts, sigs: foxioSigs, alpn: h2},
			"t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		// Chrome sends GREASE; JA4 must not see it.
		{"browserleaks Chrome 143 with GREASE", helloSpec{
			suites:   append([]uint16{0x3a3a}, foxioSuites...),
			exts:     slices.Concat([]uint16{0x1a1a}, chrome143Exts, []uint16{0xdada}),
			sigs:     append([]uint16{0x4a4a}, foxioSigs...),
			alpn:     h2,
			versions: []uint16{0x7a7a, 0x0304, 0x0303},
		}, "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ja4Of(t, tc.spec.build(t)); got != tc.want {
				t.Errorf("JA4 = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestJA4Parts checks each rule of JA4_a and the empty-list cases.
func TestJA4Parts(t *testing.T) {
	base := helloSpec{suites: foxioSuites, exts: foxioExts, sigs: foxioSigs, alpn: []string{"h2"}}
	with := func(f func(*helloSpec)) helloSpec {
		s := base
		f(&s)
		return s
	}
	many := make([]uint16, 120)
	for i := range many {
		many[i] = uint16(0xc100 + i)
	}
	noSNIOrALPN := slices.DeleteFunc(slices.Clone(foxioExts), func(e uint16) bool { return e == extServerName || e == extALPN })
	tests := []struct {
		name       string
		spec       helloSpec
		wantPrefix string
	}{
		{"no SNI, no ALPN", with(func(s *helloSpec) { s.exts = noSNIOrALPN }), "t13i151400_"},
		{"ALPN http/1.1", with(func(s *helloSpec) { s.alpn = []string{"http/1.1", "h2"} }), "t13d1516h1_"},
		{"ALPN one character", with(func(s *helloSpec) { s.alpn = []string{"x"} }), "t13d1516xx_"},
		// JA4.md: a non-alphanumeric first or last byte prints the first and
		// last hex digits instead.
		{"ALPN 0xAB", with(func(s *helloSpec) { s.alpn = []string{"\xab"} }), "t13d1516ab_"},
		{"ALPN 0xAB 0xCD", with(func(s *helloSpec) { s.alpn = []string{"\xab\xcd"} }), "t13d1516ad_"},
		{"ALPN 0x30 0xAB", with(func(s *helloSpec) { s.alpn = []string{"0\xab"} }), "t13d15163b_"},
		{"ALPN 0x30 0x31 0xAB 0xCD", with(func(s *helloSpec) { s.alpn = []string{"01\xab\xcd"} }), "t13d15163d_"},
		{"ALPN 0x30 0xAB 0xCD 0x31", with(func(s *helloSpec) { s.alpn = []string{"0\xab\xcd1"} }), "t13d151601_"},
		{"TLS 1.2 without supported_versions", with(func(s *helloSpec) {
			s.exts = slices.DeleteFunc(slices.Clone(foxioExts), func(e uint16) bool { return e == extSupportedVersions })
		}), "t12d1515h2_"},
		{"TLS 1.0 legacy version", with(func(s *helloSpec) {
			s.version = 0x0301
			s.exts = []uint16{extServerName}
		}), "t10d150100_"},
		{"highest supported version wins", with(func(s *helloSpec) { s.versions = []uint16{0x0302, 0x0304, 0x0303} }), "t13d"},
		{"unknown version", with(func(s *helloSpec) { s.versions = []uint16{0x0305} }), "t00d"},
		{"more than 99 suites", with(func(s *helloSpec) { s.suites = many }), "t13d9916h2_"},
		{"only GREASE suites", with(func(s *helloSpec) { s.suites = []uint16{0x0a0a, 0x1a1a} }), "t13d0016h2_000000000000_"},
		{"only SNI and ALPN", with(func(s *helloSpec) { s.exts = []uint16{extServerName, extALPN} }), "t12d1502h2_8daaf6152771_000000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ja4Of(t, tc.spec.build(t)); !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("JA4 = %s, want prefix %s", got, tc.wantPrefix)
			}
		})
	}
}

// Captured hellos of clients whose JA4 others have published, computed from
// other captures of the same client family.
var publishedFileJA4 = map[string]string{
	// Real Chrome 143 as tls.browserleaks.com reported it; the uTLS
	// Chrome 133 parrot imitates that same hello.
	"4-utls-chrome133.bin": "t13d1516h2_8daaf6152771_d8a2da3f94cd",
	// FoxIO's reference implementation on a Chrome hello with GREASE among
	// its signature algorithms, as Chromium 156 sends them
	// (rust/ja4/src/snapshots/ja4__insta@sigalg-grease.pcapng.snap).
	"9-chromium156.bin": "t13d1517h2_8daaf6152771_cb7bf5808d99",
}

// TestJA4Files compares JA4 on the captured hellos with a second, naive
// implementation that works on the raw bytes and with published values.
func TestJA4Files(t *testing.T) {
	for _, tc := range clientHelloFiles {
		t.Run(tc.file, func(t *testing.T) {
			_, body := readHelloRecord(t, tc.file)
			got := ja4Of(t, body)
			if want := ja4Naive(t, body); got != want {
				t.Errorf("JA4 = %s, the naive implementation says %s", got, want)
			}
			if want, ok := publishedFileJA4[tc.file]; ok && got != want {
				t.Errorf("JA4 = %s, published %s", got, want)
			}
		})
	}
}

// ja4Naive computes JA4 from the raw bytes by the letter of JA4.md, with
// strings, sort and fmt and none of the code under test (tlstest splits
// the hello).
func ja4Naive(t testing.TB, msg []byte) string {
	h := tlstest.ParseClientHello(t, msg)
	grease := func(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }
	u16s := func(b []byte) []uint16 {
		var out []uint16
		for i := 0; i+1 < len(b); i += 2 {
			out = append(out, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return out
	}
	hexes := func(vals []uint16) []string {
		var out []string
		for _, v := range vals {
			if !grease(v) {
				out = append(out, fmt.Sprintf("%04x", v))
			}
		}
		return out
	}
	hash := func(s string) string {
		if s == "" {
			return "000000000000"
		}
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])[:12]
	}
	version := h.LegacyVersion
	dest, alpn := "i", "00"
	var exts []uint16
	var sigs []uint16
	for _, e := range h.Extensions {
		exts = append(exts, e.Type)
		switch e.Type {
		case 0x0000:
			dest = "d"
		case 0x0010:
			first := e.Data[3 : 3+int(e.Data[2])]
			alpn = string([]byte{first[0], first[len(first)-1]})
		case 0x000d:
			sigs = u16s(e.Data[2:])
		case 0x002b:
			for _, v := range u16s(e.Data[1:]) {
				if !grease(v) && v > version {
					version = v
				}
			}
		}
	}
	versions := map[uint16]string{0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}
	suites := hexes(u16s(h.CipherSuites))
	extHex := hexes(exts)
	count := fmt.Sprintf("%02d%02d", min(len(suites), 99), min(len(extHex), 99))
	sort.Strings(suites)
	extHex = slices.DeleteFunc(extHex, func(s string) bool { return s == "0000" || s == "0010" })
	sort.Strings(extHex)
	c := strings.Join(extHex, ",")
	if s := hexes(sigs); len(s) > 0 {
		c += "_" + strings.Join(s, ",")
	}
	return "t" + versions[version] + dest + count + alpn + "_" + hash(strings.Join(suites, ",")) + "_" + hash(c)
}

// JA4 runs once per connection for the access log: only its result string
// may reach the heap.
func TestJA4Allocs(t *testing.T) {
	_, body := readHelloRecord(t, "9-chromium156.bin")
	ch, err := ParseClientHello(body)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { JA4(ch) }); n > 1 {
		t.Errorf("JA4 allocates %v times, want 1", n)
	}
}
