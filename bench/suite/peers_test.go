package suite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// buildPeers compiles the Go peers into a temp bin folder.
func buildPeers(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/", "./bench/peers/gotls", "./bench/peers/goproxymitm")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the peers: %v\n%s", err, out)
	}
	return bin
}

func testEnv(t *testing.T, bin string) *env {
	t.Helper()
	// Not t.TempDir: its parent is 0700, and squid, as user proxy, must
	// reach the run's folder.
	dir, err := os.MkdirTemp("", "edgebench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{dir: dir, bin: bin}
	if err := e.makeCerts(); err != nil {
		t.Fatal(err)
	}
	return e
}

// get fetches https://name/ through proxy (or directly at addr when proxy
// is ""), trusting only caFile, and returns the body.
func get(t *testing.T, proxy, addr, name, caFile string) string {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name}}
	target := "https://" + name + "/"
	if proxy != "" {
		tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})
	} else {
		target = "https://" + addr + "/"
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("GET %s (proxy %q): %v", target, proxy, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s (proxy %q): %s %s", target, proxy, resp.Status, b)
	}
	return string(b)
}

// TestGoPeers starts the Go crypto/tls server as the origin and the goproxy
// MITM in front of it, and checks a request each way: directly, then
// intercepted (the client trusts only the MITM CA, the proxy only the
// origin's root), then that the proxy refuses an origin it cannot verify.
func TestGoPeers(t *testing.T) {
	e := testEnv(t, buildPeers(t))
	origin, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.goServer("gotls", "", 1, origin, filepath.Join(e.bin, "gotls"),
		"-listen", origin, "-cert", e.originLeaf.CertFile, "-key", e.originLeaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	if body := get(t, "", origin, "o1.bench.test", e.originRoot.CertFile); body != "hello from lucid\n" {
		t.Fatalf("gotls answered %q", body)
	}

	e.originAddr = origin
	gp, err := e.startGoproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gp.stop)
	for _, name := range []string{"o1.bench.test", "o2.bench.test", "o1.bench.test"} {
		if body := get(t, gp.Addr, "", name, gp.CAFile); body != "hello from lucid\n" {
			t.Fatalf("through goproxymitm, %s answered %q", name, body)
		}
	}

	// Upstream verification is on: an origin whose root the proxy does not
	// trust is refused, not relayed.
	e.originRoot = e.hsRoot
	strict, err := e.startGoproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(strict.stop)
	pem, _ := os.ReadFile(strict.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: strict.Addr})}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://o1.bench.test/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(b), "hello from lucid") {
			t.Fatal("goproxymitm relayed an origin whose certificate it cannot verify")
		}
	}
}

// TestGoproxyHTTP2AndTunnel checks the setup of the h2 and pipeline
// tables: goproxymitm -http2 speaks HTTP/2 to the client and to the
// origin (gotls -h2, which says what it was spoken to in), and -tunnel
// relays a name end to end: the client sees the origin's own certificate.
func TestGoproxyHTTP2AndTunnel(t *testing.T) {
	e := testEnv(t, buildPeers(t))
	p, addr, err := e.startH2Origin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	gp, err := e.startGoproxyFor(addr, true, []string{tunnelledName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gp.stop)
	cases := []struct{ name, caFile, clientProto string }{
		{inspectedName, gp.CAFile, "HTTP/2.0"},             // minted by goproxy's CA
		{tunnelledName, e.originRoot.CertFile, "HTTP/2.0"}, // the origin's own leaf
	}
	for _, c := range cases {
		pem, _ := os.ReadFile(c.caFile)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
			Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: gp.Addr})}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + c.name + "/")
		if err != nil {
			t.Fatalf("%s through goproxymitm -http2: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.StatusCode != 200 || string(body) != "hello from lucid\n" {
			t.Fatalf("%s: %s %q", c.name, resp.Status, body)
		}
		if resp.Proto != c.clientProto || resp.Header.Get("X-Origin-Proto") != "HTTP/2.0" {
			t.Fatalf("%s: the client spoke %s, the origin was spoken to in %q; want HTTP/2 on both legs",
				c.name, resp.Proto, resp.Header.Get("X-Origin-Proto"))
		}
	}
}

// TestNginxPeer serves the handshake certificate from Debian's nginx.
func TestNginxPeer(t *testing.T) {
	tlstest.NeedTool(t, "nginx") // the handshake tables skip it too without it
	e := testEnv(t, t.TempDir())
	s, err := e.startNginx()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	if body := get(t, "", s.Addr, hsName, s.CAFile); body != "hello from lucid\n" {
		t.Fatalf("nginx answered %q", body)
	}
}

// TestSquidPeer bumps a request through Debian's squid-openssl to a Go
// origin on 127.0.0.77:443 (squid reaches origins on the CONNECT port).
func TestSquidPeer(t *testing.T) {
	tlstest.NeedTool(t, "squid") // the inspection tables skip it too without it
	if os.Geteuid() != 0 {
		t.Skip("the squid test needs root: its origin listens on port 443")
	}
	e := testEnv(t, buildPeers(t))
	var err error
	if e.originAddr, err = freeLoopbackPort("127.0.0.77:443"); err != nil {
		t.Fatal(err)
	}
	p, err := e.goServer("origin", "", 1, e.originAddr, filepath.Join(e.bin, "gotls"),
		"-listen", e.originAddr, "-cert", e.originLeaf.CertFile, "-key", e.originLeaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := e.startSquid(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(e.dir, "squid-*", "*.log"))
			for _, l := range logs {
				t.Logf("%s:\n%s", l, tail(l, 30))
			}
		}
	})
	for _, name := range []string{"o1.bench.test", "o3.bench.test"} {
		if body := get(t, s.Addr, "", name, s.CAFile); body != "hello from lucid\n" {
			t.Fatalf("through squid, %s answered %q", name, body)
		}
	}

	// Certificate errors are fatal: an origin whose certificate does not
	// chain to the bench origin root (nor names o2.bench.test) is refused.
	p.stop(5 * time.Second)
	bad, err := e.goServer("bad-origin", "", 1, e.originAddr, filepath.Join(e.bin, "gotls"),
		"-listen", e.originAddr, "-cert", e.hsLeaf.CertFile, "-key", e.hsLeaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bad.stop(5 * time.Second) })
	pem, _ := os.ReadFile(s.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: s.Addr})}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://o2.bench.test/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || strings.Contains(string(b), "hello from lucid") {
			t.Fatalf("squid relayed an origin whose certificate it cannot verify: %s", resp.Status)
		}
	}
}
