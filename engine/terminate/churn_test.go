package terminate_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/engine/terminate"
	"github.com/lucid-edge/lucid/internal/clienthellos"
)

// TestChurn: 2000 connections from 32 workers mixing good clients, clients that
// abandon half a ClientHello (some with RST) and clients sending garbage.
func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("churn test skipped in -short mode")
	}
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 2 * time.Second})
	hello := clienthellos.Record("1-go126.bin")
	const total, workers = 2000, 32
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var next, good, goodOK, half, garbage atomic.Int64
	var errMu sync.Mutex
	var errs []string
	fail := func(format string, a ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, a...))
		}
	}
	goodClient := func(i int) {
		good.Add(1)
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: s.goConfig()}
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		defer ccancel()
		c, err := d.DialContext(cctx, "tcp", s.addr)
		if err != nil {
			fail("conn %d: good client handshake: %v", i, err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		br := bufio.NewReader(c)
		for j := 0; j < 2; j++ {
			req := iopReq
			if j == 1 {
				req = iopReqClose
			}
			if _, err := io.WriteString(c, req); err != nil {
				fail("conn %d: write: %v", i, err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				fail("conn %d: read response %d: %v", i, j, err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != iopBody {
				fail("conn %d: response %d: %d %q %v", i, j, resp.StatusCode, b, err)
				return
			}
		}
		goodOK.Add(1)
	}
	halfClient := func(i int) {
		half.Add(1)
		c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
		if err != nil {
			fail("conn %d: dial: %v", i, err)
			return
		}
		c.Write(hello[:len(hello)/2])
		if i%2 == 0 {
			c.(*net.TCPConn).SetLinger(0) // close with RST
		}
		c.Close()
	}
	garbageClient := func(i int) {
		garbage.Add(1)
		c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
		if err != nil {
			fail("conn %d: dial: %v", i, err)
			return
		}
		b := make([]byte, 1+i%700)
		rand.Read(b)
		c.Write(b)
		if i%3 == 0 {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			io.Copy(io.Discard, c) // wait for the server's alert / close
		}
		c.Close()
	}

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				switch i % 3 {
				case 0:
					goodClient(i)
				case 1:
					halfClient(i)
				default:
					garbageClient(i)
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Errorf("churn did not finish within 60s: %d/%d connections started", next.Load(), total)
	}
	t.Logf("good %d (ok %d), half-hello %d, garbage %d", good.Load(), goodOK.Load(), half.Load(), garbage.Load())
	for _, e := range errs {
		t.Error(e)
	}
	if goodOK.Load() != good.Load() {
		t.Errorf("%d of %d good clients failed", good.Load()-goodOK.Load(), good.Load())
	}
	iopCheckGood(t, s)
}

// TestUnreadResponsesAreBounded: a client that pipelines requests and never
// reads the answers is disconnected once its unsent output passes the
// bound, instead of growing the server's memory; other clients go on.
func TestUnreadResponsesAreBounded(t *testing.T) {
	srv := iopStart(t, terminate.Config{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	conn, err := tls.Dial("tcp", srv.addr, srv.goConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), 400)
	deadline := time.Now().Add(30 * time.Second)
	conn.SetWriteDeadline(deadline)
	var werr error
	for sent := 0; sent < 64<<20 && werr == nil; sent += len(req) {
		_, werr = conn.Write(req)
	}
	if werr == nil {
		t.Fatalf("server accepted 64 MiB of pipelined requests from a client that reads nothing (%v)", time.Since(deadline.Add(-30*time.Second)))
	}
	if time.Now().After(deadline) {
		t.Fatalf("writes stalled until the deadline instead of being cut off: %v", werr)
	}
	iopCheckGood(t, srv)
}
