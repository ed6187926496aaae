package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/engine/proxy"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/internal/tlstest"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// TLS 1.2 clients through the inspecting proxy: served by crypto/tls over
// the loop, with the same policy, inspection, access log and failure
// pages as TLS 1.3 clients.

// bigBody is what /big answers and the uploads send: more than the
// kernel's socket buffers hold, so a client that does not read, or an
// origin that does not, makes the relay hold the other side back.
var bigBody = sync.OnceValue(func() []byte {
	b := make([]byte, 9<<20+12345)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
})

// legacyOrigin starts a TLS origin for name with key's certificate (signed
// by the world's public-like root). It answers /big with bigBody, /upload
// with the SHA-256 of the body it read, and anything else with
// "origin <name>". With hold, the origin has a small receive buffer and
// calls hold before it reads an upload, so the proxy must hold the client
// back meanwhile.
func (w *world) legacyOrigin(t *testing.T, name string, key crypto.Signer, hold func()) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.originCA, key.Public(), w.originKey)
	if err != nil {
		t.Fatal(err)
	}
	var lc net.ListenConfig
	if hold != nil {
		lc.Control = smallReceiveBuffer
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"http/1.1"}}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Store(name+r.URL.Path, true)
		switch r.URL.Path {
		case "/big":
			rw.Header().Set("Content-Length", strconv.Itoa(len(bigBody())))
			rw.Write(bigBody())
		case "/upload":
			if hold != nil {
				hold()
			}
			h := sha256.New()
			io.Copy(h, r.Body)
			io.WriteString(rw, hex.EncodeToString(h.Sum(nil)))
		default:
			io.WriteString(rw, "origin "+name)
		}
	}), ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError)}
	go srv.Serve(tls.NewListener(&recordingListener{Listener: ln, w: w, name: name}, cfg))
	t.Cleanup(func() { srv.Close() })
	w.origins[name] = ln.Addr().String()
}

func inputPaused() uint64 {
	return metrics.GetOrCreateCounter("lucid_proxy_client_input_paused_total").Get()
}

// smallReceiveBuffer is a net.Dialer or net.ListenConfig Control that
// keeps a socket's receive buffer (and so the TCP window) small.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10) })
}

// client12 is Go's net/http through the proxy, offering TLS 1.2 only
// (with suites, when given) and trusting the organisation's root.
func (w *world) client12(suites ...uint16) *http.Client {
	c := w.client()
	cfg := c.Transport.(*http.Transport).TLSClientConfig
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = suites
	return c
}

