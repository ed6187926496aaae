package proxy_test

// The proxy end to end, as a user would check it: curl, browser
// fingerprints, upstream failures, bad and slow clients, authentication,
// load without leaks, the CA going down, HTTP/2 and protocol upgrades.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/ca/keyclient"
	"github.com/lucid-edge/lucid/engine/proxy"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/internal/tlstest"
	"github.com/lucid-edge/lucid/tlsmitm"
)

const pmIOTimeout = 10 * time.Second

// pmOrigin describes an origin beyond what world.origin offers.
type pmOrigin struct {
	certNames []string          // the certificate's names; default the origin's name
	caCert    *x509.Certificate // issuer; default the world's public-like root
	caKey     *ecdsa.PrivateKey
	h2Only    bool              // offer only h2 (ALPN) and serve HTTP/2
	sndBuf    int               // when set, the origin's socket send buffer
	handler   http.Handler      // default answers "origin <name>"
	tls       func(*tls.Config) // when set, adjusts the origin's TLS (versions, suites)
}

// pmStartOrigin starts a TLS origin registered under name; it records the
// ClientHello it receives like world.origin does. Call before starting
// the proxy (the proxy's Resolve reads w.origins).
func (w *world) pmStartOrigin(t *testing.T, name string, o pmOrigin) {
	t.Helper()
	if o.certNames == nil {
		o.certNames = []string{name}
	}
	if o.caCert == nil {
		o.caCert, o.caKey = w.originCA, w.originKey
	}
	if o.handler == nil {
		o.handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "origin "+name) })
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: o.certNames[0]},
		DNSNames: o.certNames, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, o.caCert, key.Public(), o.caKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	var inner net.Listener = ln
	if o.sndBuf > 0 {
		inner = &sndBufListener{Listener: ln, size: o.sndBuf}
	}
	rl := &recordingListener{Listener: inner, w: w, name: name}
	srv := &http.Server{Handler: o.handler, ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	if o.tls != nil {
		o.tls(srv.TLSConfig)
	}
	if o.h2Only {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP2(true)
	} else {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
	}
	go srv.ServeTLS(rl, "", "")
	t.Cleanup(func() { srv.Close() })
	w.origins[name] = ln.Addr().String()
}

type sndBufListener struct {
	net.Listener
	size int
}

func (l *sndBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(l.size)
	}
	return c, err
}

// pmProxyConfig is startProxy's configuration, to be adjusted.
func (w *world) pmProxyConfig(org string, decide func(host string) policy.Action) proxy.Config {
	upRoots := x509.NewCertPool()
	upRoots.AddCert(w.originCA)
	return proxy.Config{
		Addr: "127.0.0.1:0", Loops: 2, DefaultOrg: org,
		Decide: func(org, host string, port int) policy.Decision {
			return policy.Decision{Action: decide(host), Rule: "test"}
		},
		Keys: w.keys,
		NoKey: func(err error) (policy.FailMode, bool) {
			var nk *keyclient.NoKeyError
			if !errors.As(err, &nk) {
				return 0, false
			}
			mode, _ := policy.ParseFailMode(nk.FailMode)
			return mode, true
		},
		Resolve: func(host string, port int) (string, bool) {
			if a, ok := w.origins[host]; ok {
				return a, true
			}
			return net.JoinHostPort(host, strconv.Itoa(port)), false
		},
		UpstreamRoots: upRoots,
		AccessLog:     accesslog.New(w),
	}
}

func (w *world) pmStartProxyWith(t *testing.T, cfg proxy.Config) {
	t.Helper()
	if cfg.Logger == nil && os.Getenv("PM_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.AccessLog != nil {
		w.al = cfg.AccessLog
		t.Cleanup(func() { cfg.AccessLog.Close() }) // after the proxy stops
	}
	var err error
	w.proxy, err = proxy.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.proxy.Stop(ctx)
	})
}

func inspectAll(string) policy.Action { return policy.Inspect }

func (w *world) rootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(w.ca.Root())
	return p
}

