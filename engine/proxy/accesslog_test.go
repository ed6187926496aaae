package proxy_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
)

// blockedSink is an access-log sink whose writes wait until it is
// released: a log destination that stopped.
type blockedSink struct {
	open chan struct{}
	once sync.Once
	mu   sync.Mutex
	b    bytes.Buffer
}

func newBlockedSink() *blockedSink { return &blockedSink{open: make(chan struct{})} }

func (s *blockedSink) Write(p []byte) (int, error) {
	<-s.open
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *blockedSink) release() { s.once.Do(func() { close(s.open) }) }

func (s *blockedSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWithBlockedLog starts an inspecting proxy on one loop whose access
// log has the smallest buffer and writes to a sink that waits.
func startWithBlockedLog(t *testing.T, w *world, mode accesslog.Overflow) *blockedSink {
	t.Helper()
	sink := newBlockedSink()
	cfg := w.pmProxyConfig("acme", func(host string) policy.Action {
		if strings.HasPrefix(host, "bypass.") {
			return policy.Bypass
		}
		return policy.Inspect
	})
	cfg.Loops = 1
	cfg.AccessLog = accesslog.New(sink)
	cfg.AccessLogBuffer = 1 // the smallest: two halves of accesslog.MaxLine
	cfg.AccessLogOverflow = mode
	w.pmStartProxyWith(t, cfg)
	t.Cleanup(sink.release) // before the proxy stops and the log closes
	return sink
}

// longPath is request i's path: long, so a few lines fill the buffer.
func longPath(i int) string { return fmt.Sprintf("/r%03d-%s", i, strings.Repeat("x", 4000)) }

// logged reports whether the log has path's line.
func logged(log, path string) bool { return strings.Contains(log, path[:6]+"x") }

// logFullClient is one way of sending requests through the proxy: the
// client, the URL a path is asked at, and whether the origin served it.
type logFullClient struct {
	c      *http.Client
	base   string
	served func(path string) bool
}

// recorded reports whether the world's origins served name+path.
func (w *world) recorded(name string) func(string) bool {
	return func(path string) bool {
		_, ok := w.requests.Load(name + path)
		return ok
	}
}

// logFullClients are the ways a request reaches the origin.
var logFullClients = []string{"inspected HTTP/1.1", "HTTP/2", "plain http"}

func newLogFullClient(t *testing.T, w *world, kind string) logFullClient {
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	switch kind {
	case "HTTP/2":
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: w.rootPool()}, ForceAttemptHTTP2: true}}
		t.Cleanup(c.CloseIdleConnections)
		return logFullClient{c, "https://h2.test", w.recorded("h2.test")}
	case "plain http":
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}}
		return logFullClient{c, "http://plain.test", w.recorded("plain.test")}
	}
	return logFullClient{w.client(), "https://origin.test", w.recorded("origin.test")}
}

// startLogFullOrigins starts an origin for each of logFullClients.
func startLogFullOrigins(t *testing.T, w *world) {
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.pmStartOrigin(t, "h2.test", pmOrigin{h2Only: true, handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Store("h2.test"+r.URL.Path, true)
		io.WriteString(rw, "h2 origin")
	})})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Store("plain.test"+r.URL.Path, true)
		io.WriteString(rw, "plain origin")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.origins["plain.test"] = ln.Addr().String()
}

