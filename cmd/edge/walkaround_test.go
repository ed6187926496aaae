package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// TestWalkaround plays the attacker of issue 12 against the real edge
// and CA binaries: each of the ten findings, with real clients
// (curl with and without --http2, Go's HTTP/1.1 and HTTP/2 transports,
// openssl s_client, raw sockets), against origins of the test's own that
// record every request. Each case asserts what the client got, that
// nothing reached the origin, and that the access log has the refusal.
// The subtests share one CA and two edges, and run in order.
func TestWalkaround(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	tlstest.NeedTool(t, "curl")
	tlstest.NeedTool(t, "openssl")
	w := newWalkWorld(t)

	t.Run("1 pinned SNI behind a non-pinned CONNECT", w.pinnedSNI)
	t.Run("2 blocked SNI behind an allowed CONNECT", w.blockedSNI)
	t.Run("3 blocked Host inside an inspected tunnel", w.blockedHost)
	t.Run("4 URL rule variants", w.urlVariants)
	t.Run("5 pipelined smuggling", w.smuggling)
	t.Run("6 HTTP/2 per stream", w.http2)
	t.Run("7 plain http URL rules", w.plainHTTP)
	t.Run("8 destinations and defaults", w.destinations)
	t.Run("8 proxy passwords", w.passwords)
	t.Run("9 upstream TLS floor", w.tlsFloor)
	t.Run("10 leaf names and query redaction", w.leafAndQuery)

	// Over the whole run: no origin ever served a blocked path or host.
	for _, o := range w.origins() {
		for _, r := range o.requests(0) {
			target, err := url.PathUnescape(r.Target)
			if err != nil {
				target = r.Target
			}
			if strings.Contains(strings.ToLower(target), "admin") || strings.Contains(r.Host, "blocked.test") {
				t.Errorf("the origin %s received a blocked request: %v", o.name, r)
			}
		}
	}
}

// blockedPage is what the edge's 403 for a policy block says.
const blockedPage = "Blocked by your organisation's policy"

// Finding 1: a pinned name (www.apple.com, on policy's built-in list) in
// the SNI of a CONNECT to another name is no bypass: the connection is
// inspected (the client gets the edge's leaf), and a request in it for a
// blocked host is refused.
func (w *walkWorld) pinnedSNI(t *testing.T) {
	t.Run("openssl to an origin that covers the SNI", func(t *testing.T) {
		m, lm := w.h1.mark(), w.users.accessLog.mark(t)
		out, _ := opensslClient(t, w.dir, "GET / HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n",
			"-proxy", w.users.addr, "-proxy_user", "alice", "-proxy_pass", "pass:"+alicePassword,
			"-connect", "h1.test:443", "-servername", "www.apple.com", "-alpn", "http/1.1",
			"-CAfile", w.caRootFile, "-ign_eof")
		if !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Errorf("the client did not get the edge's leaf (an uninspected tunnel?):\n%s", out)
		}
		if !strings.Contains(out, "HTTP/1.1 403") || strings.Contains(out, "hello from") {
			t.Errorf("Host: blocked.test was not refused with 403:\n%s", out)
		}
		w.h1.expectNothing(t, m)
		w.users.accessLog.waitFor(t, lm, "the 403 with SNI www.apple.com", func(e logEntry) bool {
			return e.SNI == "www.apple.com" && e.Status == 403 && e.Decision == "block"
		})
	})
	t.Run("Go TLS to an origin that does not cover the SNI", func(t *testing.T) {
		m, lm := w.h2.mark(), w.users.accessLog.mark(t)
		tc, br := w.inspectedSNI(t, w.users, basicAuth("alice", alicePassword), "h2.test:443", "www.apple.com")
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
		statuses, bodies := readStatuses(tc, br, 2)
		if len(statuses) != 1 || statuses[0] != 403 {
			t.Errorf("Host: blocked.test: statuses %v %q, want [403] (a policy refusal, before the origin's certificate is judged)", statuses, bodies)
		}
		w.h2.expectNothing(t, m)
		w.users.accessLog.waitFor(t, lm, "the refusal with SNI www.apple.com", func(e logEntry) bool {
			return e.SNI == "www.apple.com" && (e.Status == 403 || e.Status == 502)
		})
	})
	t.Run("hand-made hello to a plain TCP service", func(t *testing.T) {
		m, lm := w.tcp.mark(), w.users.accessLog.mark(t)
		pc := dialConnect(t, w.users.addr, basicAuth("alice", alicePassword), "tcp.test:443")
		if pc.status != 200 {
			// Refusing it at once is as good as inspecting it.
			w.tcp.expectNoConnection(t, m)
			return
		}
		tc, br, err := pc.tlsOver(&tls.Config{ServerName: "www.apple.com", RootCAs: w.caRoot, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatalf("the TLS handshake failed (%v): the client reached the TCP service itself?", err)
		}
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
		statuses, bodies := readStatuses(tc, br, 2)
		if len(statuses) != 1 || statuses[0] != 502 && statuses[0] != 403 {
			t.Errorf("statuses %v %q, want a 502 (the service speaks no TLS) or a 403", statuses, bodies)
		}
		if strings.Contains(strings.Join(bodies, ""), "SSH-2.0") {
			t.Errorf("the service's banner reached the client: %q", bodies)
		}
		if raw := w.tcp.rawBytes(); strings.Contains(string(raw), "blocked.test") || strings.Contains(string(raw), "GET ") {
			t.Errorf("the client's request reached the TCP service: %q", raw)
		}
		w.users.accessLog.waitFor(t, lm, "the refusal on tcp.test", func(e logEntry) bool {
			return e.SNI == "www.apple.com" && (e.Status == 502 || e.Status == 403)
		})
	})
}

