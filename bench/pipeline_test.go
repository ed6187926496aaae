package bench

import (
	"bufio"
	"crypto/tls"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// batchServer reads depth whole request heads before it answers any,
// then answers them in one write: a client that waited for the first
// response before sending the second would get nothing, and time out.
// With closeAfterFirst, the first answer of each connection says
// "Connection: close" and the connection ends there.
type batchServer struct {
	addr    string
	batches atomic.Int64 // complete batches read
}

func startBatchServer(t *testing.T, ca *testCA, depth int, closeAfterFirst bool) *batchServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &batchServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// Only as long as a pipelining client needs to send a batch.
					_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
					for range depth {
						if !readRequestHead(br) {
							return
						}
					}
					s.batches.Add(1)
					if closeAfterFirst {
						c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
						return
					}
					c.Write([]byte(strings.Repeat("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", depth)))
				}
			}()
		}
	}()
	return s
}

// readRequestHead reads lines up to the empty one; false at the end of
// the connection.
func readRequestHead(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

func TestPipelineWritesTheBatchBeforeReading(t *testing.T) {
	ca := newTestCA(t)
	srv := startBatchServer(t, ca, 4, false)
	res := runOK(t, Options{Workload: "pipeline", Target: srv.addr, CAFile: ca.pemFile, Depth: 4, Count: 40, Timeout: 3 * time.Second})
	if res.Requests != 40 || res.Depth != 4 {
		t.Fatalf("%d requests at depth %d, want 40 at 4", res.Requests, res.Depth)
	}
	if n := srv.batches.Load(); n != 10 {
		t.Fatalf("the server read %d batches of 4, want 10", n)
	}
}

func TestPipelineCountsUnansweredRequests(t *testing.T) {
	ca := newTestCA(t)
	srv := startBatchServer(t, ca, 4, true)
	res, err := Run(t.Context(), Options{Workload: "pipeline", Target: srv.addr, CAFile: ca.pemFile, Depth: 4, Count: 8, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Two connections: on each, one answer and three requests left over.
	if res.Requests != 2 || res.Errors["http"] != 6 || srv.batches.Load() != 2 {
		t.Fatalf("%d requests, errors %v, %d batches; want 2, 6 http, 2", res.Requests, res.Errors, srv.batches.Load())
	}
	if !strings.Contains(res.ErrorSamples["http"], "unanswered") {
		t.Fatalf("sample %q does not say the requests went unanswered", res.ErrorSamples["http"])
	}
}

func TestPipelineThroughAProxy(t *testing.T) {
	ca := newTestCA(t)
	origin := startTLSOrigin(t, ca) // net/http answers pipelined requests in turn
	proxy := startConnectProxy(t, origin.addr)
	res := runOK(t, Options{Workload: "pipeline", Proxy: proxy.addr, Target: "o1.bench.test:443", CAFile: ca.pemFile,
		Concurrency: 2, Depth: 8, Count: 160})
	if res.Requests != 160 || proxy.tunnels.Load() != 2 || origin.requests.Load() < 160 {
		t.Fatalf("%d requests over %d tunnels, origin saw %d; want 160 over 2", res.Requests, proxy.tunnels.Load(), origin.requests.Load())
	}
}