// A log that cannot keep up, in Refuse mode: requests beyond what its
// buffer holds get 503 and never reach the origin; once the log catches
// up, requests are served again, and every request served is logged.
func TestAccessLogFullRefuses(t *testing.T) {
	for _, kind := range logFullClients {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t)
			startLogFullOrigins(t, w)
			sink := startWithBlockedLog(t, w, accesslog.Refuse)
			lc := newLogFullClient(t, w, kind)

			// Two halves of MaxLine hold at most eight lines of 4 KiB
			// while the sink waits: the writer holds one half, the
			// other fills.
			const n = 16
			var served, refused []string
			for i := range n {
				path := longPath(i)
				resp, _ := get(t, lc.c, lc.base+path)
				switch resp.StatusCode {
				case 200:
					served = append(served, path)
				case 503:
					refused = append(refused, path)
				default:
					t.Fatalf("request %d: %s", i, resp.Status)
				}
			}
			if len(served) == 0 || len(served) > 10 || refused[len(refused)-1] != longPath(n-1) {
				t.Fatalf("%d served, %d refused (the last refused: %v)", len(served), len(refused), len(refused) > 0 && refused[len(refused)-1] == longPath(n-1))
			}
			for _, p := range served {
				if !lc.served(p) {
					t.Fatalf("%.5s… was answered 200 but the origin never saw it", p)
				}
			}
			for _, p := range refused {
				if lc.served(p) {
					t.Fatalf("%.5s… was refused 503 but reached the origin", p)
				}
			}

			sink.release()
			deadline := time.Now().Add(10 * time.Second)
			for i := n; ; i++ {
				resp, _ := get(t, lc.c, lc.base+longPath(i))
				if resp.StatusCode == 200 {
					served = append(served, longPath(i))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %s 10s after the log's sink was released", resp.Status)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for !allLogged(w, sink, served) {
				if time.Now().After(deadline) {
					t.Fatalf("not every served request is in the access log:\n%.2000s", sink.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			log := sink.String()
			for _, p := range refused {
				if logged(log, p) {
					t.Fatalf("refused %.5s… has a line", p)
				}
			}
		})
	}
}

// allLogged flushes the log and reports whether each path has its line.
func allLogged(w *world, sink *blockedSink, paths []string) bool {
	w.al.Flush()
	log := sink.String()
	for _, p := range paths {
		if !logged(log, p) {
			return false
		}
	}
	return true
}

// In Drop mode a log that cannot keep up loses lines, counted, and every
// request is served.
func TestAccessLogFullDrops(t *testing.T) {
	w := newWorld(t)
	startLogFullOrigins(t, w)
	sink := startWithBlockedLog(t, w, accesslog.Drop)
	lc := newLogFullClient(t, w, "inspected HTTP/1.1")
	dropped := metrics.GetOrCreateCounter(`lucid_access_log_dropped_total{overflow="drop"}`)
	before := dropped.Get()
	const n = 16
	for i := range n {
		if resp, _ := get(t, lc.c, lc.base+longPath(i)); resp.StatusCode != 200 || !lc.served(longPath(i)) {
			t.Fatalf("request %d: %s, served %v", i, resp.Status, lc.served(longPath(i)))
		}
	}
	sink.release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.al.Flush()
		lost := int(dropped.Get() - before)
		written := strings.Count(sink.String(), "\n")
		if lost > 0 && written+lost == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines written and %d dropped for %d requests", written, lost, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A bypassed tunnel holds room for its line from its CONNECT until it
// ends: a CONNECT the log has no room for is answered 503 before any 200
// (and gets no line), and once a tunnel ends and its line is written,
// CONNECTs pass again.
func TestAccessLogFullRefusesConnect(t *testing.T) {
	w := newWorld(t)
	sink := startWithBlockedLog(t, w, accesslog.Refuse)
	var tunnels []net.Conn
	defer func() {
		for _, c := range tunnels {
			c.Close()
		}
	}()
	for len(tunnels) < 200 {
		c, resp := pmConnect(t, w.proxy.Addr(), "bypass.test:443", "")
		if resp.StatusCode == 503 {
			c.Close()
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %s", resp.Status)
		}
		tunnels = append(tunnels, c)
	}
	if len(tunnels) == 0 || len(tunnels) == 200 {
		t.Fatalf("%d tunnels opened before a 503", len(tunnels))
	}
	tunnels[0].Close()
	tunnels = tunnels[1:]
	sink.release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, resp := pmConnect(t, w.proxy.Addr(), "bypass.test:443", "")
		if resp.StatusCode == 200 {
			tunnels = append(tunnels, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("CONNECT still %s 10s after a tunnel ended", resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.al.Flush()
	if n := strings.Count(sink.String(), `"method":"CONNECT"`); n != 1 {
		t.Fatalf("%d CONNECT lines for the one tunnel that ended:\n%s", n, sink.String())
	}
}
