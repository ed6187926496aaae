package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/keyclient"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
	"github.com/lucid-edge/lucid/engine/proxy"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// world is everything an inspected request crosses: a CA with an org, an
// edge's key client, origins with certificates from a public-like root,
// and the proxy.
type world struct {
	ca           *authority.Authority
	caStop       func()
	keys         *keyclient.Client
	originCA     *x509.Certificate
	originKey    *ecdsa.PrivateKey
	origins      map[string]string // name -> address
	hellos       sync.Map          // origin name -> raw ClientHello message it received
	proxy        *proxy.Server
	blockPath    func(org, host, path string) (string, bool)
	allowInvalid bool
	requests     sync.Map // origin name + path -> true, for every request an origin served
	log          bytes.Buffer
	logMu        sync.Mutex
	al           *accesslog.Logger // writes to log; flushed before it is read
}

func (w *world) Write(p []byte) (int, error) {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.log.Write(p)
}

// accessLog is the access log once it has settled: a loop logs a request
// just after it forwards the response's last bytes, so the client may
// have read them before the line is in the loop's buffer.
func (w *world) accessLog() string {
	log := w.flushedLog()
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		now := w.flushedLog()
		if now == log {
			break
		}
		log = now
	}
	return log
}

func (w *world) flushedLog() string {
	w.al.Flush()
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.log.String()
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{origins: map[string]string{}}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, _ := keyseal.DefaultParams()
	p.MemoryKiB, p.Time, p.Threads = 8<<10, 1, 1
	kek, _ := keyseal.DeriveKEK([]byte("pw"), p)
	t.Cleanup(kek.Close)
	w.ca, err = authority.Open(ctx, authority.Config{Store: st, KEK: kek, PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, org := range []struct {
		id, fail string
	}{{"acme", "block"}, {"tunnelco", "tunnel"}} {
		if _, err := w.ca.CreateOrg(ctx, authority.OrgSpec{ID: org.id, FailMode: org.fail}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ca.IssueIntermediate(ctx, org.id, ""); err != nil {
			t.Fatal(err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, _ := api.NewKeys(api.KeysConfig{Authority: w.ca, Logger: quiet, Metrics: api.NewMetrics()})
	tlsCfg, err := api.KeyTLSConfig(ctx, w.ca, []string{"127.0.0.1"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError)}
	go srv.Serve(tls.NewListener(ln, tlsCfg))
	w.caStop = func() { srv.Close() }
	t.Cleanup(w.caStop)

	edgeKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, edgeKey)
	_, edgeCert, err := w.ca.EnrolEdge(ctx, "", csr)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	w.keys, err = keyclient.New(keyclient.Config{URL: "https://" + ln.Addr().String(), Roots: roots,
		Certificate: tls.Certificate{Certificate: [][]byte{edgeCert}, PrivateKey: edgeKey}, MinBackoff: 50 * time.Millisecond,
		FailModes: map[string]string{"tunnelco": "tunnel"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.keys.Close)

	w.originKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Public Web Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, w.originKey.Public(), w.originKey)
	w.originCA, _ = x509.ParseCertificate(der)
	return w
}

// origin starts a TLS origin for name whose certificate is valid from
// notBefore to notAfter, records the ClientHello it receives, and answers
// every request with "origin <name>".
func (w *world) origin(t *testing.T, name string, notBefore, notAfter time.Time) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, w.originCA, key.Public(), w.originKey)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"http/1.1"}}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Store(name+r.URL.Path, true)
		io.WriteString(rw, "origin "+name)
	}), ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError)}
	go srv.Serve(tls.NewListener(&recordingListener{Listener: ln, w: w, name: name}, cfg))
	t.Cleanup(func() { srv.Close() })
	w.origins[name] = ln.Addr().String()
}