// rootPEM writes the organisation's root for the command-line clients.
func (w *world) rootPEM(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.Root().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitLog waits for the access log to hold every one of parts in one line,
// and returns that line.
func (w *world) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(w.accessLog(), "\n") {
			found := true
			for _, p := range parts {
				if !strings.Contains(line, p) {
					found = false
					break
				}
			}
			if found {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line has all of %q:\n%s", parts, w.accessLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial12 opens a CONNECT tunnel to host through the proxy and returns the
// raw connection, past the proxy's answer.
func (w *world) dial12(t *testing.T, host string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", w.proxy.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(conn, "CONNECT "+host+":443 HTTP/1.1\r\nHost: "+host+":443\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", host, resp, err)
	}
	return &bufConn{Conn: conn, r: br}
}

func TestProxyTLS12GoClient(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	for _, suite := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	} {
		name := tls.CipherSuiteName(suite)
		t.Run(name, func(t *testing.T) {
			before := tls12Handoffs()
			path := "/go/" + name
			resp, body := get(t, w.client12(suite), "https://origin.test"+path)
			if resp.StatusCode != 200 || body != "origin origin.test" {
				t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
			}
			if resp.TLS.Version != tls.VersionTLS12 || resp.TLS.CipherSuite != suite {
				t.Fatalf("negotiated %x with suite %s", resp.TLS.Version, tls.CipherSuiteName(resp.TLS.CipherSuite))
			}
			chain := resp.TLS.PeerCertificates
			if _, ok := chain[0].PublicKey.(*ecdsa.PublicKey); !ok || chain[0].Subject.CommonName != "origin.test" ||
				len(chain) < 2 || !strings.Contains(chain[1].Subject.CommonName, "acme") {
				t.Fatalf("not the org's ECDSA leaf for origin.test: %v", chain)
			}
			if tls12Handoffs() <= before {
				t.Error("lucid_tls12_handoffs_total did not move")
			}
			line := w.waitLog(t, `"url":"https://origin.test`+path+`"`, `"status":200`)
			if !strings.Contains(line, `"tls_client":{"version":"TLS1.2","suite":"`+name+`","ja4":"t12`) ||
				!strings.Contains(line, `"decision":"inspect"`) {
				t.Fatalf("the access log line does not say TLS 1.2 with %s:\n%s", name, line)
			}
		})
	}
	t.Run("keep-alive, then close_notify", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(w.ca.Root())
		rc := &tlstest.RecordingConn{Conn: w.dial12(t, "origin.test")}
		tc := tls.Client(rc, &tls.Config{ServerName: "origin.test", RootCAs: roots, MaxVersion: tls.VersionTLS12})
		br := bufio.NewReader(tc)
		for i, req := range []string{
			"GET /keep/1 HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"GET /keep/2 HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n",
		} {
			if resp, body := tlstest.RoundTrip(t, tc, br, req); resp.StatusCode != 200 || body != "origin origin.test" {
				t.Fatalf("request %d on one connection: %d %q", i+1, resp.StatusCode, body)
			}
		}
		// The origin closed after its answer: our close_notify ends the
		// stream, then our FIN. (TLS 1.2 record types are in the clear.)
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after Connection: close: %d bytes, %v; want the end of the stream", n, err)
		}
		if recs, rest := tlstest.ParseRecords(rc.Received()); len(recs) == 0 || recs[len(recs)-1].Type != tlstest.RecordAlert || len(rest) != 0 {
			t.Fatalf("the stream does not end with an alert record (close_notify): %s", tlstest.Summarize(rc.Received()))
		}
		w.waitLog(t, `"url":"https://origin.test/keep/2"`, `"status":200`, `"version":"TLS1.2"`)
	})
	// The origin saw the client's TLS 1.2 hello, mirrored.
	raw, ok := w.hellos.Load("origin.test")
	if !ok {
		t.Fatal("the origin recorded no ClientHello")
	}
	originHello, err := tlsmitm.ParseClientHello(raw.([]byte))
	if err != nil {
		t.Fatal(err)
	}
	if ja4 := tlsmitm.JA4(originHello); !strings.Contains(w.accessLog(), `"ja4":"`+ja4+`"`) {
		t.Fatalf("the origin's JA4 %s is not the client's:\n%s", ja4, w.accessLog())
	}
	// TLS 1.3 clients are unaffected.
	if resp, body := get(t, w.client(), "https://origin.test/tls13"); resp.StatusCode != 200 || resp.TLS.Version != tls.VersionTLS13 ||
		body != "origin origin.test" {
		t.Fatalf("TLS 1.3 client: %d %x %q", resp.StatusCode, resp.TLS.Version, body)
	}
}

// TestProxyTLS12RSALeaf: a TLS 1.2 client that cannot take an ECDSA
// certificate gets an RSA leaf — whether its suites or its signature
// algorithms say so.
func TestProxyTLS12RSALeaf(t *testing.T) {
	w := newWorld(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	w.legacyOrigin(t, "rsa.test", rsaKey, nil)
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	wantRSALeaf := func(t *testing.T, chain []*x509.Certificate) {
		t.Helper()
		if _, ok := chain[0].PublicKey.(*rsa.PublicKey); !ok || chain[0].Subject.CommonName != "rsa.test" ||
			len(chain) < 2 || !strings.Contains(chain[1].Subject.CommonName, "acme") {
			t.Fatalf("not the org's RSA leaf for rsa.test: %v", chain)
		}
	}

	t.Run("ECDHE-RSA suites only", func(t *testing.T) {
		for _, suite := range []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256} {
			name := tls.CipherSuiteName(suite)
			resp, body := get(t, w.client12(suite), "https://rsa.test/suites/"+name)
			if resp.StatusCode != 200 || body != "origin rsa.test" {
				t.Fatalf("%s: %d %q", name, resp.StatusCode, body)
			}
			if resp.TLS.Version != tls.VersionTLS12 || resp.TLS.CipherSuite != suite {
				t.Fatalf("negotiated %x with %s", resp.TLS.Version, tls.CipherSuiteName(resp.TLS.CipherSuite))
			}
			wantRSALeaf(t, resp.TLS.PeerCertificates)
			w.waitLog(t, `"url":"https://rsa.test/suites/`+name+`"`, `"status":200`, `"version":"TLS1.2","suite":"`+name+`"`)
		}
	})

	t.Run("RSA signature algorithms only", func(t *testing.T) {
		bin := tlstest.NeedTool(t, "openssl")
		for _, sigalgs := range []string{"RSA-PSS+SHA256:rsa_pss_pss_sha256", "RSA+SHA256:RSA+SHA384"} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			path := "/sigalgs/" + strings.ReplaceAll(sigalgs, ":", ",")
			cmd := exec.CommandContext(ctx, bin, "s_client", "-tls1_2", "-sigalgs", sigalgs, "-proxy", w.proxy.Addr(),
				"-connect", "rsa.test:443", "-servername", "rsa.test", "-CAfile", w.rootPEM(t), "-verify_return_error", "-ign_eof")
			cmd.Stdin = strings.NewReader("GET " + path + " HTTP/1.1\r\nHost: rsa.test\r\nConnection: close\r\n\r\n")
			out, err := cmd.CombinedOutput()
			if !strings.Contains(string(out), "origin rsa.test") || !strings.Contains(string(out), "Protocol  : TLSv1.2") ||
				!strings.Contains(string(out), "Cipher is ECDHE-RSA-") || !strings.Contains(string(out), "Server public key is 2048 bit") {
				t.Fatalf("openssl s_client -tls1_2 -sigalgs %s: %v\n%s", sigalgs, err, out)
			}
			w.waitLog(t, `"url":"https://rsa.test`+path+`"`, `"status":200`, `"version":"TLS1.2","suite":"TLS_ECDHE_RSA_`)
		}
	})
}

