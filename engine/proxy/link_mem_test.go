package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/policy"
)

// heldConn is an inspected connection a test keeps open between requests.
type heldConn struct {
	tc *tls.Conn
	br *bufio.Reader
}

// openInspected sends CONNECT, completes TLS with the proxy's leaf and
// returns the connection ready for requests.
func openInspected(t *testing.T, proxyAddr, host string, roots *x509.CertPool) *heldConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: roots})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS with the proxy: %v", err)
	}
	return &heldConn{tc: tc, br: bufio.NewReader(tc)}
}

func (h *heldConn) get(t *testing.T, host, path string) string {
	t.Helper()
	_ = h.tc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(h.tc, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(body)
}

// linkGoroutines counts the goroutines serving origin connections.
func linkGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "proxy.(*link).") {
			n++
		}
	}
	return n
}

// TestProxyIdleConnectionHoldsOneGoroutine: an inspected connection that
// waits for its next request costs the edge one goroutine (the origin's
// reader, waiting for the socket without a buffer), not a reader and a
// writer; and each still answers its next request once woken.
func TestProxyIdleConnectionHoldsOneGoroutine(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())

	const held = 20
	conns := make([]*heldConn, held)
	for i := range conns {
		conns[i] = openInspected(t, w.proxy.Addr(), "origin.test", roots)
		if body := conns[i].get(t, "origin.test", "/first"); body != "origin origin.test" {
			t.Fatalf("first request on connection %d: %q", i, body)
		}
	}
	// The writers end once their queue is written; give them a moment.
	deadline := time.Now().Add(5 * time.Second)
	n := linkGoroutines()
	for n > held && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = linkGoroutines()
	}
	if n > held {
		t.Errorf("%d idle inspected connections hold %d origin-side goroutines, want at most one each", held, n)
	}
	for i, c := range conns {
		if body := c.get(t, "origin.test", "/second"); body != "origin origin.test" {
			t.Fatalf("second request on idle connection %d: %q", i, body)
		}
	}
}