// recordingListener keeps the first TLS record of each connection.
type recordingListener struct {
	net.Listener
	w    *world
	name string
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

type recordingConn struct {
	net.Conn
	l    *recordingListener
	buf  []byte
	done bool
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done {
		c.buf = append(c.buf, p[:n]...)
		if len(c.buf) >= 9 {
			msgLen := int(c.buf[6])<<16 | int(c.buf[7])<<8 | int(c.buf[8])
			if len(c.buf) >= 5+4+msgLen {
				c.l.w.hellos.Store(c.l.name, append([]byte(nil), c.buf[5:5+4+msgLen]...))
				c.done = true
			}
		}
	}
	return n, err
}

func (w *world) startProxy(t *testing.T, org string, decide func(host string) policy.Action) {
	t.Helper()
	cfg := w.pmProxyConfig(org, decide)
	cfg.Judge = func(org string, r *policy.Request) policy.Decision {
		if w.blockPath != nil {
			if rule, blocked := w.blockPath(org, r.Host, r.Path); blocked {
				return policy.Decision{Action: policy.Block, Rule: rule}
			}
		}
		return cfg.Decide(org, r.Host, r.Port)
	}
	cfg.AllowInvalidUpstream = func(string) bool { return w.allowInvalid }
	w.pmStartProxyWith(t, cfg)
}

// client is Go's net/http through the proxy, trusting only the CA's
// service root (the root an organisation's users install).
func (w *world) client() *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true,
	}}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestProxyInspectsWithMintedLeafAndMirroredHello(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })

	resp, body := get(t, w.client(), "https://origin.test/hello")
	if resp.StatusCode != 200 || body != "origin origin.test" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	chain := resp.TLS.PeerCertificates
	if len(chain) < 2 || chain[0].Subject.CommonName != "origin.test" || !strings.Contains(chain[1].Subject.CommonName, "acme") {
		t.Fatalf("the client was not served the org's minted leaf: %v", chain)
	}
	// The origin saw the client's fingerprint, not the proxy's.
	raw, ok := w.hellos.Load("origin.test")
	if !ok {
		t.Fatal("the origin recorded no ClientHello")
	}
	originHello, err := tlsmitm.ParseClientHello(raw.([]byte))
	if err != nil {
		t.Fatal(err)
	}
	log := w.accessLog()
	if !strings.Contains(log, `"ja4":"`+tlsmitm.JA4(originHello)+`"`) {
		t.Fatalf("the origin's JA4 %s differs from the client's in the access log:\n%s", tlsmitm.JA4(originHello), log)
	}
	if !strings.Contains(log, `"url":"https://origin.test/hello"`) || !strings.Contains(log, `"org":"acme"`) ||
		!strings.Contains(log, `"status":200`) || !strings.Contains(log, `"decision":"inspect"`) {
		t.Fatalf("access log lacks the request and its answer:\n%s", log)
	}
}

func TestProxyBlocksURLPath(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.blockPath = func(org, host, path string) (string, bool) {
		return "paths[0]", strings.HasPrefix(path, "/admin")
	}
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	c := w.client()
	if resp, body := get(t, c, "https://origin.test/public"); resp.StatusCode != 200 || body != "origin origin.test" {
		t.Fatalf("allowed path: %d %q", resp.StatusCode, body)
	}
	resp, body := get(t, c, "https://origin.test/admin/users")
	if resp.StatusCode != 403 || !strings.Contains(body, "paths[0]") {
		t.Fatalf("blocked path: %d %q", resp.StatusCode, body)
	}
	if _, reached := w.requests.Load("origin.test/admin/users"); reached {
		t.Fatal("a blocked request reached the origin")
	}
	if log := w.accessLog(); !strings.Contains(log, `"status":403`) || !strings.Contains(log, `"decision":"block"`) {
		t.Fatalf("access log lacks the block:\n%s", log)
	}
}

func TestProxyBlockAndBypass(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "bank.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(host string) policy.Action {
		switch host {
		case "blocked.test":
			return policy.Block
		case "bank.test":
			return policy.Bypass
		}
		return policy.Inspect
	})
	// Blocked: the CONNECT is answered 403.
	conn, err := net.Dial("tcp", w.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "CONNECT blocked.test:443 HTTP/1.1\r\nHost: blocked.test:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("blocked CONNECT: %v %v", resp, err)
	}
	conn.Close()

	// Bypassed: the client talks to the origin itself and sees its real
	// certificate, which it must trust on its own.
	roots := x509.NewCertPool()
	roots.AddCert(w.originCA)
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp2, body := get(t, c, "https://bank.test/")
	if resp2.StatusCode != 200 || body != "origin bank.test" || resp2.TLS.PeerCertificates[0].Issuer.CommonName != "Public Web Root" {
		t.Fatalf("bypassed: %d %q issuer %s", resp2.StatusCode, body, resp2.TLS.PeerCertificates[0].Issuer.CommonName)
	}
}

func TestProxyInvalidOrDownOriginGets502(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "expired.test", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	w.origins["down.test"] = "127.0.0.1:1"
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	c := w.client()
	resp, body := get(t, c, "https://expired.test/")
	if resp.StatusCode != 502 || !strings.Contains(body, "not valid") || !strings.Contains(body, "expired") {
		t.Fatalf("expired origin: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, c, "https://down.test/")
	if resp.StatusCode != 502 || !strings.Contains(body, "unreachable") {
		t.Fatalf("origin down: %d %q", resp.StatusCode, body)
	}
}

func TestProxyWithoutKeyNeverDecrypts(t *testing.T) { checkNoKeyModes(t, tls.VersionTLS13) }

// checkNoKeyModes: with the CA down and no key held, an org whose fail
// mode is block is refused, and one whose mode is tunnel reaches the
// origin itself, its certificate untouched; the client speaks up to
// maxVersion.
func checkNoKeyModes(t *testing.T, maxVersion uint16) {
	t.Helper()
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.caStop()
	// acme's fail mode is block: without its key the edge refuses.
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	c := w.client()
	c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = maxVersion
	if _, err := c.Get("https://origin.test/"); err == nil {
		t.Fatal("with no key for the org, the proxy must not decrypt")
	}
	// tunnelco's fail mode is tunnel: the client reaches the origin itself.
	w2 := newWorld(t)
	w2.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w2.caStop()
	w2.startProxy(t, "tunnelco", func(string) policy.Action { return policy.Inspect })
	roots := x509.NewCertPool()
	roots.AddCert(w2.originCA)
	proxyURL, _ := url.Parse("http://" + w2.proxy.Addr())
	c = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: maxVersion}}}
	resp, body := get(t, c, "https://origin.test/")
	if resp.StatusCode != 200 || body != "origin origin.test" || resp.TLS.Version != maxVersion ||
		resp.TLS.PeerCertificates[0].Issuer.CommonName != "Public Web Root" {
		t.Fatalf("tunnel fail mode, TLS %x: %d %q", resp.TLS.Version, resp.StatusCode, body)
	}
}

