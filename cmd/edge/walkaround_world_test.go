package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The world of the walk-around tests (issue 12): a CA, origins of the
// test's own that record every request they receive, and edges in front
// of them, all on loopback. Every name the tests use is mapped in the
// edges' hosts section, so nothing leaves the machine.

// seenRequest is one request an origin received.
type seenRequest struct {
	Method, Host, Target, Proto string
}

func (r seenRequest) String() string { return r.Method + " " + r.Host + r.Target + " " + r.Proto }

// recordingOrigin is a server that records each request it receives and
// each connection it accepts, so a test can assert that nothing reached it.
type recordingOrigin struct {
	name string
	addr string

	mu      sync.Mutex
	reqs    []seenRequest
	accepts int
	raw     bytes.Buffer // what a plain TCP service read, bounded
}

// requests returns the requests received since the first n.
func (o *recordingOrigin) requests(since int) []seenRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	if since > len(o.reqs) {
		return nil
	}
	return append([]seenRequest(nil), o.reqs[since:]...)
}

// mark is where a test starts counting requests and accepted connections.
type originMark struct{ reqs, accepts int }

func (o *recordingOrigin) mark() originMark {
	o.mu.Lock()
	defer o.mu.Unlock()
	return originMark{len(o.reqs), o.accepts}
}

func (o *recordingOrigin) acceptsSince(m originMark) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.accepts - m.accepts
}

func (o *recordingOrigin) rawBytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.raw.Bytes())
}

// expectNothing fails the test when the origin received a request since m.
func (o *recordingOrigin) expectNothing(t *testing.T, m originMark) {
	t.Helper()
	if got := o.requests(m.reqs); len(got) > 0 {
		t.Errorf("the origin %s received %v", o.name, got)
	}
}

// expectNoConnection fails the test when the origin accepted a connection
// since m: the edge did not even dial it.
func (o *recordingOrigin) expectNoConnection(t *testing.T, m originMark) {
	t.Helper()
	if n := o.acceptsSince(m); n > 0 {
		t.Errorf("the edge dialed %s (%s) %d times", o.name, o.addr, n)
	}
}

// countingListener counts the connections it accepts for its origin.
type countingListener struct {
	net.Listener
	o *recordingOrigin
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.o.mu.Lock()
		l.o.accepts++
		l.o.mu.Unlock()
	}
	return c, err
}

func (o *recordingOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.reqs = append(o.reqs, seenRequest{r.Method, r.Host, r.RequestURI, r.Proto})
	o.mu.Unlock()
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "hello from %s\n", o.name)
}