// pmConnect opens a TCP connection to the proxy, sends CONNECT target
// (with extra header lines) and reads the proxy's answer head byte by
// byte, so no TLS bytes after it are consumed.
func pmConnect(t *testing.T, proxyAddr, target, extra string) (net.Conn, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", proxyAddr, pmIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(pmIOTimeout))
	if _, err := io.WriteString(conn, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n"+extra+"\r\n"); err != nil {
		t.Fatal(err)
	}
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := conn.Read(b); err != nil {
			conn.Close()
			t.Fatalf("reading the proxy's answer to CONNECT %s: %v (got %q)", target, err, head)
		}
		head = append(head, b[0])
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		conn.Close()
		t.Fatalf("proxy answer %q: %v", head, err)
	}
	conn.SetDeadline(time.Time{})
	return conn, resp
}

func pmConnectOK(t *testing.T, proxyAddr, target string) net.Conn {
	t.Helper()
	conn, resp := pmConnect(t, proxyAddr, target, "")
	if resp.StatusCode != 200 {
		conn.Close()
		t.Fatalf("CONNECT %s: %s", target, resp.Status)
	}
	return conn
}

// --- curl -------------------------------------------------------------

func TestProxyMatrixCurl(t *testing.T) {
	bin := tlstest.NeedTool(t, "curl")
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", inspectAll)
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.Root().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sS", "-v", "--max-time", "10", "-x", "http://"+w.proxy.Addr(),
		"--cacert", rootFile, "https://origin.test/")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl: %v\n%s", err, stderr.String())
	}
	if stdout.String() != "origin origin.test" {
		t.Fatalf("curl body %q\n%s", stdout.String(), stderr.String())
	}
	var issuer string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "issuer:") {
			issuer = line
		}
	}
	if !strings.Contains(issuer, "acme") || !strings.Contains(issuer, "Inspection CA") {
		t.Fatalf("curl -v does not show the org's intermediate as issuer: %q\n%s", issuer, stderr.String())
	}
}

// --- uTLS browser presets -----------------------------------------------

