package proxy_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
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

// Client session resumption through the inspecting proxy (RFC 8446 §2.2):
// the proxy issues tickets, a resumed client handshake needs no leaf, and
// a ticket never crosses organisations or hides an invalid origin.

// resumingClient is Go's net/http through the proxy as user, with a TLS
// session cache that outlives its connections.
func (w *world) resumingClient(user string, cfg *tls.Config) *http.Client {
	proxyURL, _ := url.Parse("http://" + user + ":pw@" + w.proxy.Addr())
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// startProxyUsers starts an inspecting proxy where each user (any
// password) belongs to the org users maps them to.
func (w *world) startProxyUsers(t *testing.T, users map[string]string) {
	t.Helper()
	cfg := w.pmProxyConfig("", inspectAll)
	cfg.AllowInvalidUpstream = func(string) bool { return w.allowInvalid }
	cfg.Authenticate = func(v []byte) (string, string, bool) {
		req := http.Request{Header: http.Header{"Authorization": {string(v)}}}
		user, _, ok := req.BasicAuth()
		org, known := users[user]
		return user, org, ok && known
	}
	w.pmStartProxyWith(t, cfg)
}

func TestProxyResumesClientSessions(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxyUsers(t, map[string]string{"alice": "acme", "bob": "tunnelco"})
	cfg := &tls.Config{RootCAs: w.rootPool(), ClientSessionCache: tls.NewLRUClientSessionCache(8)}

	alice := w.resumingClient("alice", cfg)
	for i, want := range []bool{false, true, true} {
		resp, body := get(t, alice, "https://origin.test/a")
		if resp.StatusCode != 200 || body != "origin origin.test" {
			t.Fatalf("connection %d: %d %q", i, resp.StatusCode, body)
		}
		if resp.TLS.DidResume != want {
			t.Fatalf("connection %d: resumed %v, want %v", i, resp.TLS.DidResume, want)
		}
	}
	if n := strings.Count(w.accessLog(), `"resumed":true`); n != 2 {
		t.Fatalf("the access log marks %d requests resumed, want 2:\n%s", n, w.accessLog())
	}

	// The same client cache offers alice's ticket on bob's connection: bob
	// is in another organisation, so he gets a full handshake and a leaf
	// from his organisation's intermediate.
	resp, body := get(t, w.resumingClient("bob", cfg), "https://origin.test/b")
	if resp.StatusCode != 200 || body != "origin origin.test" {
		t.Fatalf("bob: %d %q", resp.StatusCode, body)
	}
	if resp.TLS.DidResume {
		t.Fatal("a ticket issued under acme resumed for a user of tunnelco")
	}
	if issuer := resp.TLS.PeerCertificates[0].Issuer.String(); !strings.Contains(issuer, "tunnelco") {
		t.Fatalf("bob's leaf was issued by %q, not tunnelco's intermediate", issuer)
	}
}

// An origin passed on under the untrusted signer never resumes: each
// connection must show the client the untrusted leaf again.
func TestProxyNeverResumesAnUntrustedPassOn(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "expired.test", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	w.allowInvalid = true
	w.startProxyUsers(t, map[string]string{"alice": "acme"})
	cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	c := w.resumingClient("alice", cfg)
	for i := range 3 {
		resp, body := get(t, c, "https://expired.test/")
		if resp.StatusCode != 200 || body != "origin expired.test" {
			t.Fatalf("connection %d: %d %q", i, resp.StatusCode, body)
		}
		if resp.TLS.DidResume {
			t.Fatalf("connection %d resumed a session with an invalid origin", i)
		}
		if issuer := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(issuer, "NOT valid") {
			t.Fatalf("connection %d: leaf issued by %q, not the untrusted signer", i, issuer)
		}
	}
}

// openssl s_client saves the session with -sess_out and resumes it with
// -sess_in through the proxy; curl resumes between two URLs of one run.
func TestProxyResumptionOpenSSLAndCurl(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", inspectAll)
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.Root().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("openssl", func(t *testing.T) {
		bin := tlstest.NeedTool(t, "openssl")
		sess := filepath.Join(dir, "sess.pem")
		for i, flag := range []string{"-sess_out", "-sess_in"} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, bin, "s_client", "-proxy", w.proxy.Addr(), "-connect", "origin.test:443",
				"-servername", "origin.test", "-tls1_3", "-CAfile", rootFile, "-verify_return_error", "-ign_eof", flag, sess)
			cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n")
			out, _ := cmd.CombinedOutput()
			cancel()
			text := string(out)
			if !strings.Contains(text, "origin origin.test") {
				t.Fatalf("openssl %s: no answer:\n%s", flag, text)
			}
			if want := i == 1; strings.Contains(text, "Reused, TLSv1.3") != want {
				t.Fatalf("openssl %s: reused should be %v:\n%s", flag, want, text)
			}
		}
	})

	t.Run("curl", func(t *testing.T) {
		bin := tlstest.NeedTool(t, "curl")
		before := strings.Count(w.accessLog(), `"resumed":true`)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Connection: close makes curl open a second connection for the
		// second URL, offering the ticket the first one got.
		cmd := exec.CommandContext(ctx, bin, "-sS", "--max-time", "10", "-x", "http://"+w.proxy.Addr(),
			"--cacert", rootFile, "-H", "Connection: close", "https://origin.test/1", "https://origin.test/2")
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "origin origin.testorigin origin.test" {
			t.Fatalf("curl: %v %q", err, out)
		}
		if got := strings.Count(w.accessLog(), `"resumed":true`) - before; got != 1 {
			t.Fatalf("curl's second connection resumed %d times in the access log, want 1:\n%s", got, w.accessLog())
		}
	})
}

// With NoTickets the proxy issues none, so nothing resumes.
func TestProxyNoTickets(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	cfg := w.pmProxyConfig("acme", inspectAll)
	cfg.NoTickets = true
	w.pmStartProxyWith(t, cfg)
	tc := &tls.Config{RootCAs: w.rootPool(), ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: tc, DisableKeepAlives: true}}
	for i := range 2 {
		if resp, _ := get(t, c, "https://origin.test/"); resp.TLS.DidResume {
			t.Fatalf("connection %d resumed with NoTickets", i)
		}
	}
}