func listenLoopback(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startHTTPOrigin serves o over HTTP on loopback: over TLS with cfg when
// it is set (h2 offered when cfg.NextProtos lists it), plain otherwise.
func startHTTPOrigin(t *testing.T, name string, cfg *tls.Config) *recordingOrigin {
	t.Helper()
	o := &recordingOrigin{name: name}
	ln := listenLoopback(t, "127.0.0.1:0")
	o.addr = ln.Addr().String()
	srv := &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	var served net.Listener = countingListener{ln, o}
	if cfg != nil {
		srv.TLSConfig = cfg
		if !contains(cfg.NextProtos, "h2") {
			srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // HTTP/1.1 only
		}
		go srv.ServeTLS(served, "", "")
	} else {
		go srv.Serve(served)
	}
	t.Cleanup(func() { srv.Close() })
	return o
}

// startTCPService is a plain TCP service (an SSH server, say) that sends
// a banner at once and records what it reads.
func startTCPService(t *testing.T, name, banner string) *recordingOrigin {
	t.Helper()
	o := &recordingOrigin{name: name}
	ln := listenLoopback(t, "127.0.0.1:0")
	o.addr = ln.Addr().String()
	serveEach(t, ln, func(c net.Conn) {
		o.mu.Lock()
		o.accepts++
		o.mu.Unlock()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, banner)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			o.mu.Lock()
			if o.raw.Len() < 64<<10 {
				o.raw.Write(buf[:n])
			}
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	return o
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// testPKI is the "public" root the origins' certificates chain to (the
// edges trust it through upstream.roots_file) and its key.
type testPKI struct {
	root     *x509.Certificate
	key      *ecdsa.PrivateKey
	rootFile string
}

func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "walk-around test public root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	p := &testPKI{root: root, key: key, rootFile: filepath.Join(dir, "public-root.pem")}
	os.WriteFile(p.rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return p
}

// serverCert is an ECDSA server certificate for names under the root.
func (p *testPKI) serverCert(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// edgeProc is a running edge: its addresses, its access log and its
// process.
type edgeProc struct {
	proc      *proc
	addr      string // the proxy listener
	admin     string
	accessLog *accessLog
}

// startEdgeProc writes config into dir/name.yaml and runs the edge on it.
func startEdgeProc(t *testing.T, bin, dir, name, config string) *edgeProc {
	t.Helper()
	file := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, dir, name, os.Environ(), filepath.Join(bin, "edge"), "-config", file)
	e := &edgeProc{proc: p, accessLog: &accessLog{path: filepath.Join(dir, name+"-access.log")}}
	metrics := p.waitLine(t, "lucid: metrics at ", 20*time.Second)
	metrics, _, _ = strings.Cut(metrics, ",")
	e.admin = strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/metrics")
	e.addr = p.waitLine(t, "lucid: inspecting proxy on ", 20*time.Second)
	return e
}

// logEntry is one line of the access log, as internal/accesslog writes it.
type logEntry struct {
	Org            string  `json:"org"`
	User           string  `json:"user"`
	Client         string  `json:"client"`
	SNI            string  `json:"sni"`
	Method         string  `json:"method"`
	URL            string  `json:"url"`
	Status         int     `json:"status"`
	Decision       string  `json:"decision"`
	Rule           string  `json:"rule"`
	TLSClient      tlsInfo `json:"tls_client"`
	TLSUpstream    tlsInfo `json:"tls_upstream"`
	UpstreamVerify string  `json:"upstream_verify"`
}

type tlsInfo struct {
	Version string `json:"version"`
	Suite   string `json:"suite"`
}

func (e logEntry) String() string {
	return fmt.Sprintf("%s %s %d %s/%s sni=%q user=%q up=%s", e.Method, e.URL, e.Status, e.Decision, e.Rule, e.SNI, e.User, e.TLSUpstream.Version)
}

// accessLog reads an edge's access log, a JSON object per line.
type accessLog struct{ path string }

func (l *accessLog) entries(t *testing.T) []logEntry {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []logEntry
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Errorf("access log line %d is not JSON (%v): %q", i+1, err, line)
			continue
		}
		out = append(out, e)
	}
	return out
}

// raw is the log file's text, for checks on what it must never hold.
func (l *accessLog) raw() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}

// mark is the number of lines written so far: a test's lines come after.
func (l *accessLog) mark(t *testing.T) int { return len(l.entries(t)) }