// helloCapture records what the client writes, to recover its ClientHello.
type helloCapture struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *helloCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.buf) < 64<<10 {
		c.buf = append(c.buf, p...)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// hello returns the first handshake message the client wrote.
func (c *helloCapture) hello(t *testing.T) *tlsmitm.ClientHello {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf
	if len(b) < 9 || b[0] != 0x16 {
		t.Fatalf("the client's first record is not a handshake: % x", b[:min(len(b), 16)])
	}
	recLen := int(b[3])<<8 | int(b[4])
	msgLen := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
	if len(b) < 5+recLen || 4+msgLen > recLen {
		t.Fatalf("the client's hello does not fit its first record (%d, %d)", recLen, msgLen)
	}
	ch, err := tlsmitm.ParseClientHello(b[5 : 5+4+msgLen])
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestProxyMatrixUTLSPresets(t *testing.T) {
	presets := tlstest.BrowserPresets
	w := newWorld(t)
	for _, p := range presets {
		w.origin(t, strings.ToLower(strings.TrimSuffix(p.Name, "_Auto"))+".test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	}
	w.startProxy(t, "acme", inspectAll)
	for _, p := range presets {
		t.Run(p.Name, func(t *testing.T) {
			name := strings.ToLower(strings.TrimSuffix(p.Name, "_Auto")) + ".test"
			raw := pmConnectOK(t, w.proxy.Addr(), name+":443")
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(pmIOTimeout))
			hc := &helloCapture{Conn: raw}
			uc := utls.UClient(hc, &utls.Config{ServerName: name, RootCAs: w.rootPool()}, p.ID)
			if err := uc.Handshake(); err != nil {
				t.Fatalf("uTLS %s handshake through the proxy: %v", p.Name, err)
			}
			st := uc.ConnectionState()
			if st.NegotiatedProtocol != "http/1.1" {
				t.Fatalf("ALPN %q; the origin offers only http/1.1", st.NegotiatedProtocol)
			}
			if len(st.PeerCertificates) < 2 || !strings.Contains(st.PeerCertificates[1].Subject.CommonName, "acme") {
				t.Fatalf("not the org's minted chain: %v", st.PeerCertificates)
			}
			io.WriteString(uc, "GET / HTTP/1.1\r\nHost: "+name+"\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(uc), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "origin "+name {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			client := hc.hello(t)
			got, ok := w.hellos.Load(name)
			if !ok {
				t.Fatal("the origin recorded no hello")
			}
			originHello, err := tlsmitm.ParseClientHello(got.([]byte))
			if err != nil {
				t.Fatal(err)
			}
			if cj, oj := tlsmitm.JA4(client), tlsmitm.JA4(originHello); cj != oj {
				t.Errorf("JA4 differs: client %s, origin saw %s\nclient exts %x\norigin exts %x\nclient groups %v\norigin groups %v",
					cj, oj, client.Extensions, originHello.Extensions, client.Groups, originHello.Groups)
			}
		})
	}
}

// --- upstream failures -----------------------------------------------------

func TestProxyMatrixUpstreamFailures(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.pmStartOrigin(t, "wrongname.test", pmOrigin{certNames: []string{"other.test"}})
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Someone Else's Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	oder, _ := x509.CreateCertificate(rand.Reader, otmpl, otmpl, otherKey.Public(), otherKey)
	otherCA, _ := x509.ParseCertificate(oder)
	w.pmStartOrigin(t, "unknownca.test", pmOrigin{caCert: otherCA, caKey: otherKey})
	// An origin that resets every connection at once.
	rln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { rln.Close() })
	go func() {
		for {
			c, err := rln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	w.origins["reset.test"] = rln.Addr().String()
	w.startProxy(t, "acme", inspectAll)
	c := w.client()

	cases := []struct {
		host string
		want []string
	}{
		{"wrongname.test", []string{"other.test", "wrongname.test"}},
		{"unknownca.test", []string{"unknown authority"}},
		{"reset.test", []string{"reset"}},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			resp, body := get(t, c, "https://"+tc.host+"/")
			if resp.StatusCode != 502 {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			t.Logf("502 page: %s", strings.TrimSpace(body))
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("the 502 page does not mention %q: %q", s, body)
				}
			}
			if !strings.Contains(resp.TLS.PeerCertificates[1].Subject.CommonName, "acme") {
				t.Errorf("502 page not served under the org's chain")
			}
			// The proxy is still up and serving.
			resp, body = get(t, c, "https://origin.test/")
			if resp.StatusCode != 200 || body != "origin origin.test" {
				t.Fatalf("after %s: %d %q", tc.host, resp.StatusCode, body)
			}
		})
	}
}

// --- garbage instead of a ClientHello ------------------------------------

func TestProxyMatrixGarbageHello(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", inspectAll)
	junk := make([]byte, 32)
	rand.Read(junk)
	payloads := map[string][]byte{
		"plaintext HTTP":          []byte("GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n"),
		"handshake record, junk":  append([]byte{0x16, 0x03, 0x01, 0x00, byte(len(junk))}, junk...),
		"application data record": append([]byte{0x17, 0x03, 0x03, 0x00, byte(len(junk))}, junk...),
	}
	for name, p := range payloads {
		t.Run(name, func(t *testing.T) {
			conn := pmConnectOK(t, w.proxy.Addr(), "origin.test:443")
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(pmIOTimeout))
			conn.Write(p)
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("not a clean close after %d bytes % x: %v", len(got), got, err)
			}
			if len(got) != 7 || !bytes.Equal(got[:6], []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02}) {
				t.Fatalf("want one fatal alert record, got % x", got)
			}
			t.Logf("alert %d", got[6])
		})
	}
	resp, body := get(t, w.client(), "https://origin.test/")
	if resp.StatusCode != 200 || body != "origin origin.test" {
		t.Fatalf("after garbage clients: %d %q", resp.StatusCode, body)
	}
}

// --- slow client -------------------------------------------------------------