// Finding 2: CONNECT to an allowed name with a blocked SNI is refused
// before anything is dialed, and the log names the SNI.
func (w *walkWorld) blockedSNI(t *testing.T) {
	m, lm := w.h1.mark(), w.users.accessLog.mark(t)
	out, _ := opensslClient(t, w.dir, "GET / HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n",
		"-proxy", w.users.addr, "-proxy_user", "alice", "-proxy_pass", "pass:"+alicePassword,
		"-connect", "h1.test:443", "-servername", "blocked.test", "-CAfile", w.caRootFile, "-ign_eof")
	if !strings.Contains(out, "alert handshake failure") || strings.Contains(out, "HTTP/1.1") {
		t.Errorf("the handshake with SNI blocked.test was not refused with a handshake_failure alert:\n%s", out)
	}
	w.h1.expectNoConnection(t, m)
	e, _ := w.users.accessLog.waitFor(t, lm, "the refused SNI", func(e logEntry) bool {
		return e.SNI == "blocked.test" && e.Status == 403
	})
	if e.Decision != "block" || e.Rule != "blocked-hosts" {
		t.Errorf("the log line says %s, want a block by rule blocked-hosts", e)
	}
}

// Finding 3: inside an inspected tunnel (CONNECT and SNI allowed), a
// request whose Host (or :authority) names a blocked host is refused.
func (w *walkWorld) blockedHost(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		o         *recordingOrigin
		flags     []string
	}{
		{"curl HTTP/1.1", "https://h1.test/", w.h1, nil},
		{"curl --http2", "https://h2.test/", w.h2, []string{"--http2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, lm := tc.o.mark(), w.users.accessLog.mark(t)
			r := curlVia(t, w.dir, w.curlArgs(w.users, aliceAuth, append(tc.flags, "-H", "Host: blocked.test", tc.url)...)...)
			if r.status != 403 || !strings.Contains(r.body, blockedPage) {
				t.Errorf("Host: blocked.test: %v", r)
			}
			tc.o.expectNothing(t, m)
			w.users.accessLog.waitFor(t, lm, "the 403 for blocked.test", func(e logEntry) bool {
				return e.Status == 403 && e.Decision == "block" && strings.Contains(e.URL, "blocked.test")
			})
		})
	}
}

