package bench

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// h2Origin is an HTTPS server that speaks HTTP/2 (and HTTP/1.1) and
// records how it was used: connections, requests by protocol, and the
// most requests it had in flight at once.
type h2Origin struct {
	addr                 string
	conns, h2Reqs, other atomic.Int64
	inflight, maxInfl    atomic.Int64
}

// startH2Origin serves "/" with a small body after a short pause (so
// that concurrent streams overlap), "/reset" by resetting the stream and
// "/busy" with a 503. maxStreams, if not 0, is its
// SETTINGS_MAX_CONCURRENT_STREAMS.
func startH2Origin(t *testing.T, ca *testCA, maxStreams int) *h2Origin {
	t.Helper()
	o := &h2Origin{}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t)}, NextProtos: []string{"h2", "http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 {
				o.h2Reqs.Add(1)
			} else {
				o.other.Add(1)
			}
			n := o.inflight.Add(1)
			defer o.inflight.Add(-1)
			for m := o.maxInfl.Load(); n > m && !o.maxInfl.CompareAndSwap(m, n); m = o.maxInfl.Load() {
			}
			switch r.URL.Path {
			case "/reset":
				panic(http.ErrAbortHandler) // the h2 server resets the stream
			case "/busy":
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			time.Sleep(time.Millisecond)
			io.WriteString(w, "hello over h2\n")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				o.conns.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	if maxStreams > 0 {
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.addr = ln.Addr().String()
	return o
}

func TestH2MultiplexesStreamsOnFewConnections(t *testing.T) {
	ca := newTestCA(t)
	origin := startH2Origin(t, ca, 0)
	res := runOK(t, Options{Workload: "h2", Target: origin.addr, CAFile: ca.pemFile, Concurrency: 2, Streams: 8, Count: 400})
	if res.Requests != 400 || res.Streams != 8 {
		t.Fatalf("%d requests at %d streams, want 400 at 8", res.Requests, res.Streams)
	}
	if got := origin.h2Reqs.Load(); got < 400 || origin.other.Load() != 0 {
		t.Fatalf("the origin saw %d HTTP/2 and %d other requests, want every one over HTTP/2", got, origin.other.Load())
	}
	if n := origin.conns.Load(); n != 2 || res.Protocols["h2"] != 2 || res.Fallback() {
		t.Fatalf("%d connections, protocols %v; want the 2 of Concurrency, both h2", n, res.Protocols)
	}
	// One stream per connection would never put more than 2 in flight.
	if m := origin.maxInfl.Load(); m <= 2 {
		t.Fatalf("at most %d requests in flight on 2 connections of 8 streams: streams are not concurrent", m)
	}
}

func TestH2KeepsToTheServersStreamLimit(t *testing.T) {
	ca := newTestCA(t)
	origin := startH2Origin(t, ca, 3)
	// A client that opened more than 3 streams would have the excess
	// refused or reset by net/http's server, and runOK fail on errors.
	runOK(t, Options{Workload: "h2", Target: origin.addr, CAFile: ca.pemFile, Streams: 16, Count: 200})
	if m := origin.maxInfl.Load(); m > 3 {
		t.Fatalf("%d requests in flight on one connection, over the server's limit of 3", m)
	}
}

func TestH2ThroughAProxy(t *testing.T) {
	ca := newTestCA(t)
	origin := startH2Origin(t, ca, 0)
	proxy := startConnectProxy(t, origin.addr)
	res := runOK(t, Options{Workload: "h2", Proxy: proxy.addr, Target: "o1.bench.test:443", CAFile: ca.pemFile,
		Concurrency: 3, Streams: 4, Count: 300})
	if res.Requests != 300 || proxy.tunnels.Load() != 3 || origin.h2Reqs.Load() < 300 {
		t.Fatalf("%d requests over %d tunnels, origin saw %d over h2; want 300 over 3",
			res.Requests, proxy.tunnels.Load(), origin.h2Reqs.Load())
	}
}

func TestH2FallsBackToHTTP1AndSaysSo(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca) // no ALPN: HTTP/1.1 only
	res := runOK(t, Options{Workload: "h2", Target: origin.addr, CAFile: ca.pemFile, Concurrency: 2, Count: 100})
	if res.Requests != 100 || origin.requests.Load() < 100 {
		t.Fatalf("%d requests, origin saw %d", res.Requests, origin.requests.Load())
	}
	if !res.Fallback() || res.Protocols["http/1.1"] == 0 || res.Protocols["h2"] != 0 {
		t.Fatalf("protocols %v: want the HTTP/1.1 fallback counted, and no h2", res.Protocols)
	}
}

func TestH2ResetsAndStatusesAreErrors(t *testing.T) {
	ca := newTestCA(t)
	origin := startH2Origin(t, ca, 0)
	cases := []struct{ path, kind, says string }{
		{"/reset", "http", "reset the stream"},
		{"/busy", "status", "status 503"},
	}
	for _, c := range cases {
		res, err := runH2Failing(origin.addr, ca.pemFile, c.path)
		if err == nil || res.Errors[c.kind] != 40 || res.Requests != 0 {
			t.Fatalf("%s: err %v, errors %v, %d requests; want 40 %s errors", c.path, err, res.Errors, res.Requests, c.kind)
		}
		if !strings.Contains(res.ErrorSamples[c.kind], c.says) {
			t.Fatalf("%s: sample %q does not say %q", c.path, res.ErrorSamples[c.kind], c.says)
		}
	}
}

func runH2Failing(addr, caFile, path string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Run(ctx, Options{Workload: "h2", Target: addr, CAFile: caFile, Streams: 4, Count: 40, Path: path})
}