func TestProxyMatrixSlowClientBackpressure(t *testing.T) {
	const size = 8 << 20
	body := make([]byte, size)
	r := mrand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(body)
	want := sha256.Sum256(body)
	var written atomic.Int64
	w := newWorld(t)
	w.pmStartOrigin(t, "big.test", pmOrigin{sndBuf: 32 << 10, handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(size))
		for off := 0; off < size; off += 32 << 10 {
			if _, err := rw.Write(body[off : off+32<<10]); err != nil {
				return
			}
			written.Store(int64(off + 32<<10))
		}
	})})
	w.pmStartProxyWith(t, w.pmProxyConfig("acme", inspectAll))

	raw := pmConnectOK(t, w.proxy.Addr(), "big.test:443")
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: "big.test", RootCAs: w.rootPool()})
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(tc, "GET /big HTTP/1.1\r\nHost: big.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read only the head, then stop reading until the origin stalls.
	br := bufio.NewReaderSize(tc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	last, stable := written.Load(), time.Now()
	for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := written.Load(); n != last {
			last, stable = n, time.Now()
		} else if time.Since(stable) > 700*time.Millisecond {
			break
		}
	}
	if time.Since(stable) < 700*time.Millisecond || last >= size {
		t.Errorf("the origin never stalled (wrote %d of %d bytes)", last, size)
	}
	// What the kernel holds between the origin and the client: socket
	// queues on both hops. The rest of what the origin wrote and the
	// client has not read is in the proxy's memory.
	originAddr, proxyAddr, clientAddr := w.origins["big.test"], w.proxy.Addr(), raw.LocalAddr().String()
	var kernel int64
	for k, q := range tcpQueues(t) {
		local, remote, _ := strings.Cut(k, "->")
		switch {
		case local == originAddr && remote != "0.0.0.0:0":
			kernel += q[0] + q[1]
		case remote == originAddr:
			kernel += q[0] + q[1]
		case local == proxyAddr && remote == clientAddr:
			kernel += q[0] + q[1]
		case local == clientAddr && remote == proxyAddr:
			kernel += q[0] + q[1]
		}
	}
	clientHeld := int64(br.Buffered()) + 32<<10 // bufio, plus at most a record or two inside crypto/tls
	inProxy := last - kernel - clientHeld
	t.Logf("origin stalled after writing %d KiB of %d KiB while the client did not read; kernel socket queues hold %d KiB, so the proxy holds about %d KiB",
		last>>10, size>>10, kernel>>10, inProxy>>10)
	if inProxy > 1<<20 {
		t.Errorf("no backpressure: the proxy buffers about %d KiB of a response its client does not read", inProxy>>10)
	}
	// Read slowly for a while, then everything.
	h := sha256.New()
	chunk := make([]byte, 8<<10)
	for i := 0; i < 20; i++ {
		n, err := io.ReadFull(resp.Body, chunk)
		h.Write(chunk[:n])
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := io.Copy(h, resp.Body)
	if err != nil && os.Getenv("PM_DEBUG") != "" {
		for k, q := range tcpQueues(t) {
			if strings.Contains(k, originAddr) || strings.Contains(k, clientAddr) {
				t.Logf("%s tx %d rx %d", k, q[0], q[1])
			}
		}
		t.Logf("open %d", w.proxy.Open())
	}
	if err != nil {
		t.Fatalf("after %d+%d bytes (origin wrote %d): %v", 20*len(chunk), n, written.Load(), err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("the body changed on the way (read %d + %d bytes)", 20*len(chunk), n)
	}
}

// --- proxy authentication -----------------------------------------------

func TestProxyMatrixAuth(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	cfg := w.pmProxyConfig("", inspectAll)
	cfg.Authenticate = func(v []byte) (string, string, bool) {
		s := string(v)
		if !strings.HasPrefix(s, "Basic ") {
			return "", "", false
		}
		dec, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "Basic "))
		if err != nil || string(dec) != "alice:secret" {
			return "", "", false
		}
		return "alice", "acme", true
	}
	w.pmStartProxyWith(t, cfg)

	for name, hdr := range map[string]string{
		"none":      "",
		"wrong":     "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:wrong")) + "\r\n",
		"not basic": "Proxy-Authorization: Bearer abc\r\n",
	} {
		conn, resp := pmConnect(t, w.proxy.Addr(), "origin.test:443", hdr)
		conn.Close()
		if resp.StatusCode != 407 || !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic") {
			t.Errorf("%s credentials: %s, Proxy-Authenticate %q", name, resp.Status, resp.Header.Get("Proxy-Authenticate"))
		}
	}
	// Go's client with the credentials in the proxy URL.
	proxyURL, _ := url.Parse("http://alice:secret@" + w.proxy.Addr())
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: w.rootPool()}, DisableKeepAlives: true}}
	resp, body := get(t, c, "https://origin.test/who")
	if resp.StatusCode != 200 || body != "origin origin.test" {
		t.Fatalf("with credentials: %d %q", resp.StatusCode, body)
	}
	if log := w.accessLog(); !strings.Contains(log, `"user":"alice"`) || !strings.Contains(log, `"org":"acme"`) {
		t.Errorf("the access log does not name the user and org:\n%s", log)
	}
	// Wrong credentials through Go's client: CONNECT fails with 407.
	badURL, _ := url.Parse("http://alice:nope@" + w.proxy.Addr())
	bad := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(badURL), TLSClientConfig: &tls.Config{RootCAs: w.rootPool()}, DisableKeepAlives: true}}
	if _, err := bad.Get("https://origin.test/"); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("wrong credentials through Go's client: %v", err)
	}
}

