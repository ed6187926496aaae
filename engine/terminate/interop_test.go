package terminate_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// iopX448 is a group the server does not implement.
const iopX448 = utls.CurveID(0x001e)

var iopSuites = []struct {
	name string
	id   uint16
}{
	{"TLS_AES_128_GCM_SHA256", tls.TLS_AES_128_GCM_SHA256},
	{"TLS_AES_256_GCM_SHA384", tls.TLS_AES_256_GCM_SHA384},
	{"TLS_CHACHA20_POLY1305_SHA256", tls.TLS_CHACHA20_POLY1305_SHA256},
}

var iopGroups = []struct {
	name string
	id   tls.CurveID
}{
	{"X25519MLKEM768", tls.X25519MLKEM768},
	{"X25519", tls.X25519},
	{"P256", tls.CurveP256},
	{"P384", tls.CurveP384},
}

// iopUTLSSpec builds a minimal TLS 1.3-only ClientHello offering exactly the
// given suites, supported_groups and key shares.
func iopUTLSSpec(suites []uint16, groups []utls.CurveID, shares []utls.CurveID) *utls.ClientHelloSpec {
	ks := []utls.KeyShare{}
	for _, g := range shares {
		ks = append(ks, utls.KeyShare{Group: g})
	}
	return &utls.ClientHelloSpec{
		TLSVersMin:         utls.VersionTLS13,
		TLSVersMax:         utls.VersionTLS13,
		CipherSuites:       suites,
		CompressionMethods: []uint8{0},
		Extensions: []utls.TLSExtension{
			&utls.SNIExtension{},
			&utls.SupportedCurvesExtension{Curves: groups},
			&utls.SignatureAlgorithmsExtension{SupportedSignatureAlgorithms: []utls.SignatureScheme{
				utls.ECDSAWithP256AndSHA256, utls.PSSWithSHA256, utls.ECDSAWithP384AndSHA384,
				utls.PSSWithSHA384, utls.PKCS1WithSHA256, utls.Ed25519,
			}},
			&utls.ALPNExtension{AlpnProtocols: []string{"http/1.1"}},
			&utls.KeyShareExtension{KeyShares: ks},
			&utls.PSKKeyExchangeModesExtension{Modes: []uint8{utls.PskModeDHE}},
			&utls.SupportedVersionsExtension{Versions: []uint16{utls.VersionTLS13}},
		},
	}
}

// iopDialUTLS handshakes with uTLS (preset id, or HelloCustom + spec).
func iopDialUTLS(t *testing.T, s *iopServer, id utls.ClientHelloID, spec *utls.ClientHelloSpec) (*utls.UConn, *tlstest.RecordingConn) {
	t.Helper()
	raw := iopDialTCP(t, s)
	rc := &tlstest.RecordingConn{Conn: raw}
	uc := utls.UClient(rc, &utls.Config{ServerName: "localhost", RootCAs: s.pool}, id)
	if spec != nil {
		if err := uc.ApplyPreset(spec); err != nil {
			t.Fatalf("ApplyPreset: %v", err)
		}
		// uTLS aborts with internal_error unless some classical ECDHE key is
		// present, even when the only share is one we filled in by hand.
		if ks := uc.HandshakeState.State13.KeyShareKeys; ks != nil && ks.Ecdhe == nil {
			k, err := ecdh.X25519().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ks.Ecdhe = k
		}
	}
	uc.SetDeadline(time.Now().Add(iopIOTimeout))
	if err := uc.Handshake(); err != nil {
		info, ierr := tlstest.ParseServerHellos(rc.Received())
		t.Fatalf("uTLS handshake: %v (server hello info %+v, %v)", err, info, ierr)
	}
	return uc, rc
}

