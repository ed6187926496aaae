// Package terminate is `edge terminate`: Lucid's own TLS 1.3 server on the
// engine's loops, answering every HTTP/1.x request with a short 200. It is
// the handshake-throughput target for benchmarks and conformance suites
// (DESIGN.md, contracts).
package terminate

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/internal/selfsigned"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// Config configures a TLS-terminating test responder.
type Config struct {
	// Addr is the TCP address to listen on; port 0 picks a free port.
	Addr string
	// Certificate is served to every client; nil makes a self-signed
	// ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1.
	Certificate *tlsmitm.Certificate
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int
	// Logger receives one line per refused connection; nil discards.
	Logger *slog.Logger
	// HandshakeTimeout bounds accept-to-Finished; IdleTimeout bounds a
	// connection that sends nothing. Zero means 10 s and 60 s.
	HandshakeTimeout, IdleTimeout time.Duration
	// NoTickets turns off session resumption (RFC 8446 §4.6.1 tickets,
	// sealed under keys all loops share, rotated hourly).
	NoTickets bool
	// KeyMemory is the size of each loop's zeroing slab, which holds every
	// connection's secrets (about 1 KiB each) and the loop's output
	// buffer. When it is full, new handshakes are refused. Zero means 8 MiB.
	KeyMemory int
}

// Server is a running `edge terminate`. Its methods are safe for
// concurrent use.
type Server struct {
	cert    *tlsmitm.Certificate
	handler *handler
	run     *engine.Runner
}

// Start starts serving and returns once the listener accepts.
func Start(cfg Config) (*Server, error) {
	if cfg.Certificate == nil {
		der, key, err := selfsigned.ECDSA(selfsigned.Hosts)
		if err != nil {
			return nil, fmt.Errorf("terminate: making a self-signed certificate: %w", err)
		}
		cfg.Certificate = &tlsmitm.Certificate{Chain: [][]byte{der}, PrivateKey: key}
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.KeyMemory <= 0 {
		cfg.KeyMemory = secmem.DefaultSize
	}
	cert := cfg.Certificate
	h := &handler{cfg: cfg, run: engine.NewRunner(), loops: &engine.Loops{}}
	base := &tlsmitm.Config{
		GetCertificate: func(*tlsmitm.ClientHello) (*tlsmitm.Certificate, error) { return cert, nil },
		NextProtos:     []string{"http/1.1", "http/1.0"},
		LegacyHandoff:  true, // TLS 1.2 clients go to crypto/tls (legacy.go)
	}
	err := engine.Serve(h, h.run, h.loops, engine.ServeConfig{
		Addr: cfg.Addr, Loops: cfg.Loops, TLS: base, NoTickets: cfg.NoTickets,
		KeyMemory: cfg.KeyMemory, Logger: cfg.Logger,
	}, nil)
	if err != nil {
		return nil, err
	}
	return &Server{cert: cert, handler: h, run: h.run}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.run.Addr() }

// Certificate is the certificate the server presents.
func (s *Server) Certificate() *tlsmitm.Certificate { return s.cert }

// Stop closes the listener and every connection, and waits for the loops
// to end.
func (s *Server) Stop(ctx context.Context) error { return s.run.Stop(ctx) }

// Wait blocks until the server stops and returns why.
func (s *Server) Wait() error { return s.run.Wait() }

// conn is one client connection. It is touched only on its loop.
type conn struct {
	engine.Conn
	tls    *tlsmitm.Conn
	resp   responder
	legacy *engine.LegacyConn // set once handed off to crypto/tls (legacy.go)
}

type handler struct {
	gnet.BuiltinEventEngine
	cfg   Config
	loops *engine.Loops
	run   *engine.Runner
	// The TLS 1.2 hand-off's crypto/tls config (legacy.go).
	legacyOnce sync.Once
	legacyCfg  *tls.Config
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.run.Boot(eng)
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ls := h.loops.Get(c.EventLoop())
	if ls == nil {
		h.cfg.Logger.Error("connection on an event loop the engine did not prepare; closing it")
		return nil, gnet.Close
	}
	cs := &conn{tls: tlsmitm.NewServer(ls.TLS)}
	cs.Gnet, cs.Loop = c, ls
	cs.Deadline = time.Now().Add(h.cfg.HandshakeTimeout)
	ls.Conns.Add(&cs.Conn)
	c.SetContext(cs)
	engine.ConnsAccepted.Inc()
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	if cs, ok := c.Context().(*conn); ok {
		cs.Loop.Conns.Remove(&cs.Conn)
		cs.tls.Release()
		if cs.legacy != nil {
			cs.legacy.Shut() // the crypto/tls goroutine ends
		}
		c.SetContext(nil)
		engine.ConnsClosed.Inc()
	}
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cs := c.Context().(*conn)
	in, _ := c.Peek(-1)
	if cs.Draining {
		engine.Discard(c, len(in))
		cs.ShutWriteWhenFlushed()
		return gnet.None
	}
	if cs.legacy != nil {
		return h.legacyTraffic(c, cs)
	}
	if c.OutboundBuffered() > engine.MaxPendingOutput {
		h.cfg.Logger.Info("client does not read its responses; closing", "remote", c.RemoteAddr().String())
		engine.ConnsOverflowed.Inc()
		cs.Draining = true // the close below is asynchronous; drop input until then
		_ = c.Close()
		return gnet.None
	}
	out := cs.Loop.Out()
	consumed := 0
	finish := false
	for !finish {
		out = cs.Spill(out)
		res, err := cs.tls.Process(in[consumed:], out)
		consumed += res.Consumed
		out = res.Out
		if err != nil {
			h.logFailure(c, err)
			finish = true
			break
		}
		switch res.Event {
		case tlsmitm.EventNeedMore, tlsmitm.EventPending:
			// Records were decrypted in place: wipe the plaintext before
			// the bytes go back to gnet.
			engine.Consume(c, in, consumed)
			cs.Flush(out)
			return gnet.None
		case tlsmitm.EventLegacy:
			// Nothing was consumed: crypto/tls gets the hello too.
			cs.Flush(out)
			h.startLegacy(c, cs)
			return h.legacyTraffic(c, cs)
		case tlsmitm.EventHandshakeDone:
			engine.HandshakesDone.Inc()
			if cs.tls.State().DidResume {
				engine.ClientResumptions.Inc()
			}
			cs.Deadline = time.Now().Add(h.cfg.IdleTimeout)
		case tlsmitm.EventData:
			cs.Deadline = time.Now().Add(h.cfg.IdleTimeout)
			out, finish = cs.resp.feed(res.Data, cs.tls, out, &cs.Conn)
			if finish {
				out = cs.tls.CloseNotify(out)
			}
		case tlsmitm.EventClosed:
			out = cs.tls.CloseNotify(out)
			finish = true
		}
	}
	// The connection ends: whatever is left of the input is dropped, our
	// last records go out, and the write side is shut so the client reads
	// them followed by a clean end of stream.
	clear(in[:consumed])
	engine.Discard(c, len(in))
	cs.Drain()
	cs.FlushBeforeFIN(out)
	cs.CloseWrite()
	return gnet.None
}

func (h *handler) logFailure(c gnet.Conn, err error) {
	engine.CountTLSFailure(err)
	h.cfg.Logger.Info("tls connection refused", "remote", c.RemoteAddr().String(), "err", err.Error())
}

// OnTick sweeps every loop for connections past their deadline.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.loops.Sweep(func(ls *engine.Loop, now time.Time) {
		ls.Conns.Each(func(c *engine.Conn) { c.Expire(now) })
	})
	return 250 * time.Millisecond, gnet.None
}