// TestProxyTLS12OpenSSL: openssl s_client -tls1_2 through the proxy.
func TestProxyTLS12OpenSSL(t *testing.T) {
	bin := tlstest.NeedTool(t, "openssl")
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "s_client", "-tls1_2", "-proxy", w.proxy.Addr(), "-connect", "origin.test:443",
		"-servername", "origin.test", "-CAfile", w.rootPEM(t), "-verify_return_error", "-ign_eof")
	cmd.Stdin = strings.NewReader("GET /openssl HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "origin origin.test") || !strings.Contains(string(out), "Protocol  : TLSv1.2") {
		t.Fatalf("openssl s_client -tls1_2: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Extended master secret: yes") {
		t.Errorf("no extended master secret:\n%s", out)
	}
	w.waitLog(t, `"url":"https://origin.test/openssl"`, `"status":200`, `"version":"TLS1.2","suite":"TLS_ECDHE_ECDSA_`)
}

// TestProxyTLS12Curl: curl --tls-max 1.2 through the proxy, two requests
// on one connection.
func TestProxyTLS12Curl(t *testing.T) {
	bin := tlstest.NeedTool(t, "curl")
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sS", "--max-time", "15", "--tlsv1.2", "--tls-max", "1.2", "--cacert", w.rootPEM(t),
		"-x", "http://"+w.proxy.Addr(), "https://origin.test/curl/1", "https://origin.test/curl/2")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "origin origin.testorigin origin.test" {
		t.Fatalf("curl --tls-max 1.2 -x: %v\n%s", err, out)
	}
	for _, p := range []string{"/curl/1", "/curl/2"} {
		w.waitLog(t, `"url":"https://origin.test`+p+`"`, `"status":200`, `"version":"TLS1.2"`)
	}
}

// TestProxyTLS12BlockedPath: a URL rule answers 403 over TLS 1.2, and the
// request never reaches the origin.
func TestProxyTLS12BlockedPath(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.blockPath = func(org, host, path string) (string, bool) {
		return "paths[0]", strings.HasPrefix(path, "/admin")
	}
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	resp, body := get(t, w.client12(), "https://origin.test/admin/users")
	if resp.StatusCode != 403 || !strings.Contains(body, "paths[0]") || resp.TLS.Version != tls.VersionTLS12 {
		t.Fatalf("blocked path over TLS 1.2: %d %q (version %x)", resp.StatusCode, body, resp.TLS.Version)
	}
	if _, reached := w.requests.Load("origin.test/admin/users"); reached {
		t.Fatal("a blocked request reached the origin")
	}
	w.waitLog(t, `"url":"https://origin.test/admin/users"`, `"status":403`, `"decision":"block"`, `"version":"TLS1.2"`)
}

