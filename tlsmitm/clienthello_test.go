package tlsmitm

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/internal/tlstest"
)

// Real ClientHellos of the corpus (internal/clienthellos; its
// records/README.md says where each came from): each file is one TLS
// record holding one ClientHello.
var clientHelloFiles = []struct {
	file   string
	sni    string
	grease bool // the client sends GREASE values (RFC 8701)
}{
	{"1-go126.bin", "localhost", false},
	{"2-openssl-sclient.bin", "localhost", false},
	{"3-curl.bin", "localhost", false},
	{"4-utls-chrome133.bin", "localhost", true},
	{"5-utls-firefox120.bin", "localhost", false},
	{"6-utls-safari.bin", "localhost", true},
	{"7-utls-ios.bin", "localhost", true},
	{"8-utls-edge.bin", "localhost", true},
	{"9-chromium156.bin", "origin.test", true},
	{"10-firefox-esr153.bin", "origin.test", false},
}

// readHelloRecord returns the named record of the corpus, a fresh copy,
// and the handshake message in it.
func readHelloRecord(t testing.TB, name string) (rec, body []byte) {
	t.Helper()
	rec = clienthellos.Record(name) // it checks that rec is one whole handshake record
	return rec, rec[recordHeaderLen:]
}

// goHello is the body of the Go 1.26 hello, the base of the malformed cases.
func goHello(t testing.TB) []byte {
	_, body := readHelloRecord(t, "1-go126.bin")
	return body
}

// helloRecord wraps a handshake message in one plaintext record.
func helloRecord(msg []byte) []byte {
	return appendPlainRecord(nil, recordHandshake, msg)
}

func u16List(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = putU16(b, v)
	}
	return append(putU16(nil, uint16(len(b))), b...)
}

func TestClientHelloFiles(t *testing.T) {
	for _, tc := range clientHelloFiles {
		t.Run(tc.file, func(t *testing.T) {
			_, body := readHelloRecord(t, tc.file)
			ch, err := ParseClientHello(body)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !bytes.Equal(ch.Raw, body) || &ch.Raw[0] != &body[0] {
				t.Error("Raw is not the record body")
			}
			if ch.ServerName != tc.sni {
				t.Errorf("ServerName = %q, want %q", ch.ServerName, tc.sni)
			}
			for _, p := range []string{"h2", "http/1.1"} {
				if !slices.Contains(ch.ALPNProtocols, p) {
					t.Errorf("ALPN %q lacks %q", ch.ALPNProtocols, p)
				}
			}
			if !slices.Contains(ch.SupportedVersions, versionTLS13) {
				t.Errorf("SupportedVersions %x lacks TLS 1.3", ch.SupportedVersions)
			}
			if !ch.KeyShareSent || len(ch.KeyShares) == 0 {
				t.Error("no key share")
			}
			if ch.LegacyVersion != versionTLS12 || len(ch.Random) != 32 || len(ch.SessionID) != 32 {
				t.Errorf("legacy_version %#04x, random %d bytes, session ID %d bytes", ch.LegacyVersion, len(ch.Random), len(ch.SessionID))
			}
			if len(ch.SignatureSchemes) == 0 || len(ch.Groups) == 0 || len(ch.CipherSuites) == 0 {
				t.Error("empty signature schemes, groups or suites")
			}

			// The extension list, in order, agrees with the test's own split.
			raw := tlstest.ParseClientHello(t, body)
			var types []uint16
			for _, e := range raw.Extensions {
				types = append(types, e.Type)
			}
			if !slices.Equal(ch.Extensions, types) {
				t.Errorf("Extensions = %v, want %v", ch.Extensions, types)
			}
			if !bytes.Equal(raw.Message(), body) {
				t.Fatal("test re-serializer does not round-trip the hello")
			}

			var grease bool
			for _, list := range [][]uint16{ch.CipherSuites, ch.Extensions, ch.SupportedVersions, ch.SignatureSchemes} {
				grease = grease || slices.ContainsFunc(list, isGREASE)
			}
			grease = grease || slices.ContainsFunc(ch.Groups, func(g Group) bool { return isGREASE(uint16(g)) })
			if grease != tc.grease {
				t.Errorf("GREASE seen = %v, want %v", grease, tc.grease)
			}
			if err := checkClientHello13(ch); err != nil {
				t.Errorf("checkClientHello13: %v", err)
			}

			// A server answers every one of them with a ServerHello (GREASE
			// groups, suites and extensions are skipped).
			var got *ClientHello
			cfg := staticConfig(testCert)
			cfg.NextProtos = []string{"h2", "http/1.1"}
			get := cfg.GetCertificate
			cfg.GetCertificate = func(h *ClientHello) (*Certificate, error) { got = h; return get(h) }
			c := NewServer(cfg)
			rec, _ := readHelloRecord(t, tc.file)
			res, perr := c.Process(rec, nil)
			if perr != nil {
				t.Fatalf("Process: %v", perr)
			}
			if res.Consumed != len(rec) || len(res.Out) < 6 || res.Out[0] != recordHandshake || res.Out[5] != typeServerHello {
				t.Fatalf("no ServerHello: consumed %d, out % x", res.Consumed, res.Out[:min(len(res.Out), 16)])
			}
			if got == nil || got.ServerName != tc.sni {
				t.Errorf("GetCertificate saw %v", got)
			}
			st := c.State()
			if st.NegotiatedProtocol != "h2" || st.ServerName != tc.sni || !st.Group.supported() {
				t.Errorf("state %+v", st)
			}
		})
	}
}

