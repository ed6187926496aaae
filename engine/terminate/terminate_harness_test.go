package terminate_test

// The harness of the tests that run `edge terminate` (terminate.Start)
// and talk to it over loopback: interop_test.go, interop_more_test.go,
// negative_test.go, churn_test.go and the TLS 1.2 tests. What they need
// to look at TLS itself (records, ClientHellos, key-log decryption, the
// puppet client) is in internal/tlstest. Every identifier is prefixed with
// "iop" to avoid clashing with other engine_test files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/engine/terminate"
	"github.com/lucid-edge/lucid/internal/tlstest"
)

const (
	iopBody      = "hello from lucid\n"
	iopIOTimeout = 10 * time.Second
)

// iopServer wraps a running TerminateServer plus what a client needs to trust it.
type iopServer struct {
	srv  *terminate.Server
	addr string
	port string
	leaf *x509.Certificate
	pool *x509.CertPool
	der  []byte
}

func iopStart(t testing.TB, cfg terminate.Config) *iopServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	srv, err := terminate.Start(cfg)
	if err != nil {
		t.Fatalf("StartTerminate: %v", err)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Logf("Stop: %v", err)
		}
	}
	t.Cleanup(stop)
	cert := srv.Certificate()
	if cert == nil || len(cert.Chain) == 0 {
		t.Fatalf("server Certificate() is empty")
	}
	leaf, err := x509.ParseCertificate(cert.Chain[0])
	if err != nil {
		t.Fatalf("parse leaf: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	addr := srv.Addr()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("bad Addr() %q: %v", addr, err)
	}
	return &iopServer{srv: srv, addr: addr, port: port, leaf: leaf, pool: pool, der: cert.Chain[0]}
}

func iopStartDefault(t testing.TB) *iopServer {
	return iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2})
}

// pemFile writes the leaf as PEM into a temp dir (for openssl / curl).
func (s *iopServer) pemFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lucid-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.der})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *iopServer) goConfig() *tls.Config {
	return &tls.Config{ServerName: "localhost", RootCAs: s.pool, MinVersion: tls.VersionTLS13}
}

func iopDialTCP(t testing.TB, s *iopServer) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// iopDialGo performs a crypto/tls handshake; the raw conn records server bytes.
func iopDialGo(t testing.TB, s *iopServer, cfg *tls.Config) (*tls.Conn, *tlstest.RecordingConn) {
	t.Helper()
	raw := iopDialTCP(t, s)
	rc := &tlstest.RecordingConn{Conn: raw}
	c := tls.Client(rc, cfg)
	c.SetDeadline(time.Now().Add(iopIOTimeout))
	if err := c.Handshake(); err != nil {
		t.Fatalf("crypto/tls handshake: %v", err)
	}
	return c, rc
}

func iopCheckResp(t testing.TB, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d (%q), want 200", resp.StatusCode, resp.Status)
	}
	if body != iopBody {
		t.Errorf("body = %q, want %q", body, iopBody)
	}
	if resp.ContentLength != int64(len(iopBody)) {
		t.Errorf("Content-Length = %d, want %d", resp.ContentLength, len(iopBody))
	}
}

const iopReqClose = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
const iopReq = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

// iopCheckGood asserts that a plain crypto/tls client still gets a 200.
func iopCheckGood(t testing.TB, s *iopServer) {
	t.Helper()
	c, _ := iopDialGo(t, s, s.goConfig())
	defer c.Close()
	resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), iopReqClose)
	iopCheckResp(t, resp, body)
}

// ---------------------------------------------------------------------------
// Raw-socket expectations

// iopExpectPlainAlert sends payload on a raw TCP connection (optionally
// half-closing afterwards) and asserts the reply is exactly one fatal
// plaintext alert record with the given code followed by a clean EOF.
func iopExpectPlainAlert(t *testing.T, s *iopServer, payload []byte, halfClose bool, want byte, why string) {
	t.Helper()
	c := iopDialTCP(t, s)
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	got, err := tlstest.ReadToEnd(c, 5*time.Second)
	wantB := tlstest.AlertRecord(want)
	if !bytes.Equal(got, wantB) {
		t.Errorf("reply = %s, want % x (fatal plaintext alert %d: %s)", tlstest.Summarize(got), wantB, want, why)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("connection ended with %s, want clean EOF after the alert", tlstest.DescribeEnd(err))
	}
}
