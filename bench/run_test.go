package bench

import (
	"context"
	"crypto/tls"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func runOK(t *testing.T, o Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v (result %+v)", err, res)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("errors %v: %v", res.Errors, res.ErrorSamples)
	}
	return res
}

func TestHandshakeFullCountsAndTimesEveryRequest(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca)
	me := os.Getpid()
	res := runOK(t, Options{
		Workload: "handshake", Target: origin.addr, CAFile: ca.pemFile,
		Concurrency: 4, Count: 200, Warmup: 50 * time.Millisecond,
		Watch: []int{me}, WatchNames: []string{"origin"},
	})
	if res.Requests != 200 {
		t.Fatalf("%d requests, want the 200 of Count", res.Requests)
	}
	// Warmup requests happen but are not counted.
	if n := origin.requests.Load(); n < 200 {
		t.Fatalf("the origin served %d requests, fewer than the %d counted", n, res.Requests)
	}
	if !(res.P50ms > 0 && res.P50ms <= res.P90ms && res.P90ms <= res.P99ms && res.P99ms <= res.MaxMs) {
		t.Fatalf("latencies out of order: p50 %v p90 %v p99 %v max %v", res.P50ms, res.P90ms, res.P99ms, res.MaxMs)
	}
	if res.RequestsPerSec <= 0 || res.Seconds <= 0 || res.LoadgenCPUmsPerReq <= 0 {
		t.Fatalf("rate %v/s over %vs, loadgen %v ms/req", res.RequestsPerSec, res.Seconds, res.LoadgenCPUmsPerReq)
	}
	if _, ok := res.ServerCPUmsPerReq["origin"]; !ok {
		t.Fatalf("no CPU figure under the watch name: %v", res.ServerCPUmsPerReq)
	}
	for _, cs := range origin.handshakes() {
		if cs.DidResume {
			t.Fatal("a handshake resumed although Resume is off")
		}
		if cs.CurveID != tls.X25519 {
			t.Fatalf("group %v, want the default X25519", cs.CurveID)
		}
	}
}

func TestHandshakeResumed(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca)
	res := runOK(t, Options{
		Workload: "handshake", Target: origin.addr, CAFile: ca.pemFile,
		Concurrency: 2, Count: 100, Resume: true,
	})
	if res.Resumed <= 0.9 {
		t.Fatalf("resumed ratio %v, want > 0.9 with a session cache per worker", res.Resumed)
	}
	resumed := 0
	for _, cs := range origin.handshakes() {
		if cs.DidResume {
			resumed++
		}
	}
	if resumed < 90 {
		t.Fatalf("the server resumed %d handshakes, want most of 100", resumed)
	}
}

func TestHandshakeGroupAndSuite(t *testing.T) {
	ca := newTestCA(t)
	cases := []struct {
		group, suite string
		curve        tls.CurveID
		cipher       uint16
	}{
		{"x25519mlkem768", "", tls.X25519MLKEM768, 0},
		{"p256", "", tls.CurveP256, 0},
		{"x25519", "chacha20", tls.X25519, tls.TLS_CHACHA20_POLY1305_SHA256},
		{"x25519mlkem768", "aes256gcm", tls.X25519MLKEM768, tls.TLS_AES_256_GCM_SHA384},
	}
	for _, c := range cases {
		t.Run(c.group+"/"+c.suite, func(t *testing.T) {
			origin := startTLSOrigin(t, ca)
			runOK(t, Options{
				Workload: "handshake", Target: origin.addr, CAFile: ca.pemFile,
				Count: 20, Group: c.group, Suite: c.suite, Resume: c.suite != "",
			})
			hs := origin.handshakes()
			if len(hs) < 20 {
				t.Fatalf("%d handshakes", len(hs))
			}
			for _, cs := range hs {
				if !cs.DidResume && cs.CurveID != c.curve {
					t.Fatalf("group %v, want %v", cs.CurveID, c.curve)
				}
				if c.cipher != 0 && cs.CipherSuite != c.cipher {
					t.Fatalf("suite %s, want %s", tls.CipherSuiteName(cs.CipherSuite), tls.CipherSuiteName(c.cipher))
				}
			}
		})
	}
}

func TestWrongCAFailsAsTLSErrors(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	origin := startTLSOrigin(t, ca)
	res, err := Run(context.Background(), Options{
		Workload: "handshake", Target: origin.addr, CAFile: other.pemFile,
		Concurrency: 2, Count: 50,
	})
	if err == nil || !strings.Contains(err.Error(), "every request failed") {
		t.Fatalf("Run with the wrong CA: err %v", err)
	}
	if res.Requests != 0 || res.Errors["tls"] != 50 {
		t.Fatalf("%d requests, errors %v; want 0 and 50 tls (every one, not only the first: the cache keeps failures)", res.Requests, res.Errors)
	}
	if !strings.Contains(res.ErrorSamples["tls"], "unknown authority") {
		t.Fatalf("tls error sample %q does not say why", res.ErrorSamples["tls"])
	}
	// The right CA but a name the certificate does not cover.
	res, err = Run(context.Background(), Options{
		Workload: "handshake", Target: origin.addr, ServerName: "not.covered.example", CAFile: ca.pemFile, Count: 10,
	})
	if err == nil || res.Errors["tls"] != 10 {
		t.Fatalf("wrong name: err %v, errors %v; want 10 tls errors", err, res.Errors)
	}
}

