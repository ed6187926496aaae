package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"
)

// The attack tests' additions to the walk-around world: origins that
// misbehave on purpose or record what Go's servers would hide (every
// HTTP/2 header block and frame, every HTTP/1.1 head, refused ones
// included), an edge whose hosts section maps them, and a raw HTTP/2
// client that writes frames Go's transport never would.

// attackWorld is a walk-around world with the attack tests' origins and
// an edge that knows them.
type attackWorld struct {
	*walkWorld
	hostile      *hostileOrigin   // HTTPS, HTTP/1.1: answers as the request's path says
	hostilePlain *hostileOrigin   // the same over plain http
	raw2         *rawH2Origin     // HTTPS, HTTP/2 with extended CONNECT: records every frame
	h2c          *recordingOrigin // HTTPS, HTTP/1.1, that upgrades to h2c (x/net/http2/h2c)
	edge         *edgeProc        // users alice; its hosts map the origins above
}

// attackRules are the attack edge's URL rules for its own origins.
const attackRules = `      - {name: no-admin-raw, action: block, hosts: [hostile.test, hostile-plain.test, raw2.test, h2c.test], paths: [/admin]}
`

func newAttackWorld(t *testing.T) *attackWorld {
	t.Helper()
	a := &attackWorld{walkWorld: newWalkWorld(t)}
	// The attack origins' certificates come from a root of their own; the
	// attack edge trusts both.
	pkiDir := filepath.Join(a.dir, "attack-pki")
	os.Mkdir(pkiDir, 0o755)
	pki := newTestPKI(t, pkiDir)
	roots := filepath.Join(a.dir, "attack-roots.pem")
	var both []byte
	for _, f := range []string{filepath.Join(a.dir, "public-root.pem"), pki.rootFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, b...)
	}
	os.WriteFile(roots, both, 0o644)
	hostileCert := pki.serverCert(t, "hostile.test")
	a.hostile = startHostileOrigin(t, &hostileCert)
	a.hostilePlain = startHostileOrigin(t, nil)
	a.raw2 = startRawH2Origin(t, pki.serverCert(t, "raw2.test"))
	a.h2c = startH2COrigin(t, pki.serverCert(t, "h2c.test"))

	listen, admin := freeAddr(t), freeAddr(t)
	config := fmt.Sprintf(`listen: %s
admin: %s
loops: 1
ca:
  url: https://%s
  cert_file: edge/edge-cert.pem
  key_file: edge/edge-key.pem
  root_file: edge/ca-root.pem
users:
  - {name: alice, password: %s, org: acme}
orgs:
  - id: acme
    rules:
%s%shosts:
  h1.test: %s
  h2.test: %s
  plain.test: %s
  blocked.test: %s
  hostile.test: %s
  hostile-plain.test: %s
  raw2.test: %s
  h2c.test: %s
  admin.test: %s
  www.apple.com: %s
upstream: {roots_file: attack-roots.pem}
access_log: edge-attack-access.log
`, listen, admin, a.caKeys, alicePassword, attackRules, walkPolicy,
		a.h1.addr, a.h2.addr, a.plain.addr, a.plain.addr, a.hostile.addr, a.hostilePlain.addr, a.raw2.addr, a.h2c.addr, admin, a.tcp.addr)
	a.edge = startEdgeProc(t, a.bin, a.dir, "edge-attack", config)
	return a
}

// aliceBasic is alice's Proxy-Authorization.
var aliceBasic = basicAuth("alice", alicePassword)

// hostileOrigin is an HTTP/1.1 origin that answers each request as its
// path asks, out of step with HTTP if need be, and records every head it
// reads, whatever it answered before.
type hostileOrigin struct {
	addr string
	mu   sync.Mutex
	seen []string // request lines, in order
}

// The hostile origin's answers, by request path.
var hostileAnswers = map[string]string{
	// Two responses to one request.
	"/twice": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
	// A 204 that carries a body.
	"/204-body": "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
	// A body delimited by the connection's end, and a connection that
	// stays open: the origin goes on reading requests.
	"/no-length": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody without a length\n",
	// A 101 to a request that asked no upgrade.
	"/101": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	// Many interim answers, then the final one.
	"/1xx": strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 200) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
}