// wantAlert checks err is an *AlertError carrying alert a.
func wantAlert(t *testing.T, err error, a Alert) {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want alert %v", err, a)
	}
	if ae.Alert != a {
		t.Fatalf("alert %v (%s), want %v", ae.Alert, ae.Msg, a)
	}
}

func TestClientHelloMalformed(t *testing.T) {
	base := goHello(t)
	edit := func(f func(h *tlstest.ClientHello)) []byte {
		h := tlstest.ParseClientHello(t, base)
		f(h)
		return h.Message()
	}
	x25519Share := func(t *testing.T) []byte {
		ch, err := ParseClientHello(bytes.Clone(base))
		if err != nil {
			t.Fatal(err)
		}
		for _, ks := range ch.KeyShares {
			if ks.Group == GroupX25519 {
				return bytes.Clone(ks.Data)
			}
		}
		t.Fatal("Go hello has no X25519 share")
		return nil
	}

	cases := []struct {
		name string
		msg  []byte
		want Alert
	}{
		{"duplicate server_name", edit(func(h *tlstest.ClientHello) {
			h.Extensions = slices.Insert(h.Extensions, 1, h.Extensions[h.Find(extServerName)])
		}), AlertIllegalParameter},
		{"duplicate supported_versions at the end", edit(func(h *tlstest.ClientHello) {
			h.Extensions = append(h.Extensions, h.Extensions[h.Find(extSupportedVersions)])
		}), AlertIllegalParameter},
		{"duplicate unknown extension", edit(func(h *tlstest.ClientHello) {
			h.Extensions = append([]tlstest.Extension{{Type: 0xff00}, {Type: 0xff00}}, h.Extensions...)
		}), AlertIllegalParameter},
		{"session id of 33 bytes", edit(func(h *tlstest.ClientHello) { h.SessionID = make([]byte, 33) }), AlertDecodeError},
		{"session id of 255 bytes", edit(func(h *tlstest.ClientHello) { h.SessionID = make([]byte, 255) }), AlertDecodeError},
		{"pre_shared_key not last", edit(func(h *tlstest.ClientHello) {
			h.Extensions = slices.Insert(h.Extensions, len(h.Extensions)-1, tlstest.Extension{Type: extPreSharedKey, Data: []byte{0, 0, 0, 0}})
		}), AlertIllegalParameter},
		{"pre_shared_key first", edit(func(h *tlstest.ClientHello) {
			h.Extensions = slices.Insert(h.Extensions, 0, tlstest.Extension{Type: extPreSharedKey})
		}), AlertIllegalParameter},
		{"record_size_limit 63", edit(func(h *tlstest.ClientHello) { h.Set(extRecordSizeLimit, []byte{0, 63}) }), AlertIllegalParameter},
		{"record_size_limit 0", edit(func(h *tlstest.ClientHello) { h.Set(extRecordSizeLimit, []byte{0, 0}) }), AlertIllegalParameter},
		{"record_size_limit of 3 bytes", edit(func(h *tlstest.ClientHello) { h.Set(extRecordSizeLimit, []byte{0x40, 0, 1}) }), AlertDecodeError},
		{"two shares for X25519", edit(func(h *tlstest.ClientHello) {
			s := x25519Share(t)
			var l []byte
			for i := 0; i < 2; i++ {
				l = putU16(l, uint16(GroupX25519))
				l = putU16(l, uint16(len(s)))
				l = append(l, s...)
			}
			h.Set(extKeyShare, append(putU16(nil, uint16(len(l))), l...))
		}), AlertIllegalParameter},
		{"empty key share entry", edit(func(h *tlstest.ClientHello) { h.Set(extKeyShare, []byte{0, 4, 0, 0x1d, 0, 0}) }), AlertDecodeError},
		{"supported_versions of odd length", edit(func(h *tlstest.ClientHello) { h.Set(extSupportedVersions, []byte{3, 3, 4, 3}) }), AlertDecodeError},
		{"supported_groups empty", edit(func(h *tlstest.ClientHello) { h.Set(extSupportedGroups, []byte{0, 0}) }), AlertDecodeError},
		{"ALPN with an empty name", edit(func(h *tlstest.ClientHello) { h.Set(extALPN, []byte{0, 4, 2, 'h', '2', 0}) }), AlertDecodeError},
		{"ALPN list empty", edit(func(h *tlstest.ClientHello) { h.Set(extALPN, []byte{0, 0}) }), AlertDecodeError},
		{"early_data with a body", edit(func(h *tlstest.ClientHello) { h.Set(extEarlyData, []byte{0}) }), AlertDecodeError},
		{"server_name with a space", edit(func(h *tlstest.ClientHello) {
			h.Set(extServerName, []byte{0, 6, 0, 0, 3, 'a', ' ', 'b'})
		}), AlertIllegalParameter},
		{"two host names", edit(func(h *tlstest.ClientHello) {
			h.Set(extServerName, []byte{0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'})
		}), AlertIllegalParameter},
		{"extension length past the block", func() []byte {
			h := tlstest.ParseClientHello(t, base)
			b := h.Message()
			at := len(b) - len(h.Extensions[len(h.Extensions)-1].Data) - 2
			// The last extension claims one byte more than there is.
			putU16(b[:at], uint16(len(h.Extensions[len(h.Extensions)-1].Data)+1))
			return b
		}(), AlertDecodeError},
		{"no compression method", edit(func(h *tlstest.ClientHello) { h.Compressions = nil }), AlertDecodeError},
		{"odd cipher_suites", edit(func(h *tlstest.ClientHello) { h.CipherSuites = h.CipherSuites[:3] }), AlertDecodeError},
		{"empty cipher_suites", edit(func(h *tlstest.ClientHello) { h.CipherSuites = nil }), AlertDecodeError},
		{"trailing byte after the extensions", func() []byte {
			b := append(bytes.Clone(base), 0)
			closeVec(b, 1, 3)
			return b
		}(), AlertDecodeError},
		{"not a ClientHello", append([]byte{typeServerHello}, base[1:]...), AlertUnexpectedMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseClientHello(tc.msg)
			wantAlert(t, err, tc.want)
		})
	}

	// Controls: the edits above are only wrong where the case says so.
	controls := map[string][]byte{
		"pre_shared_key last": edit(func(h *tlstest.ClientHello) {
			// One identity "x" with its age, one 32-byte binder.
			psk := slices.Concat([]byte{0, 7, 0, 1, 'x', 0, 0, 0, 0, 0, 33, 32}, make([]byte, 32))
			h.Extensions = append(h.Extensions, tlstest.Extension{Type: extPreSharedKey, Data: psk})
		}),
		"record_size_limit 64":   edit(func(h *tlstest.ClientHello) { h.Set(extRecordSizeLimit, []byte{0, 64}) }),
		"session id of 32 bytes": edit(func(h *tlstest.ClientHello) { h.SessionID = make([]byte, 32) }),
		"session id empty":       edit(func(h *tlstest.ClientHello) { h.SessionID = nil }),
		"unknown extension": edit(func(h *tlstest.ClientHello) {
			h.Extensions = append([]tlstest.Extension{{Type: 0xff00, Data: []byte{1, 2, 3}}}, h.Extensions...)
		}),
		"no extensions": edit(func(h *tlstest.ClientHello) { h.Extensions = nil }),
	}
	for name, msg := range controls {
		t.Run("control/"+name, func(t *testing.T) {
			ch, err := ParseClientHello(msg)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if name == "record_size_limit 64" && ch.RecordSizeLimit != 64 {
				t.Errorf("RecordSizeLimit = %d", ch.RecordSizeLimit)
			}
		})
	}

	t.Run("truncated", func(t *testing.T) {
		// Cut anywhere, with the header left as it was: the message is
		// shorter than it says.
		for n := 1; n < len(base); n++ {
			_, err := ParseClientHello(bytes.Clone(base[:n]))
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Alert != AlertDecodeError {
				t.Fatalf("cut at %d: err %v, want decode_error", n, err)
			}
		}
		// Cut anywhere with the header length fixed up: the body itself is
		// truncated. Only the cut right after compression_methods leaves a
		// well-formed (pre-TLS 1.3, extension-less) hello.
		h := tlstest.ParseClientHello(t, base)
		noExts := 4 + 2 + 32 + 1 + len(h.SessionID) + 2 + len(h.CipherSuites) + 1 + len(h.Compressions)
		for n := 4; n < len(base); n++ {
			b := bytes.Clone(base[:n])
			closeVec(b, 1, 3)
			_, err := ParseClientHello(b)
			if n == noExts {
				if err != nil {
					t.Errorf("hello without extensions: %v", err)
				}
				continue
			}
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Alert != AlertDecodeError {
				t.Fatalf("body cut at %d: err %v, want decode_error", n, err)
			}
		}
	})

	t.Run("key share for a group not in supported_groups", func(t *testing.T) {
		// Go's hello shares X25519MLKEM768 and X25519; drop X25519 from
		// supported_groups (§4.2.8). checkClientHello13 refuses it, so drive
		// it through a Conn.
		msg := edit(func(h *tlstest.ClientHello) {
			h.Set(extSupportedGroups, u16List(uint16(GroupX25519MLKEM768), uint16(GroupP256)))
		})
		if _, err := ParseClientHello(msg); err != nil {
			t.Fatalf("the parser alone should accept it: %v", err)
		}
		res, err := NewServer(staticConfig(testCert)).Process(helloRecord(msg), nil)
		wantAlert(t, err, AlertIllegalParameter)
		wantPlainAlert(t, res.Out, AlertIllegalParameter)
	})
}

func TestIsGREASE(t *testing.T) {
	for i := 0; i < 16; i++ {
		v := uint16(i)<<12 | 0x0a<<8 | uint16(i)<<4 | 0x0a
		if !isGREASE(v) {
			t.Errorf("%#04x is GREASE", v)
		}
	}
	for _, v := range []uint16{0x0a1a, 0x1a0a, 0x0a0b, 0x0000, 0x0304, 0xfafb} {
		if isGREASE(v) {
			t.Errorf("%#04x is not GREASE", v)
		}
	}
}