// Finding 4: every way of writing the blocked URL is refused, by the URL
// rule (403) or as a request the edge will not judge (400, 431), and
// nothing of it reaches the origin.
func (w *walkWorld) urlVariants(t *testing.T) {
	auth := basicAuth("alice", alicePassword)
	for _, tc := range []struct {
		name, req string
		want      []int // the statuses that are a right refusal
	}{
		{"Host with :443", "GET /admin HTTP/1.1\r\nHost: h1.test:443\r\n\r\n", []int{403}},
		{"absolute form", "GET https://h1.test/admin HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{403}},
		{"/ADMIN", "GET /ADMIN HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{403}},
		{"//admin", "GET //admin HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{403}},
		{"/./admin", "GET /./admin HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{403}},
		{"/%61dmin", "GET /%61dmin HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{403}},
		// A ".." that climbs is refused as unjudgeable (policy.ParseRequest).
		{"/x/../admin", "GET /x/../admin HTTP/1.1\r\nHost: h1.test\r\n\r\n", []int{400, 403}},
		{"head over 16 KiB", "GET /admin HTTP/1.1\r\nHost: h1.test\r\nX-Pad: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", []int{431, 400}},
		{"bare LF", "GET /admin HTTP/1.1\nHost: h1.test\n\n", []int{400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, lm := w.h1.mark(), w.users.accessLog.mark(t)
			c, br := w.inspected(t, w.users, auth, "h1.test")
			io.WriteString(c, tc.req)
			got, bodies := readStatuses(c, br, 2)
			if len(got) != 1 || !slices.Contains(tc.want, got[0]) {
				t.Errorf("statuses %v %q, want one of %v", got, bodies, tc.want)
			}
			w.h1.expectNothing(t, m)
			w.users.accessLog.waitFor(t, lm, fmt.Sprintf("the refusal (%v)", tc.want), func(e logEntry) bool {
				return slices.Contains(tc.want, e.Status)
			})
		})
	}
	for _, path := range []string{"/ADMIN", "/%61dmin", "//admin", "/./admin/x"} {
		t.Run("curl --path-as-is "+path, func(t *testing.T) {
			m, lm := w.h1.mark(), w.users.accessLog.mark(t)
			r := curlVia(t, w.dir, w.curlArgs(w.users, aliceAuth, "--path-as-is", "https://h1.test"+path)...)
			if r.status != 403 {
				t.Errorf("%s: %v", path, r)
			}
			w.h1.expectNothing(t, m)
			w.users.accessLog.waitFor(t, lm, "the 403", func(e logEntry) bool {
				return e.Status == 403 && e.Rule == "no-admin"
			})
		})
	}
}

// Finding 5: after a first request that used to leave the rest of the
// connection unparsed, a pipelined GET /admin/secret never reaches the
// origin. A first request that frames cleanly is served (and the second
// refused); one that cannot be framed is refused and ends the connection.
func (w *walkWorld) smuggling(t *testing.T) {
	const secret = "GET /admin/secret HTTP/1.1\r\nHost: h1.test\r\n\r\n"
	auth := basicAuth("alice", alicePassword)
	for _, tc := range []struct {
		name, first string
		want        [][]int // the right answers
		served      string  // what the origin may serve of the first
	}{
		{"chunked body", "POST /upload HTTP/1.1\r\nHost: h1.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
			[][]int{{200, 403}}, "POST /upload"},
		{"chunked body hiding a request", "POST /upload HTTP/1.1\r\nHost: h1.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[][]int{{200, 403}}, "POST /upload"},
		{"Upgrade header", "GET /chat HTTP/1.1\r\nHost: h1.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			[][]int{{200, 403}}, "GET /chat"},
		{"CL and TE", "POST /x HTTP/1.1\r\nHost: h1.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", [][]int{{400}}, ""},
		{"HTTP/1.2", "GET /x HTTP/1.2\r\nHost: h1.test\r\n\r\n", [][]int{{505}, {400}}, ""},
		{"obs-fold", "GET /x HTTP/1.1\r\nHost: h1.test\r\nX-Long: a\r\n b\r\n\r\n", [][]int{{400}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, lm := w.h1.mark(), w.users.accessLog.mark(t)
			c, br := w.inspected(t, w.users, auth, "h1.test")
			io.WriteString(c, tc.first+secret)
			got, bodies := readStatuses(c, br, 3)
			if !slices.ContainsFunc(tc.want, func(want []int) bool { return slices.Equal(got, want) }) {
				t.Errorf("statuses %v %q, want one of %v", got, bodies, tc.want)
			}
			seen := w.h1.requests(m.reqs)
			switch {
			case tc.served == "" && len(seen) > 0:
				t.Errorf("the refused request reached the origin: %v", seen)
			case tc.served != "" && (len(seen) != 1 || seen[0].Method+" "+seen[0].Target != tc.served):
				t.Errorf("the origin received %v, want only %s", seen, tc.served)
			}
			last := got
			if len(last) == 0 {
				last = tc.want[0]
			}
			w.users.accessLog.waitFor(t, lm, fmt.Sprintf("the refusal %d", last[len(last)-1]), func(e logEntry) bool {
				return e.Status == last[len(last)-1]
			})
		})
	}
}

// Finding 6: HTTP/2 is inspected stream by stream: a blocked stream gets
// a 403 on that stream and never reaches the origin, the others are
// served, and the log has one line per stream.
func (w *walkWorld) http2(t *testing.T) {
	t.Run("curl --http2, two streams on one connection", func(t *testing.T) {
		m, lm := w.h2.mark(), w.users.accessLog.mark(t)
		code, out, stderr := curl(t, w.dir, w.curlArgs(w.users, aliceAuth, "--http2",
			"-w", "%{http_version} %{http_code} %{num_connects}\n",
			"-o", "/dev/null", "https://h2.test/ok", "-o", "/dev/null", "https://h2.test/admin/x")...)
		if code != 0 || out != "2 200 1\n2 403 0\n" {
			t.Errorf("curl --http2: exit %d, %q (want h2 200 on a new connection, then h2 403 on it)\n%s", code, out, stderr)
		}
		seen := w.h2.requests(m.reqs)
		if len(seen) != 1 || seen[0].Target != "/ok" || seen[0].Proto != "HTTP/2.0" {
			t.Errorf("the origin received %v, want only GET /ok over HTTP/2", seen)
		}
		lines := w.users.accessLog.since(t, lm)
		for url, status := range map[string]int{"https://h2.test/ok": 200, "https://h2.test/admin/x": 403} {
			var of []logEntry
			for _, e := range lines {
				if e.URL == url {
					of = append(of, e)
				}
			}
			if len(of) != 1 || of[0].Status != status {
				t.Errorf("log lines for %s: %v, want one with status %d", url, of, status)
			}
		}
	})
	t.Run("Go HTTP/2 transport", func(t *testing.T) {
		m, lm := w.h2.mark(), w.users.accessLog.mark(t)
		client := w.goClient(t, w.users, true)
		for path, want := range map[string]int{"/go-ok": 200, "/admin/go": 403, "/ADMIN/go": 403, "/%61dmin": 403} {
			resp, err := client.Get("https://h2.test" + path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || resp.ProtoMajor != 2 {
				t.Errorf("%s: %s %d, want HTTP/2 %d", path, resp.Proto, resp.StatusCode, want)
			}
		}
		if seen := w.h2.requests(m.reqs); len(seen) != 1 || seen[0].Target != "/go-ok" {
			t.Errorf("the origin received %v, want only /go-ok", seen)
		}
		w.users.accessLog.waitFor(t, lm, "the 403 of /admin/go", func(e logEntry) bool {
			return e.Status == 403 && e.URL == "https://h2.test/admin/go"
		})
	})
	t.Run("Go HTTP/1.1 transport", func(t *testing.T) {
		m, lm := w.h1.mark(), w.users.accessLog.mark(t)
		client := w.goClient(t, w.users, false)
		for path, want := range map[string]int{"/go-ok": 200, "/admin/go": 403} {
			resp, err := client.Get("https://h1.test" + path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || resp.ProtoMajor != 1 {
				t.Errorf("%s: %s %d, want HTTP/1.1 %d", path, resp.Proto, resp.StatusCode, want)
			}
		}
		if seen := w.h1.requests(m.reqs); len(seen) != 1 || seen[0].Target != "/go-ok" {
			t.Errorf("the origin received %v, want only /go-ok", seen)
		}
		w.users.accessLog.waitFor(t, lm, "the 403 of /admin/go", func(e logEntry) bool {
			return e.Status == 403 && e.URL == "https://h1.test/admin/go"
		})
	})
}

// goClient is Go's HTTP client through edge as alice, over HTTP/2 when h2
// (ForceAttemptHTTP2: Go offers h2 in the tunnel), else HTTP/1.1 only.
func (w *walkWorld) goClient(t *testing.T, edge *edgeProc, h2 bool) *http.Client {
	proxyURL := &url.URL{Scheme: "http", Host: edge.addr, User: url.UserPassword("alice", alicePassword)}
	tr := &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: w.caRoot},
	}
	if h2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Finding 7: plain http:// requests are judged by URL rules, and one
// pipelined behind an allowed one is never forwarded unjudged.
func (w *walkWorld) plainHTTP(t *testing.T) {
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"http://plain.test/ok", 200},
		{"http://plain.test/admin", 403},
		{"http://plain.test/ADMIN/x", 403},
		{"http://plain.test/%61dmin", 403},
		{"http://blocked.test/", 403}, // blocked.test is mapped onto the plain origin
	} {
		t.Run("curl "+tc.url, func(t *testing.T) {
			m, lm := w.plain.mark(), w.users.accessLog.mark(t)
			r := curlVia(t, w.dir, w.curlArgs(w.users, aliceAuth, "--path-as-is", tc.url)...)
			if r.status != tc.status {
				t.Errorf("%v, want %d", r, tc.status)
			}
			seen := w.plain.requests(m.reqs)
			if tc.status == 200 && len(seen) != 1 {
				t.Errorf("the origin received %v, want the one request", seen)
			}
			if tc.status != 200 {
				w.plain.expectNothing(t, m)
			}
			// Every plain request is logged with its URL as sent, the one
			// its host rule refuses too.
			w.users.accessLog.waitFor(t, lm, fmt.Sprintf("the %d", tc.status), func(e logEntry) bool {
				return e.Status == tc.status && e.Method == "GET" && e.URL == tc.url
			})
		})
	}
	t.Run("pipelined", func(t *testing.T) {
		m, lm := w.plain.mark(), w.users.accessLog.mark(t)
		c, err := net.Dial("tcp", w.users.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		auth := "Proxy-Authorization: " + basicAuth("alice", alicePassword) + "\r\n"
		io.WriteString(c, "GET http://plain.test/ok2 HTTP/1.1\r\nHost: plain.test\r\n"+auth+"\r\n"+
			"GET http://plain.test/admin/secret HTTP/1.1\r\nHost: plain.test\r\n"+auth+"\r\n")
		got, bodies := readStatuses(c, bufio.NewReader(c), 3)
		if len(got) != 2 || got[0] != 200 || got[1] != 400 && got[1] != 403 {
			t.Errorf("statuses %v %q, want 200 then a refusal", got, bodies)
		}
		if seen := w.plain.requests(m.reqs); len(seen) != 1 || seen[0].Target != "/ok2" {
			t.Errorf("the origin received %v, want only /ok2", seen)
		}
		w.users.accessLog.waitFor(t, lm, "the pipelined refusal", func(e logEntry) bool {
			return e.Status == 400 || e.Status == 403
		})
	})
}

// Finding 8: an edge without users serves its loopback clients, and
// refuses internal destinations, unexpected ports and its own listeners
// before anything is dialed; /metrics is not served through it.
//
// Not covered: a client off loopback is refused by an edge without users
// unless serve_unauthenticated: any. Every address a test may listen on
// and dial from (127.0.0.0/8, ::1) is loopback, so that takes a network
// namespace; edgeconfig's ClientAllowed and TestAuthSummary cover it.
func (w *walkWorld) destinations(t *testing.T) {
	edge := w.open
	t.Run("loopback clients are served without credentials", func(t *testing.T) {
		m := w.h1.mark()
		if r := curlVia(t, w.dir, w.curlArgs(edge, "", "https://h1.test/ok")...); r.status != 200 || r.body != "hello from h1\n" {
			t.Errorf("%v", r)
		}
		if seen := w.h1.requests(m.reqs); len(seen) != 1 {
			t.Errorf("the origin received %v", seen)
		}
	})
	_, sink2Port, _ := net.SplitHostPort(w.sink2.addr)
	for _, target := range []string{
		edge.admin, // its own admin listener
		"127.0.0.1:" + port(t, w.caKeys),
		"127.0.0.1:" + port(t, w.caAdmin),
		"127.0.0.1:22",
		"169.254.169.254:80",
		"10.0.0.1:80",
		"[::1]:443",
		"127.0.0.2:" + sink2Port, // a listener that counts who dials it
		"admin.test:443",         // mapped onto its admin listener
		"proxy.test:443",         // mapped onto its proxy listener
		"cakeys.test:443",        // mapped onto the CA's key API
	} {
		t.Run("CONNECT "+target, func(t *testing.T) {
			m, lm := w.sink2.mark(), edge.accessLog.mark(t)
			pc := dialConnect(t, edge.addr, "", target)
			if pc.status != 403 {
				t.Errorf("CONNECT %s: %d %q, want 403", target, pc.status, pc.body)
			}
			w.sink2.expectNoConnection(t, m)
			e, _ := edge.accessLog.waitFor(t, lm, "the refused CONNECT", func(e logEntry) bool {
				return e.Status == 403 && e.Method == "CONNECT"
			})
			if !strings.HasPrefix(e.Rule, "refused:") {
				t.Errorf("the log's rule is %q, want refused:…", e.Rule)
			}
		})
	}
	t.Run("CONNECT localhost", func(t *testing.T) {
		// localhost resolves to loopback: refused like 127.0.0.1, and the
		// listener there is never dialed.
		m, lm := w.sink.mark(), edge.accessLog.mark(t)
		target := "localhost:" + port(t, w.sink.addr)
		pc := dialConnect(t, edge.addr, "", target)
		if pc.status != 403 {
			t.Errorf("CONNECT %s: %d, want 403 before the tunnel opens", target, pc.status)
			if pc.status == 200 {
				tc, br, err := pc.tlsOver(&tls.Config{ServerName: "localhost", RootCAs: w.caRoot})
				if err == nil {
					io.WriteString(tc, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
					got, bodies := readStatuses(tc, br, 1)
					t.Logf("inside the tunnel: %v %q", got, bodies)
				} else {
					t.Logf("inside the tunnel: TLS %v", err)
				}
			}
		}
		w.sink.expectNoConnection(t, m)
		edge.accessLog.waitFor(t, lm, "the refused localhost", func(e logEntry) bool { return e.Status == 403 })
	})
	for _, tc := range []struct{ name, url string }{
		{"metadata address", "http://169.254.169.254/latest/meta-data/"},
		{"its own /metrics", "http://" + edge.admin + "/metrics"},
		{"its own /metrics by a mapped name", "http://admin.test/metrics"},
		{"localhost", "http://localhost:" + port(t, w.sink.addr) + "/"},
	} {
		t.Run("plain "+tc.name, func(t *testing.T) {
			m, lm := w.sink.mark(), edge.accessLog.mark(t)
			r := curlVia(t, w.dir, w.curlArgs(edge, "", tc.url)...)
			if r.status != 403 || strings.Contains(r.body, "lucid_") {
				t.Errorf("%s: %v, want 403", tc.url, r)
			}
			w.sink.expectNoConnection(t, m)
			edge.accessLog.waitFor(t, lm, "the 403", func(e logEntry) bool { return e.Status == 403 })
		})
	}
}

// port is the port of a host:port.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Finding 8, passwords: a user whose password is stored as an Argon2id
// hash logs in; a client that fails too often is answered 429 and closed,
// its right password included, and the refusals are logged.
func (w *walkWorld) passwords(t *testing.T) {
	edge := w.users
	t.Run("argon2id password_hash", func(t *testing.T) {
		lm := edge.accessLog.mark(t)
		if r := curlVia(t, w.dir, w.curlArgs(edge, "bob:"+w.bobPassword, "https://h1.test/bob")...); r.status != 200 {
			t.Errorf("bob: %v", r)
		}
		if r := curlVia(t, w.dir, w.curlArgs(edge, "bob:wrong", "https://h1.test/bob")...); r.connect != 407 {
			t.Errorf("bob with a wrong password: %v, want 407", r)
		}
		edge.accessLog.waitFor(t, lm, "bob's request", func(e logEntry) bool {
			return e.User == "bob" && e.Status == 200 && e.URL == "https://h1.test/bob"
		})
	})
	t.Run("failed logins beyond the limit", func(t *testing.T) {
		// From an address of its own: the limit is per client address, and
		// the other subtests come from 127.0.0.1.
		from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}
		lm := edge.accessLog.mark(t)
		for i := range 3 { // auth_failures.limit
			pc := dialConnectFrom(t, from, edge.addr, basicAuth("alice", "guess"+strconv.Itoa(i)), "h1.test:443")
			if pc.status != 407 {
				t.Fatalf("failure %d: %d, want 407", i+1, pc.status)
			}
		}
		pc := dialConnectFrom(t, from, edge.addr, basicAuth("alice", alicePassword), "h1.test:443")
		if pc.status != 429 {
			t.Fatalf("after 3 failures: %d %q, want 429", pc.status, pc.body)
		}
		// 429 closes the connection: nothing more is read from it.
		if rest, err := tlstest.ReadToEnd(pc.Conn, 3*time.Second); len(rest) > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("after the 429 the connection was not closed: %q, %s", rest, tlstest.DescribeEnd(err))
		}
		// Another client is not held back.
		if r := curlVia(t, w.dir, w.curlArgs(edge, aliceAuth, "https://h1.test/still-ok")...); r.status != 200 {
			t.Errorf("alice from 127.0.0.1: %v", r)
		}
		edge.accessLog.waitFor(t, lm, "the 429", func(e logEntry) bool {
			return e.Status == 429 && strings.HasPrefix(e.Client, "127.0.0.9:")
		})
		edge.accessLog.waitFor(t, lm, "a 407 of a wrong password", func(e logEntry) bool {
			return e.Status == 407 && strings.HasPrefix(e.Client, "127.0.0.9:")
		})
	})
}

// Finding 9: an origin that only speaks TLS 1.0 (with a CBC-SHA1 suite)
// is refused with a 502 page that says why, and the log has the upstream
// TLS version; with an org rule that allows legacy TLS for it, it works.
func (w *walkWorld) tlsFloor(t *testing.T) {
	// A client that offers TLS 1.0 to 1.3 and the CBC suite, so the
	// mirrored hello offers what the origin needs.
	hello := func(edge *edgeProc) (*tls.Conn, []int, []string) {
		pc := dialConnect(t, edge.addr, basicAuth("alice", alicePassword), "legacy.test:443")
		if pc.status != 200 {
			t.Fatalf("CONNECT legacy.test:443: %d %q", pc.status, pc.body)
		}
		tc, br, err := pc.tlsOver(&tls.Config{ServerName: "legacy.test", RootCAs: w.caRoot, NextProtos: []string{"http/1.1"},
			MinVersion: tls.VersionTLS10,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}})
		if err != nil {
			t.Fatalf("TLS to the edge: %v", err)
		}
		io.WriteString(tc, "GET /legacy HTTP/1.1\r\nHost: legacy.test\r\n\r\n")
		got, bodies := readStatuses(tc, br, 1)
		return tc, got, bodies
	}
	t.Run("refused by default", func(t *testing.T) {
		m, lm := w.legacy.mark(), w.users.accessLog.mark(t)
		tc, got, bodies := hello(w.users)
		if v := tc.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("the client's side is %s, want TLS 1.3", tls.VersionName(v))
		}
		if len(got) != 1 || got[0] != 502 || !strings.Contains(bodies[0], "TLS 1.0") || !strings.Contains(bodies[0], "floor") {
			t.Errorf("statuses %v %q, want a 502 page that names TLS 1.0 and the floor", got, bodies)
		}
		w.legacy.expectNothing(t, m)
		e, _ := w.users.accessLog.waitFor(t, lm, "the 502", func(e logEntry) bool { return e.Status == 502 && e.SNI == "legacy.test" })
		if e.TLSUpstream.Version != "TLS1.0" || e.TLSClient.Version != "TLS1.3" {
			t.Errorf("the log line's TLS: client %+v, upstream %+v; want TLS1.3 and TLS1.0", e.TLSClient, e.TLSUpstream)
		}
	})
	t.Run("allowed by an org rule", func(t *testing.T) {
		edge := w.startEdge(t, "edge-legacy", `users: [{name: alice, password: `+alicePassword+`, org: acme}]
`, "false", "      - {name: legacy-ok, action: inspect, hosts: [legacy.test], upstream_tls: legacy}\n")
		m, lm := w.legacy.mark(), edge.accessLog.mark(t)
		_, got, bodies := hello(edge)
		if len(got) != 1 || got[0] != 200 || bodies[0] != "hello from legacy\n" {
			t.Errorf("statuses %v %q, want the origin's 200", got, bodies)
		}
		if seen := w.legacy.requests(m.reqs); len(seen) != 1 {
			t.Errorf("the origin received %v", seen)
		}
		e, _ := edge.accessLog.waitFor(t, lm, "the 200", func(e logEntry) bool { return e.Status == 200 })
		if e.TLSUpstream.Version != "TLS1.0" || e.TLSUpstream.Suite != "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" || e.Rule != "legacy-ok" {
			t.Errorf("the log line: %s, upstream %+v", e, e.TLSUpstream)
		}
	})
}

// Finding 10: the leaf minted for an allowed host names none of the
// blocked names the origin's certificate carries; the access log redacts
// query values unless the org opts in.
func (w *walkWorld) leafAndQuery(t *testing.T) {
	t.Run("leaf names", func(t *testing.T) {
		tc, _ := w.inspected(t, w.users, basicAuth("alice", alicePassword), "h1.test")
		leaf := tc.ConnectionState().PeerCertificates[0]
		if leaf.Issuer.String() == w.h1Cert.Issuer.String() {
			t.Fatalf("the client got the origin's certificate")
		}
		if !slices.Contains(leaf.DNSNames, "h1.test") {
			t.Errorf("the leaf names %v, not h1.test", leaf.DNSNames)
		}
		for _, name := range []string{"blocked.test", "*.wild.test", "www.apple.com"} {
			if !slices.Contains(w.h1Cert.DNSNames, name) {
				t.Fatalf("the origin's certificate lacks %s: the test is wrong", name)
			}
			if slices.Contains(leaf.DNSNames, name) {
				t.Errorf("the leaf names %s (blocked, covering a blocked name, or bypassed): %v", name, leaf.DNSNames)
			}
		}
	})
	t.Run("query values redacted", func(t *testing.T) {
		m, lm := w.h1.mark(), w.users.accessLog.mark(t)
		r := curlVia(t, w.dir, w.curlArgs(w.users, aliceAuth, "https://h1.test/q?password=hunter2&api_key=abc123")...)
		if r.status != 200 {
			t.Errorf("%v", r)
		}
		if seen := w.h1.requests(m.reqs); len(seen) != 1 || seen[0].Target != "/q?password=hunter2&api_key=abc123" {
			t.Errorf("the origin received %v", seen)
		}
		if r := curlVia(t, w.dir, w.curlArgs(w.users, aliceAuth, "https://h1.test/admin?token=s3cr3t")...); r.status != 403 {
			t.Errorf("%v", r)
		}
		w.users.accessLog.waitFor(t, lm, "the redacted query", func(e logEntry) bool {
			return e.URL == "https://h1.test/q?password=<redacted>&api_key=<redacted>"
		})
		w.users.accessLog.waitFor(t, lm, "the blocked request's redacted query", func(e logEntry) bool {
			return e.Status == 403 && e.URL == "https://h1.test/admin?token=<redacted>"
		})
		for _, v := range []string{"hunter2", "abc123", "s3cr3t", alicePassword, w.bobPassword} {
			if strings.Contains(w.users.accessLog.raw(), v) {
				t.Errorf("the access log holds %q", v)
			}
		}
	})
	t.Run("query values kept with log_query_values", func(t *testing.T) {
		lm := w.open.accessLog.mark(t)
		if r := curlVia(t, w.dir, w.curlArgs(w.open, "", "https://h1.test/q?lang=en&page=2")...); r.status != 200 {
			t.Errorf("%v", r)
		}
		w.open.accessLog.waitFor(t, lm, "the query as sent", func(e logEntry) bool {
			return e.URL == "https://h1.test/q?lang=en&page=2"
		})
	})
}