// TestInteropGoGroups: crypto/tls client restricted to one group at a time.
func TestInteropGoGroups(t *testing.T) {
	s := iopStartDefault(t)
	for _, g := range iopGroups {
		t.Run(g.name, func(t *testing.T) {
			cfg := s.goConfig()
			cfg.CurvePreferences = []tls.CurveID{g.id}
			cfg.NextProtos = []string{"h2", "http/1.1"}
			c, rc := iopDialGo(t, s, cfg)
			defer c.Close()
			st := c.ConnectionState()
			if st.Version != tls.VersionTLS13 {
				t.Errorf("version = %#04x, want TLS 1.3", st.Version)
			}
			if st.CurveID != g.id {
				t.Errorf("CurveID = %v, want %v", st.CurveID, g.id)
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN = %q, want http/1.1 (server must never pick h2)", st.NegotiatedProtocol)
			}
			info, err := tlstest.ParseServerHellos(rc.Received())
			if err != nil {
				t.Fatal(err)
			}
			if info.HRR {
				t.Errorf("unexpected HelloRetryRequest (client sent a share for the only group)")
			}
			resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), iopReq)
			iopCheckResp(t, resp, body)
		})
	}
}

// TestInteropUTLSSuitesGroups: every TLS 1.3 suite x every group, with a uTLS
// ClientHello offering exactly that one suite and that one group.
func TestInteropUTLSSuitesGroups(t *testing.T) {
	s := iopStartDefault(t)
	for _, su := range iopSuites {
		for _, g := range iopGroups {
			t.Run(su.name+"/"+g.name, func(t *testing.T) {
				gid := utls.CurveID(g.id)
				groups := []utls.CurveID{gid}
				if gid == utls.X25519MLKEM768 {
					// uTLS cannot offer the hybrid alone (it insists on a classical
					// ECDHE share); offer it the way browsers do, hybrid first.
					groups = []utls.CurveID{utls.X25519MLKEM768, utls.X25519}
				}
				spec := iopUTLSSpec([]uint16{su.id}, groups, groups)
				uc, rc := iopDialUTLS(t, s, utls.HelloCustom, spec)
				defer uc.Close()
				st := uc.ConnectionState()
				if st.Version != tls.VersionTLS13 || st.CipherSuite != su.id {
					t.Errorf("version %#04x suite %#04x, want TLS 1.3 / %#04x", st.Version, st.CipherSuite, su.id)
				}
				info, err := tlstest.ParseServerHellos(rc.Received())
				if err != nil {
					t.Fatal(err)
				}
				if info.HRR || info.Group != uint16(g.id) || info.Suite != su.id || info.Version != tls.VersionTLS13 {
					t.Errorf("ServerHello %+v, want group %#04x suite %#04x no HRR", info, uint16(g.id), su.id)
				}
				resp, body := tlstest.RoundTrip(t, uc, bufio.NewReader(uc), iopReq)
				iopCheckResp(t, resp, body)
			})
		}
	}
}

// TestInteropHRR forces HelloRetryRequest.
func TestInteropHRR(t *testing.T) {
	s := iopStartDefault(t)

	// supported_groups [X448, P-256, P-384] with a key share for X448 only, a
	// group the server does not implement: the server has no usable share, so
	// RFC 8446 §4.1.1 requires a HelloRetryRequest. (uTLS refuses to send an
	// empty key_share, hence the unsupported-group share.)
	for _, su := range iopSuites {
		t.Run("NoUsableShare/"+su.name, func(t *testing.T) {
			x448 := make([]byte, 56)
			rand.Read(x448)
			spec := iopUTLSSpec([]uint16{su.id}, []utls.CurveID{iopX448, utls.CurveP256, utls.CurveP384}, nil)
			for _, e := range spec.Extensions {
				if ks, ok := e.(*utls.KeyShareExtension); ok {
					ks.KeyShares = []utls.KeyShare{{Group: iopX448, Data: x448}}
				}
			}
			uc, rc := iopDialUTLS(t, s, utls.HelloCustom, spec)
			defer uc.Close()
			info, err := tlstest.ParseServerHellos(rc.Received())
			if err != nil {
				t.Fatal(err)
			}
			if !info.HRR {
				t.Fatalf("no HelloRetryRequest seen although the client sent no key share; %+v", info)
			}
			if info.HRRGroup != uint16(tls.CurveP256) {
				t.Errorf("HRR selected group %#04x, want P-256 (0x0017: first server-preferred group the client supports)", info.HRRGroup)
			}
			if info.Group != info.HRRGroup || info.Suite != su.id {
				t.Errorf("final ServerHello %+v inconsistent with HRR", info)
			}
			resp, body := tlstest.RoundTrip(t, uc, bufio.NewReader(uc), iopReq)
			iopCheckResp(t, resp, body)
		})
	}

	// supported_groups [X25519, P-256] with only a P-256 share. The server may
	// either accept the P-256 share or HRR to its preferred X25519; both are legal.
	t.Run("ShareForLessPreferredGroup", func(t *testing.T) {
		spec := iopUTLSSpec([]uint16{tls.TLS_AES_128_GCM_SHA256},
			[]utls.CurveID{utls.X25519, utls.CurveP256}, []utls.CurveID{utls.CurveP256})
		uc, rc := iopDialUTLS(t, s, utls.HelloCustom, spec)
		defer uc.Close()
		info, err := tlstest.ParseServerHellos(rc.Received())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("server behaviour: %+v", info)
		switch {
		case info.HRR && info.HRRGroup == uint16(utls.X25519) && info.Group == uint16(utls.X25519):
		case !info.HRR && info.Group == uint16(utls.CurveP256):
		default:
			t.Errorf("unexpected negotiation %+v", info)
		}
		resp, body := tlstest.RoundTrip(t, uc, bufio.NewReader(uc), iopReq)
		iopCheckResp(t, resp, body)
	})

	// crypto/tls sends a share only for its first preference (P-384 here).
	t.Run("GoClientP384First", func(t *testing.T) {
		cfg := s.goConfig()
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP384, tls.X25519}
		c, rc := iopDialGo(t, s, cfg)
		defer c.Close()
		info, err := tlstest.ParseServerHellos(rc.Received())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("server behaviour: %+v, CurveID %v", info, c.ConnectionState().CurveID)
		if uint16(c.ConnectionState().CurveID) != info.Group {
			t.Errorf("CurveID %v != ServerHello group %#04x", c.ConnectionState().CurveID, info.Group)
		}
		resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), iopReq)
		iopCheckResp(t, resp, body)
	})
}