// --- many connections, no leaks ------------------------------------------

func pmFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func TestProxyMatrixManyConnectionsNoLeaks(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", inspectAll)
	c := w.client()
	// Warm up: the org's key, both loops' leaves.
	for i := 0; i < 4; i++ {
		get(t, c, "https://origin.test/warm")
	}
	c.CloseIdleConnections()
	settle := func(cond func() bool) {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !cond(); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	settle(func() bool { return w.proxy.Open() == 0 })
	time.Sleep(200 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), pmFDs()
	t.Logf("baseline: %d goroutines, %d descriptors", baseG, baseFD)

	const total, workers = 200, 20
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				resp, err := c.Get(fmt.Sprintf("https://origin.test/%d", i))
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(b) != "origin origin.test") {
						err = fmt.Errorf("%d %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, total, firstErr.Load())
	}
	c.CloseIdleConnections()
	const margin = 5
	settle(func() bool {
		return w.proxy.Open() == 0 && runtime.NumGoroutine() <= baseG+margin && pmFDs() <= baseFD+margin
	})
	t.Logf("after %d requests: %d goroutines, %d descriptors, %d open", total, runtime.NumGoroutine(), pmFDs(), w.proxy.Open())
	if n := w.proxy.Open(); n != 0 {
		t.Errorf("the proxy still counts %d open connections", n)
	}
	if g := runtime.NumGoroutine(); g > baseG+margin {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, %d after\n%s", baseG, g, buf)
	}
	if fd := pmFDs(); fd > baseFD+margin {
		t.Errorf("descriptors: %d before, %d after", baseFD, fd)
	}
}

// --- CA down with a cached key ----------------------------------------------

func TestProxyMatrixCADownCachedKey(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "first.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.origin(t, "second.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.startProxy(t, "acme", inspectAll)
	c := w.client()
	resp, body := get(t, c, "https://first.test/")
	if resp.StatusCode != 200 || body != "origin first.test" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	w.caStop()
	resp, body = get(t, c, "https://second.test/")
	if resp.StatusCode != 200 || body != "origin second.test" {
		t.Fatalf("with the CA down: %d %q", resp.StatusCode, body)
	}
	chain := resp.TLS.PeerCertificates
	if chain[0].Subject.CommonName != "second.test" || len(chain) < 2 || !strings.Contains(chain[1].Subject.CommonName, "acme") {
		t.Fatalf("not inspected with the cached key: %v", chain)
	}
}

// --- HTTP/2 ------------------------------------------------------------------

func TestProxyMatrixH2(t *testing.T) {
	big := make([]byte, 1<<20)
	mrand.NewChaCha8([32]byte{9}).Read(big)
	w := newWorld(t)
	w.pmStartOrigin(t, "h2.test", pmOrigin{h2Only: true, handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(rw, "not h2", 400)
			return
		}
		switch r.URL.Path {
		case "/big":
			rw.Write(big)
		case "/echo":
			io.Copy(rw, r.Body)
		default:
			io.WriteString(rw, "h2 origin")
		}
	})})
	w.pmStartProxyWith(t, w.pmProxyConfig("acme", inspectAll))
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: w.rootPool()}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, body := get(t, c, "https://h2.test/")
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "h2 origin" {
		t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
	}
	if !strings.Contains(resp.TLS.PeerCertificates[1].Subject.CommonName, "acme") {
		t.Fatal("not inspected")
	}
	// Concurrent streams on the one connection: downloads, then uploads.
	run := func(t *testing.T, n int, f func() error) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	t.Run("concurrent downloads", func(t *testing.T) {
		run(t, 4, func() error {
			resp, err := c.Get("https://h2.test/big")
			if err != nil {
				return err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.ProtoMajor != 2 || !bytes.Equal(b, big) {
				return fmt.Errorf("big: %v %s %d bytes", err, resp.Proto, len(b))
			}
			return nil
		})
	})
	t.Run("concurrent uploads", func(t *testing.T) {
		run(t, 4, func() error {
			resp, err := c.Post("https://h2.test/echo", "application/octet-stream", bytes.NewReader(big[:256<<10]))
			if err != nil {
				return err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.ProtoMajor != 2 || !bytes.Equal(b, big[:256<<10]) {
				return fmt.Errorf("echo: %v %d bytes", err, len(b))
			}
			return nil
		})
	})
}

// --- WebSocket-style upgrade ---------------------------------------------------

func TestProxyMatrixUpgrade(t *testing.T) {
	w := newWorld(t)
	w.pmStartOrigin(t, "ws.test", pmOrigin{handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(rw, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 32<<10)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})})
	w.startProxy(t, "acme", inspectAll)
	raw := pmConnectOK(t, w.proxy.Addr(), "ws.test:443")
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: "ws.test", RootCAs: w.rootPool(), NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(pmIOTimeout))
	io.WriteString(tc, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	// Frames that look like nothing HTTP, then one that looks like HTTP.
	msgs := [][]byte{{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}, bytes.Repeat([]byte{0xab}, 100<<10),
		[]byte("GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n")}
	for i, m := range msgs {
		if _, err := tc.Write(m); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(m))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, m) {
			t.Fatalf("message %d came back changed", i)
		}
	}
}