// TestProxyTLS12OriginDownGets502: the user learns why over TLS 1.2 too.
func TestProxyTLS12OriginDownGets502(t *testing.T) {
	w := newWorld(t)
	w.origins["down.test"] = "127.0.0.1:1"
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	resp, body := get(t, w.client12(), "https://down.test/page")
	if resp.StatusCode != 502 || !strings.Contains(body, "unreachable") || resp.TLS.Version != tls.VersionTLS12 {
		t.Fatalf("origin down over TLS 1.2: %d %q (version %x)", resp.StatusCode, body, resp.TLS.Version)
	}
	w.waitLog(t, `"url":"https://down.test/page"`, `"status":502`, `"version":"TLS1.2"`)
}

// TestProxyTLS12NoEMSRefused: a TLS 1.2 hello without extended master
// secret (RFC 7627) is refused with handshake_failure, as by `edge
// terminate`.
func TestProxyTLS12NoEMSRefused(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	ch := tlstest.ParseClientHelloRecord(t, tlstest.CaptureClientHello(t, &tls.Config{ServerName: "origin.test", MaxVersion: tls.VersionTLS12}))
	ch.Without(t, 0x0017)
	conn := w.dial12(t, "origin.test")
	if _, err := conn.Write(ch.Record()); err != nil {
		t.Fatal(err)
	}
	got, err := tlstest.ReadToEnd(conn, 5*time.Second)
	if want := tlstest.AlertRecord(40); !bytes.Equal(got, want) || !errors.Is(err, io.EOF) {
		t.Fatalf("got %s ending in %s, want the handshake_failure alert % x and EOF", tlstest.Summarize(got), tlstest.DescribeEnd(err), want)
	}
	if _, reached := w.hellos.Load("origin.test"); reached {
		t.Error("the origin was contacted for a refused hello")
	}
}