func TestServerClosingMidResponseIsAnHTTPError(t *testing.T) {
	ca := newTestCA(t)
	addr := startCuttingServer(t, ca)
	for _, workload := range []string{"handshake", "keepalive"} {
		res, err := Run(context.Background(), Options{Workload: workload, Target: addr, CAFile: ca.pemFile, Count: 20})
		if err == nil || res.Errors["http"] != 20 {
			t.Fatalf("%s: err %v, errors %v; want every request counted as http", workload, err, res.Errors)
		}
	}
}

func TestInspectCyclesNamesThroughTheProxy(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca)
	proxy := startConnectProxy(t, origin.addr)
	res := runOK(t, Options{
		Workload: "inspect", Proxy: proxy.addr, Target: "o%d.bench.test:443", Names: 5,
		CAFile: ca.pemFile, Concurrency: 3, Count: 60,
	})
	if res.Requests != 60 || proxy.tunnels.Load() != 60 {
		t.Fatalf("%d requests, %d tunnels; want 60 of each (one connection per request)", res.Requests, proxy.tunnels.Load())
	}
	if got := proxy.distinctTargets(); len(got) != 5 {
		t.Fatalf("CONNECT targets %v, want o1..o5.bench.test:443", got)
	}
	snis := map[string]bool{}
	for _, cs := range origin.handshakes() {
		snis[cs.ServerName] = true
	}
	if !snis["o1.bench.test"] || !snis["o5.bench.test"] || len(snis) != 5 {
		t.Fatalf("SNIs %v, want o1..o5.bench.test", snis)
	}
}

func TestKeepaliveReusesConnections(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca)
	proxy := startConnectProxy(t, origin.addr)
	res := runOK(t, Options{
		Workload: "keepalive", Proxy: proxy.addr, Target: "localhost:443",
		CAFile: ca.pemFile, Concurrency: 2, Count: 400,
	})
	if res.Requests != 400 {
		t.Fatalf("%d requests, want 400", res.Requests)
	}
	if n := proxy.tunnels.Load(); n > 4 {
		t.Fatalf("%d tunnels for 2 workers: connections are not kept alive", n)
	}
	// Direct, bounded by time.
	res = runOK(t, Options{Workload: "keepalive", Target: origin.addr, CAFile: ca.pemFile, Duration: 300 * time.Millisecond})
	if res.Seconds < 0.29 || res.Seconds > 0.5 || res.Requests == 0 {
		t.Fatalf("%d requests in %vs, want some in about 0.3s", res.Requests, res.Seconds)
	}
}

func TestIdleHoldsConnectionsAndReportsMemory(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca)
	proxy := startConnectProxy(t, origin.addr)
	res := runOK(t, Options{
		Workload: "idle", Proxy: proxy.addr, Target: "localhost:443", CAFile: ca.pemFile,
		IdleConns: 60, Concurrency: 4, Duration: 300 * time.Millisecond, Watch: []int{os.Getpid()},
	})
	if res.Requests != 60 {
		t.Fatalf("%d connections set up, want 60", res.Requests)
	}
	if m := proxy.maxOpen.Load(); m < 60 {
		t.Fatalf("the proxy held at most %d tunnels at once, want all 60", m)
	}
	if _, ok := res.IdleBytesPerConn["pid:"+strconv.Itoa(os.Getpid())]; !ok {
		t.Fatalf("no idle memory figure: %v", res.IdleBytesPerConn)
	}
	if n := proxy.open.Load(); n != 0 {
		// Give the proxy a moment to see the closes.
		time.Sleep(200 * time.Millisecond)
		if n = proxy.open.Load(); n != 0 {
			t.Fatalf("%d tunnels still open after the run", n)
		}
	}
}

func TestOptionsAreChecked(t *testing.T) {
	ca := newTestCA(t)
	cases := map[string]Options{
		"unbounded":        {Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile},
		"no CA":            {Workload: "handshake", Target: "127.0.0.1:1", Count: 1},
		"inspect direct":   {Workload: "inspect", Target: "a:443", CAFile: ca.pemFile, Count: 1},
		"names, no %d":     {Workload: "inspect", Proxy: "127.0.0.1:1", Target: "a:443", Names: 3, CAFile: ca.pemFile, Count: 1},
		"too many idle":    {Workload: "idle", Proxy: "127.0.0.1:1", Target: "a:443", IdleConns: MaxIdleConns + 1, CAFile: ca.pemFile},
		"over the limit":   {Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile, Duration: 2 * MaxDuration},
		"unknown group":    {Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Group: "x448"},
		"dead watch pid":   {Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Watch: []int{1 << 30}},
		"watch name list":  {Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Watch: []int{1}, WatchNames: []string{"a", "b"}},
		"streams, not h2":  {Workload: "keepalive", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Streams: 4},
		"too many streams": {Workload: "h2", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Streams: MaxStreams + 1},
		"depth, not pipe":  {Workload: "h2", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Depth: 4},
		"negative depth":   {Workload: "pipeline", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 1, Depth: -1},
	}
	for name, o := range cases {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDialErrorsAreCounted(t *testing.T) {
	ca := newTestCA(t)
	res, err := Run(context.Background(), Options{Workload: "handshake", Target: "127.0.0.1:1", CAFile: ca.pemFile, Count: 5})
	if err == nil || res.Errors["dial"] != 5 {
		t.Fatalf("err %v errors %v, want 5 dial errors", err, res.Errors)
	}
}