// TestInteropUTLSPresets: browser fingerprints (GREASE, ECH GREASE, ALPS, h2 in
// ALPN, TLS 1.2 also offered) must negotiate TLS 1.3 + http/1.1.
func TestInteropUTLSPresets(t *testing.T) {
	s := iopStartDefault(t)
	presets := tlstest.BrowserPresets
	for _, p := range presets {
		t.Run(p.Name, func(t *testing.T) {
			uc, rc := iopDialUTLS(t, s, p.ID, nil)
			defer uc.Close()
			st := uc.ConnectionState()
			if st.Version != tls.VersionTLS13 {
				t.Errorf("version = %#04x, want TLS 1.3", st.Version)
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN = %q, want http/1.1", st.NegotiatedProtocol)
			}
			info, err := tlstest.ParseServerHellos(rc.Received())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("negotiated suite %#04x group %#04x hrr=%v", info.Suite, info.Group, info.HRR)
			br := bufio.NewReader(uc)
			for i := 0; i < 2; i++ {
				resp, body := tlstest.RoundTrip(t, uc, br, iopReq)
				iopCheckResp(t, resp, body)
			}
		})
	}
}

// TestInteropOpenSSL runs `openssl s_client`.
func TestInteropOpenSSL(t *testing.T) {
	bin := tlstest.NeedTool(t, "openssl")
	s := iopStartDefault(t)
	pemPath := s.pemFile(t)
	cases := []struct {
		name      string
		args      []string
		wantSuite string
		wantKey   string // substring of "Server Temp Key:" line
	}{
		{"default", nil, "", ""},
		{"X25519", []string{"-groups", "X25519"}, "", "X25519"},
		{"P-256", []string{"-groups", "P-256"}, "", "prime256v1"},
		{"P-384", []string{"-groups", "P-384"}, "", "secp384r1"},
		{"CHACHA20", []string{"-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, "TLS_CHACHA20_POLY1305_SHA256", ""},
		{"AES256", []string{"-ciphersuites", "TLS_AES_256_GCM_SHA384"}, "TLS_AES_256_GCM_SHA384", ""},
		{"AES128", []string{"-ciphersuites", "TLS_AES_128_GCM_SHA256"}, "TLS_AES_128_GCM_SHA256", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := []string{"s_client", "-connect", s.addr, "-servername", "localhost", "-tls1_3",
				"-CAfile", pemPath, "-verify_return_error", "-verify_hostname", "localhost", "-quiet", "-brief"}
			args = append(args, tc.args...)
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdin = strings.NewReader(iopReqClose)
			out, err := cmd.CombinedOutput()
			o := string(out)
			if ctx.Err() != nil {
				t.Fatalf("openssl timed out (server did not close after Connection: close?); output:\n%s", o)
			}
			t.Logf("openssl exit: %v", err)
			if !strings.Contains(o, "HTTP/1.1 200 OK") || !strings.Contains(o, "hello from lucid") {
				t.Errorf("response missing; output:\n%s", o)
			}
			if !strings.Contains(o, "Verification: OK") {
				t.Errorf("certificate verification not OK; output:\n%s", o)
			}
			if !strings.Contains(o, "Protocol version: TLSv1.3") {
				t.Errorf("not TLS 1.3; output:\n%s", o)
			}
			if tc.wantSuite != "" && !strings.Contains(o, "Ciphersuite: "+tc.wantSuite) {
				t.Errorf("suite != %s; output:\n%s", tc.wantSuite, o)
			}
			if tc.wantKey != "" && !strings.Contains(o, "Server Temp Key:") {
				t.Logf("openssl did not print Server Temp Key; output:\n%s", o)
			} else if tc.wantKey != "" {
				for _, line := range strings.Split(o, "\n") {
					if strings.HasPrefix(line, "Server Temp Key:") && !strings.Contains(line, tc.wantKey) {
						t.Errorf("%q, want %s", line, tc.wantKey)
					}
				}
			}
		})
	}
}

// TestInteropCurl runs curl (OpenSSL backend) over HTTP/1.1 and HTTP/1.0.
func TestInteropCurl(t *testing.T) {
	bin := tlstest.NeedTool(t, "curl")
	s := iopStartDefault(t)
	pemPath := s.pemFile(t)
	cases := []struct {
		name string
		args []string
	}{
		{"localhost-resolve", []string{"--resolve", "localhost:" + s.port + ":127.0.0.1", "https://localhost:" + s.port + "/"}},
		{"ip-literal", []string{"https://127.0.0.1:" + s.port + "/"}},
		// curl --http1.0 offers ALPN "http/1.0" only (RFC 7301: a server with no
		// overlap "SHALL" send no_application_protocol; real servers usually ignore it).
		{"http1.0-no-alpn", []string{"--http1.0", "--no-alpn", "--resolve", "localhost:" + s.port + ":127.0.0.1", "https://localhost:" + s.port + "/"}},
		{"http1.0", []string{"--http1.0", "--resolve", "localhost:" + s.port + ":127.0.0.1", "https://localhost:" + s.port + "/"}},
		{"http1.1-two-urls-keepalive", []string{"--http1.1", "--resolve", "localhost:" + s.port + ":127.0.0.1",
			"https://localhost:" + s.port + "/", "https://localhost:" + s.port + "/again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			bodyPath := filepath.Join(t.TempDir(), "body")
			args := []string{"-sS", "-v", "--max-time", "15", "--tlsv1.3", "--cacert", pemPath,
				"-o", bodyPath, "-w", "%{http_code}|%{num_connects}\n"}
			if strings.HasPrefix(tc.name, "http1.1-two") {
				// one -o per URL
				args = []string{"-sS", "-v", "--max-time", "15", "--tlsv1.3", "--cacert", pemPath,
					"-o", bodyPath, "-o", bodyPath + "2", "-w", "%{http_code}|%{num_connects}\n"}
			}
			args = append(args, tc.args...)
			cmd := exec.CommandContext(ctx, bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("curl failed: %v\nstdout: %s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			for i, l := range lines {
				if !strings.HasPrefix(l, "200|") {
					t.Errorf("request %d: -w output %q, want 200", i, l)
				}
			}
			for _, p := range []string{bodyPath, bodyPath + "2"} {
				if p != bodyPath && !strings.HasPrefix(tc.name, "http1.1-two") {
					continue
				}
				b, err := os.ReadFile(p)
				if err != nil || string(b) != iopBody {
					t.Errorf("body %s = %q (%v), want %q", filepath.Base(p), b, err, iopBody)
				}
			}
			if !strings.Contains(stderr.String(), "TLSv1.3") {
				t.Errorf("curl -v does not mention TLSv1.3:\n%s", stderr.String())
			}
			if strings.HasPrefix(tc.name, "http1.1-two") {
				// second URL must reuse the connection (keep-alive)
				if len(lines) == 2 && !strings.HasSuffix(lines[1], "|0") {
					t.Errorf("second request opened a new connection (%q): keep-alive not honoured", lines[1])
				}
			}
		})
	}
}

// alertCloseNotify is the close_notify alert (RFC 8446 §6.1).
const alertCloseNotify = 0

// iopExpectCloseNotifyEOF reads from c (after the last response) and asserts
// io.EOF, then decrypts the recorded server stream and asserts the last record
// was a close_notify alert (RFC 8446 §6.1).
func iopExpectCloseNotifyEOF(t *testing.T, c *tls.Conn, br *bufio.Reader, rc *tlstest.RecordingConn, kl *tlstest.KeyLog) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var extra [64]byte
	n, err := br.Read(extra[:])
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read after final response = %d bytes %q, err %v; want 0, io.EOF", n, extra[:n], err)
	}
	inner, derr := tlstest.DecryptServerStream(rc.Received(), kl, c.ConnectionState().CipherSuite)
	if derr != nil {
		t.Errorf("decrypting server stream: %v", derr)
	}
	if len(inner) == 0 {
		t.Fatalf("no server records")
	}
	last := inner[len(inner)-1]
	if last.Type != tlstest.RecordAlert || len(last.Content) != 2 || last.Content[1] != alertCloseNotify {
		t.Errorf("last server record = type %#02x %q (%s key), want close_notify alert", last.Type, last.Content, last.Key)
	}
}