// startHostileOrigin serves over TLS with cert, or plain http when nil.
func startHostileOrigin(t *testing.T, cert *tls.Certificate) *hostileOrigin {
	t.Helper()
	o := &hostileOrigin{}
	ln := listenLoopback(t, "127.0.0.1:0")
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	}
	o.addr = ln.Addr().String()
	serveEach(t, ln, o.serve)
	return o
}

// serve reads heads (the tests send no bodies) and answers each.
func (o *hostileOrigin) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(8 * time.Second))
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if h == "\r\n" || h == "\n" {
				break
			}
		}
		o.mu.Lock()
		o.seen = append(o.seen, line)
		o.mu.Unlock()
		f := strings.Fields(line)
		if len(f) < 2 {
			return
		}
		answer, ok := hostileAnswers[f[1]]
		switch {
		case f[0] == "HEAD":
			answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" // a body to HEAD
		case !ok:
			answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		}
		io.WriteString(c, answer)
	}
}

// heads returns the request lines received since the first n.
func (o *hostileOrigin) heads(since int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if since > len(o.seen) {
		return nil
	}
	return append([]string(nil), o.seen[since:]...)
}

func (o *hostileOrigin) mark() int { return len(o.heads(0)) }

// startH2COrigin is a recording HTTPS origin of HTTP/1.1 whose handler
// also takes "Upgrade: h2c" (RFC 7540 §3.2), as x/net's h2c wrapper does
// whether or not the connection is TLS.
func startH2COrigin(t *testing.T, cert tls.Certificate) *recordingOrigin {
	t.Helper()
	o := &recordingOrigin{name: "h2c"}
	ln := listenLoopback(t, "127.0.0.1:0")
	o.addr = ln.Addr().String()
	srv := &http.Server{Handler: h2c.NewHandler(o, &http2.Server{}), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	go srv.ServeTLS(countingListener{ln, o}, "", "")
	t.Cleanup(func() { srv.Close() })
	return o
}

// rawH2Origin is an HTTP/2 origin of frames and HPACK only: it enables
// extended CONNECT (RFC 8441), records every request header block and
// every DATA frame it receives, and answers each stream 200 at once.
type rawH2Origin struct {
	addr string
	mu   sync.Mutex
	reqs []h2Seen
	data int // DATA frames with a payload
}

// h2Seen is one request header block the origin decoded.
type h2Seen struct {
	stream uint32
	fields []hpack.HeaderField
}

func (s h2Seen) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stream %d:", s.stream)
	for _, f := range s.fields {
		fmt.Fprintf(&b, " %s=%q", f.Name, f.Value)
	}
	return b.String()
}

func startRawH2Origin(t *testing.T, cert tls.Certificate) *rawH2Origin {
	t.Helper()
	o := &rawH2Origin{}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	serveEach(t, ln, o.serve)
	return o
}

func (o *rawH2Origin) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1000})
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if _, ok := err.(http2.StreamError); ok {
				continue
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			o.mu.Lock()
			o.reqs = append(o.reqs, h2Seen{f.StreamID, append([]hpack.HeaderField(nil), f.Fields...)})
			o.mu.Unlock()
			hb.Reset()
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "0"})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
		case *http2.DataFrame:
			if n := len(f.Data()); n > 0 {
				o.mu.Lock()
				o.data++
				o.mu.Unlock()
				fr.WriteWindowUpdate(0, uint32(n))
			}
		}
	}
}

// requests returns the header blocks received since the first n.
func (o *rawH2Origin) requests(since int) []h2Seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	if since > len(o.reqs) {
		return nil
	}
	return append([]h2Seen(nil), o.reqs[since:]...)
}

// mark is where the origin's record stands, once what an earlier
// connection still had in flight has arrived (nothing new for 100 ms, for
// at most 2 s), so that it is not counted against the next attempt.
func (o *rawH2Origin) mark() (reqs, data int) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		o.mu.Lock()
		reqs, data = len(o.reqs), o.data
		o.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		o.mu.Lock()
		settled := reqs == len(o.reqs) && data == o.data
		o.mu.Unlock()
		if settled || time.Now().After(deadline) {
			return reqs, data
		}
	}
}

// h2Client is an HTTP/2 client of frames and HPACK over an inspected
// tunnel, so that it can send what Go's transport never would. A reader
// goroutine records what the edge answers on each stream.
type h2Client struct {
	conn *tls.Conn
	wmu  sync.Mutex
	fr   *http2.Framer
	enc  *hpack.Encoder
	hb   bytes.Buffer

	mu      sync.Mutex
	status  map[uint32]int
	resets  map[uint32]http2.ErrCode
	goAway  *http2.ErrCode
	peerSet map[http2.SettingID]uint32
	ended   chan struct{} // closed when the connection ended
}