// tcpQueues reads /proc/net/tcp: for each socket "local->remote" (as
// 127.0.0.1:port pairs), its send and receive queue in bytes.
func tcpQueues(t *testing.T) map[string][2]int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	out := map[string][2]int64{}
	addr := func(h string) string {
		ip, port, _ := strings.Cut(h, ":")
		v, _ := strconv.ParseUint(ip, 16, 32)
		p, _ := strconv.ParseUint(port, 16, 16)
		return fmt.Sprintf("%d.%d.%d.%d:%d", byte(v), byte(v>>8), byte(v>>16), byte(v>>24), p)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		tx, rx, _ := strings.Cut(f[4], ":")
		txn, _ := strconv.ParseInt(tx, 16, 64)
		rxn, _ := strconv.ParseInt(rx, 16, 64)
		out[addr(f[1])+"->"+addr(f[2])] = [2]int64{txn, rxn}
	}
	return out
}

// --- uploads ------------------------------------------------------------------

// TestProxyMatrixUpload: a client uploads a file bigger than the proxy's
// per-connection bound to an origin that reads at its own pace; the
// upload arrives whole (backpressure reaches the client through TCP, not
// a cut connection).
func TestProxyMatrixUpload(t *testing.T) {
	const size = 4 << 20
	payload := make([]byte, size)
	mrand.NewChaCha8([32]byte{5}).Read(payload)
	want := sha256.Sum256(payload)
	for _, slow := range []bool{false, true} {
		name := map[bool]string{false: "fast origin", true: "slow origin"}[slow]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.pmStartOrigin(t, "up.test", pmOrigin{handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				h := sha256.New()
				buf := make([]byte, 64<<10)
				for {
					n, err := r.Body.Read(buf)
					h.Write(buf[:n])
					if err != nil {
						break
					}
					if slow {
						time.Sleep(5 * time.Millisecond)
					}
				}
				fmt.Fprintf(rw, "%x", h.Sum(nil))
			})})
			w.pmStartProxyWith(t, w.pmProxyConfig("acme", inspectAll))
			resp, err := w.client().Post("https://up.test/upload", "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				t.Fatalf("uploading %d KiB: %v", size>>10, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != fmt.Sprintf("%x", want) {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		})
	}
}