// TestInteropHTTP10: one response, then close_notify and EOF.
func TestInteropHTTP10(t *testing.T) {
	s := iopStartDefault(t)
	for _, req := range []string{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"} {
		t.Run(fmt.Sprintf("%q", req), func(t *testing.T) {
			kl := &tlstest.KeyLog{}
			cfg := s.goConfig()
			cfg.KeyLogWriter = kl
			c, rc := iopDialGo(t, s, cfg)
			defer c.Close()
			br := bufio.NewReader(c)
			resp, body := tlstest.RoundTrip(t, c, br, req)
			iopCheckResp(t, resp, body)
			iopExpectCloseNotifyEOF(t, c, br, rc, kl)
		})
	}
}

// TestInteropKeepAlive: several requests on one connection, pipelining,
// requests split across records, and Connection: close.
func TestInteropKeepAlive(t *testing.T) {
	s := iopStartDefault(t)

	t.Run("ThreeThenClose", func(t *testing.T) {
		kl := &tlstest.KeyLog{}
		cfg := s.goConfig()
		cfg.KeyLogWriter = kl
		c, rc := iopDialGo(t, s, cfg)
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			resp, body := tlstest.RoundTrip(t, c, br, iopReq)
			iopCheckResp(t, resp, body)
			if resp.Close {
				t.Fatalf("request %d: server announced close on a keep-alive request", i)
			}
		}
		resp, body := tlstest.RoundTrip(t, c, br, iopReqClose)
		iopCheckResp(t, resp, body)
		iopExpectCloseNotifyEOF(t, c, br, rc, kl)
	})

	t.Run("Pipelined", func(t *testing.T) {
		c, _ := iopDialGo(t, s, s.goConfig())
		defer c.Close()
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(iopIOTimeout))
		if _, err := io.WriteString(c, iopReq+iopReq+iopReq); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			resp, body := tlstest.ReadResponse(t, br)
			iopCheckResp(t, resp, body)
		}
	})

	t.Run("RequestSplitAcrossRecords", func(t *testing.T) {
		c, _ := iopDialGo(t, s, s.goConfig())
		defer c.Close()
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(iopIOTimeout))
		for _, part := range []string{"GET / HT", "TP/1.1\r\nHo", "st: localhost\r", "\n\r\n"} {
			if _, err := io.WriteString(c, part); err != nil { // each Write is its own TLS record
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		resp, body := tlstest.ReadResponse(t, br)
		iopCheckResp(t, resp, body)
		resp, body = tlstest.RoundTrip(t, c, br, iopReq)
		iopCheckResp(t, resp, body)
	})
}