// TestProxyTLS12LargeTransfers: a download the client reads slowly, far
// larger than the relay's buffers, and a large upload, arrive intact.
func TestProxyTLS12LargeTransfers(t *testing.T) {
	w := newWorld(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.legacyOrigin(t, "big.test", key, nil)
	// slow.test reads an upload only once the proxy has held the client
	// back (or after 10 s, and the test fails): the upload is larger than
	// the kernel's buffers, so a proxy that relays it must pause.
	var pausedBefore atomic.Uint64
	w.legacyOrigin(t, "slow.test", key, func() {
		for deadline := time.Now().Add(10 * time.Second); inputPaused() <= pausedBefore.Load() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	})
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })

	t.Run("download", func(t *testing.T) {
		// A small receive window: the client's kernel cannot absorb the
		// download, so the proxy's output grows while the client sleeps.
		c := w.client12()
		c.Transport.(*http.Transport).DialContext = (&net.Dialer{Control: smallReceiveBuffer}).DialContext
		resp, err := c.Get("https://big.test/big")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The client does not read for a while: the origin must be held
		// back, not buffered without end.
		time.Sleep(500 * time.Millisecond)
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, bigBody()) || resp.TLS.Version != tls.VersionTLS12 {
			t.Fatalf("download over TLS 1.2: %v, %d of %d bytes, equal %v", err, len(got), len(bigBody()), bytes.Equal(got, bigBody()))
		}
		w.waitLog(t, `"url":"https://big.test/big"`, `"status":200`, `"version":"TLS1.2"`)
	})
	t.Run("upload", func(t *testing.T) {
		sum := sha256.Sum256(bigBody())
		resp, err := w.client12().Post("https://big.test/upload", "application/octet-stream", bytes.NewReader(bigBody()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != hex.EncodeToString(sum[:]) {
			t.Fatalf("upload over TLS 1.2: %d, origin read a body with SHA-256 %q", resp.StatusCode, body)
		}
		w.waitLog(t, `"url":"https://big.test/upload"`, `"status":200`, `"version":"TLS1.2"`)
	})
	t.Run("upload to a slow origin", func(t *testing.T) {
		body := bigBody()
		sum := sha256.Sum256(body)
		pausedBefore.Store(inputPaused())
		resp, err := w.client12().Post("https://slow.test/upload", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != hex.EncodeToString(sum[:]) {
			t.Fatalf("upload over TLS 1.2 to a slow origin: %d, origin read a body with SHA-256 %q", resp.StatusCode, got)
		}
		if inputPaused() <= pausedBefore.Load() {
			t.Error("the client's input was never held back for the slow origin")
		}
	})
}

// TestProxyTLS12SNIPolicy: the SNI of a TLS 1.2 hello meets the same
// policy: a blocked name is refused; a bypassed one is tunnelled with the
// client's own bytes (the client sees the origin's certificate) only when
// the CONNECT target is bypassed too.
func TestProxyTLS12SNIPolicy(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "bank.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.origins["allowed.test"] = w.origins["bank.test"]
	w.startProxy(t, "acme", func(host string) policy.Action {
		switch host {
		case "blocked.test":
			return policy.Block
		case "bank.test":
			return policy.Bypass
		}
		return policy.Inspect
	})
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	tc := tls.Client(w.dial12(t, "allowed.test"), &tls.Config{ServerName: "blocked.test", RootCAs: roots, MaxVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("a blocked SNI behind an allowed CONNECT was served: %v", err)
	}
	w.waitLog(t, `"sni":"blocked.test"`, `"status":403`)

	// A bypassed SNI behind an inspected CONNECT is inspected: a later
	// name only makes the decision stricter (a pinned name in the SNI
	// opens no tunnel).
	tc = tls.Client(w.dial12(t, "allowed.test"), &tls.Config{ServerName: "bank.test", RootCAs: roots, MaxVersion: tls.VersionTLS12})
	resp, body := tlstest.RoundTrip(t, tc, bufio.NewReader(tc), "GET /inspected HTTP/1.1\r\nHost: bank.test\r\nConnection: close\r\n\r\n")
	if st := tc.ConnectionState(); resp.StatusCode != 200 || st.PeerCertificates[0].Issuer.CommonName == "Public Web Root" {
		t.Fatalf("bypassed SNI behind an inspected CONNECT: %d %q, issuer %s", resp.StatusCode, body, st.PeerCertificates[0].Issuer.CommonName)
	}

	// Bypassed by the CONNECT target and the SNI alike: tunnelled with the
	// client's own bytes.
	originRoots := x509.NewCertPool()
	originRoots.AddCert(w.originCA)
	tc = tls.Client(w.dial12(t, "bank.test"), &tls.Config{ServerName: "bank.test", RootCAs: originRoots, MaxVersion: tls.VersionTLS12})
	resp, body = tlstest.RoundTrip(t, tc, bufio.NewReader(tc), "GET /bypassed HTTP/1.1\r\nHost: bank.test\r\nConnection: close\r\n\r\n")
	st := tc.ConnectionState()
	if resp.StatusCode != 200 || body != "origin bank.test" || st.Version != tls.VersionTLS12 ||
		st.PeerCertificates[0].Issuer.CommonName != "Public Web Root" {
		t.Fatalf("bypassed SNI: %d %q, version %x, issuer %s", resp.StatusCode, body, st.Version, st.PeerCertificates[0].Issuer.CommonName)
	}
}

// TestProxyTLS12WithoutKey: the no-key fail modes hold for TLS 1.2
// clients: tunnel passes the client's bytes on, block refuses.
func TestProxyTLS12WithoutKey(t *testing.T) { checkNoKeyModes(t, tls.VersionTLS12) }

// TestProxyTLS12HandshakeTimeout: a TLS 1.2 client that stops after its
// hello is cut off at the handshake timeout.
func TestProxyTLS12HandshakeTimeout(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	p, err := proxy.Start(proxy.Config{
		Addr: "127.0.0.1:0", Loops: 1, DefaultOrg: "acme", HandshakeTimeout: time.Second,
		Decide: func(string, string, int) policy.Decision { return policy.Decision{Action: policy.Inspect} },
		Keys:   w.keys,
		NoKey:  func(error) (policy.FailMode, bool) { return 0, false },
		Resolve: func(host string, port int) (string, bool) {
			return w.origins["origin.test"], true
		},
		UpstreamRoots: func() *x509.CertPool { r := x509.NewCertPool(); r.AddCert(w.originCA); return r }(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Stop(ctx)
	})
	w.proxy = p
	conn := w.dial12(t, "origin.test")
	start := time.Now()
	if _, err := conn.Write(tlstest.CaptureClientHello(t, &tls.Config{ServerName: "origin.test", MaxVersion: tls.VersionTLS12})); err != nil {
		t.Fatal(err)
	}
	got, err := tlstest.ReadToEnd(conn, 10*time.Second)
	if errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("a stalled TLS 1.2 handshake was not cut off: %s after %v", tlstest.DescribeEnd(err), time.Since(start))
	}
	if recs, _ := tlstest.ParseRecords(got); len(recs) == 0 || recs[0].Type != tlstest.RecordHandshake {
		t.Fatalf("the proxy did not answer the hello before the timeout: %s", tlstest.Summarize(got))
	}
}

func tls12Handoffs() uint64 {
	return metrics.GetOrCreateCounter("lucid_tls12_handoffs_total").Get()
}