// waitFor waits (the log is written at least every 100 ms) for a line
// after since that match says yes to, and returns it; it fails the test
// when none comes within 3 s.
func (l *accessLog) waitFor(t *testing.T, since int, what string, match func(logEntry) bool) (logEntry, bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		es := l.entries(t)
		if since < len(es) {
			for _, e := range es[since:] {
				if match(e) {
					return e, true
				}
			}
		}
		if time.Now().After(deadline) {
			var got []string
			if since < len(es) {
				for _, e := range es[since:] {
					got = append(got, e.String())
				}
			}
			t.Errorf("the access log has no line for %s; new lines:\n  %s", what, strings.Join(got, "\n  "))
			return logEntry{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// since returns the lines after the first n once the log has settled.
func (l *accessLog) since(t *testing.T, n int) []logEntry {
	t.Helper()
	time.Sleep(250 * time.Millisecond) // two writer periods
	es := l.entries(t)
	if n > len(es) {
		return nil
	}
	return es[n:]
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// proxyConn is a raw connection to an edge after a CONNECT.
type proxyConn struct {
	net.Conn
	br     *bufio.Reader
	status int    // the CONNECT's answer
	body   string // the answer's body when it was not 200
}

// dialConnect sends CONNECT target (with auth as Proxy-Authorization
// unless empty) from a loopback address, and reads the answer.
func dialConnect(t *testing.T, edge, auth, target string) *proxyConn {
	t.Helper()
	return dialConnectFrom(t, nil, edge, auth, target)
}

func dialConnectFrom(t *testing.T, local net.Addr, edge, auth, target string) *proxyConn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", edge)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	pc := &proxyConn{Conn: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(pc.br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatalf("CONNECT %s: no answer: %v", target, err)
	}
	pc.status = resp.StatusCode
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		pc.body = string(b)
	}
	return pc
}

// bufferedConn reads what the CONNECT's reader already holds first.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tlsOver starts TLS inside a CONNECT tunnel as cfg says, and returns the
// connection and a reader of it; the handshake's error is returned, not
// fatal, since some tests expect it to fail.
func (pc *proxyConn) tlsOver(cfg *tls.Config) (*tls.Conn, *bufio.Reader, error) {
	tc := tls.Client(bufferedConn{pc.Conn, pc.br}, cfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	err := tc.Handshake()
	return tc, bufio.NewReader(tc), err
}

// readStatuses reads up to max responses from br, their bodies included,
// until the connection ends or 5 s pass; it returns their statuses and
// bodies.
func readStatuses(c net.Conn, br *bufio.Reader, max int) ([]int, []string) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var statuses []int
	var bodies []string
	for len(statuses) < max {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
	return statuses, bodies
}

// curlResult is what a curl run through a proxy gave.
type curlResult struct {
	exit    int
	connect int // the proxy's answer to CONNECT, 0 when there was none
	status  int // the HTTP status, 0 when there was none
	body    string
	stderr  string
}

func (r curlResult) String() string {
	return fmt.Sprintf("exit %d, CONNECT %d, status %d, body %.200q, stderr %.300q", r.exit, r.connect, r.status, r.body, r.stderr)
}

// curlVia runs curl with args and reports the CONNECT answer and the
// status (from -w) apart from the body.
func curlVia(t *testing.T, dir string, args ...string) curlResult {
	t.Helper()
	const sep = "\n--walkaround-status--"
	code, out, stderr := curl(t, dir, append([]string{"-w", sep + "%{http_connect} %{http_code}"}, args...)...)
	r := curlResult{exit: code, stderr: stderr}
	body, codes, ok := strings.Cut(out, sep)
	if !ok {
		t.Fatalf("curl %v printed no status: %q %q", args, out, stderr)
	}
	r.body = body
	f := strings.Fields(codes)
	if len(f) == 2 {
		r.connect, _ = strconv.Atoi(f[0])
		r.status, _ = strconv.Atoi(f[1])
	}
	return r
}

// opensslClient runs openssl s_client with args, input on its standard
// input, and returns what it printed (stdout and stderr) and its error.
func opensslClient(t *testing.T, dir, input string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("openssl", append([]string{"s_client"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("openssl s_client %v did not finish within 15 s:\n%s", args, out.String())
		return "", nil
	}
}

// walkWorld is the CA, the origins and the edges the walk-around tests
// share.
type walkWorld struct {
	dir, bin   string
	caRootFile string         // the CA's service root, under which edges' leaves chain
	caRoot     *x509.CertPool // the same, for Go clients
	caKeys     string         // the CA's key API
	caAdmin    string

	h1     *recordingOrigin // HTTPS, HTTP/1.1 only; its certificate names blocked names too
	h1Cert *x509.Certificate
	h2     *recordingOrigin // HTTPS with HTTP/2
	plain  *recordingOrigin // plain http
	legacy *recordingOrigin // HTTPS, TLS 1.0 only, ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	tcp    *recordingOrigin // a plain TCP service with a banner
	sink   *recordingOrigin // on 127.0.0.1, where localhost points
	sink2  *recordingOrigin // on 127.0.0.2

	users *edgeProc // with users and an auth-failure limit
	open  *edgeProc // without users: loopback clients only

	bobPassword string
}

// Users of the edge with users.
const (
	alicePassword = "wonderland" // plain text in the config (hashed at load)
	aliceAuth     = "alice:" + alicePassword
)

// walkPolicy is the organisation's policy on both edges: blocked hosts,
// and a URL rule on /admin of the test origins.
const walkPolicy = `      - {name: blocked-hosts, action: block, hosts: [blocked.test, secret.wild.test]}
      - {name: no-admin, action: block, hosts: [h1.test, h2.test, plain.test], paths: [/admin]}
`

func newWalkWorld(t *testing.T) *walkWorld {
	t.Helper()
	w := &walkWorld{bin: buildAll(t), dir: t.TempDir()}
	dir := w.dir
	ca := filepath.Join(w.bin, "ca")

	// The CA, with one organisation and its intermediate, and an
	// enrolment the edges share.
	caAdmin, caKeys, caPublic := freeAddr(t), freeAddr(t), freeAddr(t)
	w.caKeys, w.caAdmin = caKeys, caAdmin
	os.WriteFile(filepath.Join(dir, "ca-password"), []byte("correct horse battery staple\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.yaml"), fmt.Appendf(nil, `data_dir: ca
password: {file: ca-password}
listen: {admin: %q, keys: %q, public: %q}
kdf: {memory_kib: 8192, time: 1, threads: 1}
`, caAdmin, caKeys, caPublic), 0o644)
	caCmd := func(args ...string) string {
		return run(t, dir, append([]string{ca, "-config", "ca.yaml"}, args...)...)
	}
	caCmd("init")
	caProc := startProc(t, dir, "ca serve", os.Environ(), ca, "serve", "-config", "ca.yaml")
	waitHealthy(t, "http://"+caPublic+"/healthz", caProc)
	caCmd("org", "create", "acme")
	caCmd("org", "issue", "acme")
	caCmd("edge", "enrol", "-out", "edge")
	w.caRootFile = filepath.Join(dir, "edge", "ca-root.pem")
	rootPEM, err := os.ReadFile(w.caRootFile)
	if err != nil {
		t.Fatal(err)
	}
	w.caRoot = x509.NewCertPool()
	if !w.caRoot.AppendCertsFromPEM(rootPEM) {
		t.Fatal("edge/ca-root.pem holds no certificate")
	}

	// The origins.
	pki := newTestPKI(t, dir)
	h1Cert := pki.serverCert(t, "h1.test", "blocked.test", "*.wild.test", "www.apple.com")
	w.h1Cert, _ = x509.ParseCertificate(h1Cert.Certificate[0])
	w.h1 = startHTTPOrigin(t, "h1", &tls.Config{Certificates: []tls.Certificate{h1Cert}, NextProtos: []string{"http/1.1"}})
	w.h2 = startHTTPOrigin(t, "h2", &tls.Config{Certificates: []tls.Certificate{pki.serverCert(t, "h2.test")}, NextProtos: []string{"h2", "http/1.1"}})
	w.plain = startHTTPOrigin(t, "plain", nil)
	w.legacy = startHTTPOrigin(t, "legacy", &tls.Config{
		Certificates: []tls.Certificate{pki.serverCert(t, "legacy.test")},
		MinVersion:   tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	})
	w.tcp = startTCPService(t, "tcp", "SSH-2.0-OpenSSH_9.2 walkaround\r\n")
	w.sink = startTCPService(t, "sink on 127.0.0.1", "")
	sink2 := &recordingOrigin{name: "sink on 127.0.0.2"}
	ln := listenLoopback(t, "127.0.0.2:0")
	sink2.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sink2.mu.Lock()
			sink2.accepts++
			sink2.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	w.sink2 = sink2

	// The argon2id hash of bob's password, as an operator makes it.
	w.bobPassword = "bob-" + randomSerial().Text(36)
	cmd := exec.Command(filepath.Join(w.bin, "edge"), "hash-password")
	cmd.Stdin = strings.NewReader(w.bobPassword + "\n")
	out, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(out, []byte("$argon2id$")) {
		t.Fatalf("edge hash-password: %v %q", err, out)
	}
	bobHash := strings.TrimSpace(string(out))

	w.users = w.startEdge(t, "edge-users", fmt.Sprintf(`users:
  - {name: alice, password: %s, org: acme}
  - {name: bob, password_hash: %q, org: acme}
auth_failures: {limit: 3, per: 1m}
`, alicePassword, bobHash), "false", "")
	w.open = w.startEdge(t, "edge-open", "", "true", "")
	return w
}

// startEdge starts an edge in org acme with walkPolicy after extraRules,
// the given users section and log_query_values.
func (w *walkWorld) startEdge(t *testing.T, name, users, logQueryValues, extraRules string) *edgeProc {
	t.Helper()
	listen, admin := freeAddr(t), freeAddr(t)
	config := fmt.Sprintf(`listen: %s
admin: %s
loops: 1
ca:
  url: https://%s
  cert_file: edge/edge-cert.pem
  key_file: edge/edge-key.pem
  root_file: edge/ca-root.pem
%sorgs:
  - id: acme
    log_query_values: %s
    rules:
%s%shosts:
  h1.test: %s
  h2.test: %s
  plain.test: %s
  blocked.test: %s
  legacy.test: %s
  tcp.test: %s
  admin.test: %s
  proxy.test: %s
  cakeys.test: %s
upstream: {roots_file: public-root.pem}
access_log: %s-access.log
`, listen, admin, w.caKeys, users, logQueryValues, extraRules, walkPolicy,
		w.h1.addr, w.h2.addr, w.plain.addr, w.plain.addr, w.legacy.addr, w.tcp.addr, admin, listen, w.caKeys, name)
	e := startEdgeProc(t, w.bin, w.dir, name, config)
	if e.addr != listen || e.admin != admin {
		t.Fatalf("%s listens on %s and %s, configured %s and %s", name, e.addr, e.admin, listen, admin)
	}
	return e
}

// inspected opens an inspected tunnel to host:443 through edge, TLS with
// the SNI host and ALPN http/1.1, the edge's leaf verified under the CA's
// root.
func (w *walkWorld) inspected(t *testing.T, edge *edgeProc, auth, host string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	return w.inspectedSNI(t, edge, auth, host+":443", host)
}

func (w *walkWorld) inspectedSNI(t *testing.T, edge *edgeProc, auth, target, sni string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	pc := dialConnect(t, edge.addr, auth, target)
	if pc.status != 200 {
		t.Fatalf("CONNECT %s: %d %q", target, pc.status, pc.body)
	}
	tc, br, err := pc.tlsOver(&tls.Config{ServerName: sni, RootCAs: w.caRoot, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS to %s (SNI %s) through the edge: %v", target, sni, err)
	}
	return tc, br
}

// origins are every origin of the world, for checks over all of them.
func (w *walkWorld) origins() []*recordingOrigin {
	return []*recordingOrigin{w.h1, w.h2, w.plain, w.legacy}
}

// curlArgs are curl's arguments to go through edge as user (none when
// empty), trusting the CA's root.
func (w *walkWorld) curlArgs(edge *edgeProc, user string, more ...string) []string {
	args := []string{"-x", "http://" + edge.addr, "--cacert", w.caRootFile}
	if user != "" {
		args = append(args, "--proxy-user", user)
	}
	return append(args, more...)
}

// serveEach runs serve on each connection ln accepts, each on its own
// goroutine, and closes the connection when serve returns; the test's
// cleanup closes ln and waits for every serve to end.
func serveEach(t *testing.T, ln net.Listener, serve func(net.Conn)) {
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}