func TestProxyDrainLetsOpenConnectionsFinish(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	// An open tunnel through the proxy, mid-conversation.
	conn, err := net.Dial("tcp", w.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- w.proxy.Drain(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	// New connections are turned away while draining...
	if c2, err := net.Dial("tcp", w.proxy.Addr()); err == nil {
		io.WriteString(c2, "CONNECT origin.test:443 HTTP/1.1\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c2), nil); err == nil && resp.StatusCode != 503 {
			t.Errorf("a new connection during the drain got %d, want 503", resp.StatusCode)
		}
		c2.Close()
	}
	// ...while the open one finishes its request.
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	tc := tls.Client(&bufConn{Conn: conn, r: br}, &tls.Config{ServerName: "origin.test", RootCAs: roots})
	io.WriteString(tc, "GET /during-drain HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the open connection could not finish during the drain: %v %v", resp, err)
	}
	resp.Body.Close()
	tc.Close()
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the drain did not end once the last connection closed")
	}
}

// bufConn reads first what a bufio.Reader already took from the conn.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestProxyRelaysPlainHTTP(t *testing.T) {
	w := newWorld(t)
	seen := make(chan *http.Request, 1)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen <- r
		io.WriteString(rw, "plain origin")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.origins["plain.test"] = ln.Addr().String()
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })

	proxyURL, _ := url.Parse("http://alice:secret@" + w.proxy.Addr())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, body := get(t, c, "http://plain.test/some/path?q=1")
	if resp.StatusCode != 200 || body != "plain origin" {
		t.Fatalf("plain HTTP through the proxy: %d %q", resp.StatusCode, body)
	}
	r := <-seen
	if r.RequestURI != "/some/path?q=1" || r.Host != "plain.test" || r.Header.Get("Proxy-Authorization") != "" {
		t.Fatalf("the origin got %q for host %q with proxy credentials %q", r.RequestURI, r.Host, r.Header.Get("Proxy-Authorization"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.accessLog(), `"url":"http://plain.test/some/path?q=<redacted>"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if log := w.accessLog(); !strings.Contains(log, `"url":"http://plain.test/some/path?q=<redacted>"`) || !strings.Contains(log, `"status":200`) {
		t.Fatalf("access log lacks the plain request:\n%s", log)
	}
}

func TestProxyPassesInvalidOriginOnUntrusted(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "expired.test", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	w.allowInvalid = true
	w.startProxy(t, "acme", func(string) policy.Action { return policy.Inspect })
	// A client trusting the org's root must refuse: the failure is never
	// hidden behind a trusted leaf.
	if _, err := w.client().Get("https://expired.test/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client trusting the org's root accepted a leaf for an invalid origin: %v", err)
	}
	// The user who clicks through reaches the origin, and sees who signed.
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, body := get(t, c, "https://expired.test/")
	if resp.StatusCode != 200 || body != "origin expired.test" || !strings.Contains(resp.TLS.PeerCertificates[0].Issuer.CommonName, "NOT valid") {
		t.Fatalf("clicked through: %d %q issuer %q", resp.StatusCode, body, resp.TLS.PeerCertificates[0].Issuer.CommonName)
	}
}

func TestProxyAppliesPolicyToTheSNI(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "allowed.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", func(host string) policy.Action {
		if host == "blocked.test" {
			return policy.Block
		}
		return policy.Inspect
	})
	// CONNECT names an allowed host while the hello asks for a blocked one.
	conn, err := net.Dial("tcp", w.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	tc := tls.Client(&bufConn{Conn: conn, r: br}, &tls.Config{ServerName: "blocked.test", RootCAs: roots})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil || !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("a blocked SNI behind an allowed CONNECT was served: %v", err)
	}
	if log := w.accessLog(); !strings.Contains(log, `"sni":"blocked.test"`) || !strings.Contains(log, `"status":403`) {
		t.Fatalf("the refusal is not in the access log:\n%s", log)
	}
}