// dialH2 opens an inspected tunnel to host:443 through edge as alice and
// speaks HTTP/2 in it; the edge's leaf is verified under the CA's root.
func (w *walkWorld) dialH2(t *testing.T, edge *edgeProc, host string, cfg *tls.Config) *h2Client {
	t.Helper()
	pc := dialConnect(t, edge.addr, aliceBasic, host+":443")
	if pc.status != 200 {
		t.Fatalf("CONNECT %s: %d %q", host, pc.status, pc.body)
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName, cfg.RootCAs, cfg.NextProtos = host, w.caRoot, []string{"h2"}
	tc, _, err := pc.tlsOver(cfg)
	if err != nil {
		t.Fatalf("TLS to %s through the edge: %v", host, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	tc.SetDeadline(time.Now().Add(15 * time.Second))
	c := &h2Client{conn: tc, fr: http2.NewFramer(tc, tc), status: map[uint32]int{}, resets: map[uint32]http2.ErrCode{},
		peerSet: map[http2.SettingID]uint32{}, ended: make(chan struct{})}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.AllowIllegalWrites = true // WINDOW_UPDATE 0 and the like
	c.enc = hpack.NewEncoder(&c.hb)
	io.WriteString(tc, http2.ClientPreface)
	c.fr.WriteSettings()
	go c.read()
	t.Cleanup(func() { tc.Close(); <-c.ended })
	return c
}

func (c *h2Client) read() {
	defer close(c.ended)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if _, ok := err.(http2.StreamError); ok {
				continue
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.mu.Lock()
				f.ForeachSetting(func(s http2.Setting) error { c.peerSet[s.ID] = s.Val; return nil })
				c.mu.Unlock()
				c.write(func() { c.fr.WriteSettingsAck() })
			}
		case *http2.MetaHeadersFrame:
			var status int
			fmt.Sscan(f.PseudoValue("status"), &status)
			c.mu.Lock()
			if status >= 200 || c.status[f.StreamID] == 0 {
				c.status[f.StreamID] = status
			}
			c.mu.Unlock()
		case *http2.DataFrame:
			if n := uint32(len(f.Data())); n > 0 {
				c.write(func() { c.fr.WriteWindowUpdate(0, n) })
			}
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			c.resets[f.StreamID] = f.ErrCode
			c.mu.Unlock()
		case *http2.GoAwayFrame:
			code := f.ErrCode
			c.mu.Lock()
			c.goAway = &code
			c.mu.Unlock()
		}
	}
}

// write runs one framer write under the write lock.
func (c *h2Client) write(f func()) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	f()
}

// headers writes one header block on stream id, in one frame.
func (c *h2Client) headers(id uint32, fields []hpack.HeaderField, endStream bool) {
	c.write(func() {
		c.hb.Reset()
		for _, f := range fields {
			c.enc.WriteField(f)
		}
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hb.Bytes(), EndHeaders: true, EndStream: endStream})
	})
}

// request is the header block of a request for path on host, with more
// fields after the pseudo-headers.
func h2Request(method, host, path string, more ...string) []hpack.HeaderField {
	fields := []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: host}, {Name: ":path", Value: path}}
	for i := 0; i+1 < len(more); i += 2 {
		fields = append(fields, hpack.HeaderField{Name: more[i], Value: more[i+1]})
	}
	return fields
}

// outcome waits up to 5 s for stream id's final status or reset, and
// returns them (0 and -1 when neither came).
func (c *h2Client) outcome(id uint32) (status int, reset http2.ErrCode, ok bool) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		status, reset, hasReset := c.status[id], c.resets[id], false
		_, hasReset = c.resets[id]
		c.mu.Unlock()
		if status >= 200 || hasReset {
			return status, reset, true
		}
		select {
		case <-c.ended:
			return 0, 0, false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, 0, false
}

// waitEnd waits up to 2 s for the connection to end, and returns the
// GOAWAY's code, if one came.
func (c *h2Client) waitEnd() (*http2.ErrCode, bool) {
	select {
	case <-c.ended:
	case <-time.After(2 * time.Second):
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goAway, true
}

func (c *h2Client) setting(id http2.SettingID) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerSet[id]
}
