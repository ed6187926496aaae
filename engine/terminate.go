// Package engine runs Lucid's connections on gnet event loops: one loop per
// core, each connection on one loop for life, its TLS state driven by
// tlsmitm's sans-IO server without a goroutine of its own.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/internal/selfsigned"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// TerminateConfig configures a TLS-terminating test responder.
type TerminateConfig struct {
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

// drainTimeout is how long a connection we are closing may go on sending
// before it is cut off. Reading it out, rather than closing at once, keeps
// the kernel from answering with a reset that would destroy our final alert
// before the client reads it.
const drainTimeout = 2 * time.Second

// maxPendingOutput bounds what a connection may leave unsent. A client that
// pipelines requests but never reads the answers is cut off here rather
// than growing the loop's memory without end.
const maxPendingOutput = 1 << 20

// TerminateServer is a running `edge terminate`. Its methods are safe for
// concurrent use.
type TerminateServer struct {
	cert    *tlsmitm.Certificate
	handler *terminateHandler
	run     *runner
}

// StartTerminate starts serving and returns once the listener accepts.
func StartTerminate(cfg TerminateConfig) (*TerminateServer, error) {
	if cfg.Certificate == nil {
		der, key, err := selfsigned.ECDSA(selfsigned.Hosts)
		if err != nil {
			return nil, fmt.Errorf("engine: making a self-signed certificate: %w", err)
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
	addr, reusePort, err := resolveListenAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	cert := cfg.Certificate
	if cfg.KeyMemory <= 0 {
		cfg.KeyMemory = secmem.DefaultSize
	}
	h := &terminateHandler{cfg: cfg, run: newRunner()}
	base := &tlsmitm.Config{
		GetCertificate: func(*tlsmitm.ClientHello) (*tlsmitm.Certificate, error) { return cert, nil },
		NextProtos:     []string{"http/1.1", "http/1.0"},
		LegacyHandoff:  true, // TLS 1.2 clients go to crypto/tls (legacy.go)
	}
	if err := startLoops(h, h.run, &h.loops, base, cfg.NoTickets, addr, cfg.Loops, reusePort, cfg.KeyMemory, cfg.Logger); err != nil {
		return nil, err
	}
	return &TerminateServer{cert: cert, handler: h, run: h.run}, nil
}

// resolveListenAddr turns port 0 into a concrete free port: with
// SO_REUSEPORT every loop binds its own listener, and each would otherwise
// get a different port.
func resolveListenAddr(addr string) (string, bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("engine: listen address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, true, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", false, fmt.Errorf("engine: listen address %q: %w", addr, err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return net.JoinHostPort(host, strconv.Itoa(p)), true, nil
}

// Addr is the address the server listens on.
func (s *TerminateServer) Addr() string { return s.run.addr }

// Certificate is the certificate the server presents.
func (s *TerminateServer) Certificate() *tlsmitm.Certificate { return s.cert }

// Stop closes the listener and every connection, and waits for the loops
// to end.
func (s *TerminateServer) Stop(ctx context.Context) error { return s.run.stop(ctx) }

// Wait blocks until the server stops and returns why.
func (s *TerminateServer) Wait() error { return s.run.wait() }

// connState is one client connection. It is touched only on its loop.
type connState struct {
	prev, next *connState
	gc         gnet.Conn
	loop       *loopState
	tls        *tlsmitm.Conn
	deadline   time.Time
	draining   bool // our side is done: read and drop until the peer closes
	shutWrPend bool // shut down writing once the output has drained
	resp       responder
	px         *proxyConn  // set for the proxy's connections
	legacy     *legacyConn // set once handed off to crypto/tls (legacy.go)
}

type terminateHandler struct {
	gnet.BuiltinEventEngine
	cfg   TerminateConfig
	loops loops
	run   *runner
	// The TLS 1.2 hand-off's crypto/tls config (legacy.go).
	legacyOnce sync.Once
	legacyCfg  *tls.Config
}

func (h *terminateHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.run.boot(eng)
	return gnet.None
}

// boundAddr reads the address the engine's listener is bound to.
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", fmt.Errorf("engine: reading the listener address: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("engine: reading the listener address: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", errors.New("engine: listener is not TCP")
}

func (h *terminateHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ls := h.loops.get(c.EventLoop())
	if ls == nil {
		h.cfg.Logger.Error("connection on an event loop the engine did not prepare; closing it")
		return nil, gnet.Close
	}
	cs := &connState{gc: c, loop: ls, tls: tlsmitm.NewServer(ls.tls)}
	cs.deadline = time.Now().Add(h.cfg.HandshakeTimeout)
	ls.conns.add(cs)
	c.SetContext(cs)
	connsAccepted.Inc()
	return nil, gnet.None
}

func (h *terminateHandler) OnClose(c gnet.Conn, _ error) gnet.Action {
	if cs, ok := c.Context().(*connState); ok {
		cs.loop.conns.remove(cs)
		cs.tls.Release()
		if cs.legacy != nil {
			cs.legacy.shut() // the crypto/tls goroutine ends
		}
		c.SetContext(nil)
		connsClosed.Inc()
	}
	return gnet.None
}

func (h *terminateHandler) OnTraffic(c gnet.Conn) gnet.Action {
	cs := c.Context().(*connState)
	in, _ := c.Peek(-1)
	if cs.draining {
		discard(c, len(in))
		h.shutdownWrite(c, cs)
		return gnet.None
	}
	if cs.legacy != nil {
		return h.legacyTraffic(c, cs)
	}
	if c.OutboundBuffered() > maxPendingOutput {
		h.cfg.Logger.Info("client does not read its responses; closing", "remote", c.RemoteAddr().String())
		connsOverflowed.Inc()
		cs.draining = true // the close below is asynchronous; drop input until then
		_ = c.Close()
		return gnet.None
	}
	ls := cs.loop
	out := ls.out[:0]
	consumed := 0
	finish := false
	for !finish {
		out = cs.spill(out)
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
			clear(in[:consumed])
			discard(c, consumed)
			h.flush(c, out)
			return gnet.None
		case tlsmitm.EventLegacy:
			// Nothing was consumed: crypto/tls gets the hello too.
			h.flush(c, out)
			h.startLegacy(c, cs)
			return h.legacyTraffic(c, cs)
		case tlsmitm.EventHandshakeDone:
			handshakesDone.Inc()
			if cs.tls.State().DidResume {
				clientResumptions.Inc()
			}
			cs.deadline = time.Now().Add(h.cfg.IdleTimeout)
		case tlsmitm.EventData:
			cs.deadline = time.Now().Add(h.cfg.IdleTimeout)
			out, finish = cs.resp.feed(res.Data, cs.tls, out, cs)
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
	discard(c, len(in))
	cs.draining = true
	cs.deadline = time.Now().Add(drainTimeout)
	cs.shutWrPend = true
	flushBeforeFIN(c, out)
	h.shutdownWrite(c, cs)
	return gnet.None
}

// flushBeforeFIN writes a connection's last records with MSG_MORE, which
// keeps the kernel from sending them at once, so that the shutdown(SHUT_WR)
// that follows puts the FIN on the same segment (Linux's tcp_send_fin
// appends it to an unsent tail): one segment to send and for the client to
// receive instead of two. Whatever the socket does not take, or all of it
// when gnet still holds earlier output, goes through gnet's Write, which
// sends it without the flag and pushes any held bytes along with it.
func flushBeforeFIN(c gnet.Conn, out []byte) {
	if len(out) == 0 {
		return
	}
	n := 0
	if c.OutboundBuffered() == 0 {
		var err error
		n, err = unix.SendmsgN(c.Fd(), out, nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
		if err != nil {
			n = 0 // EAGAIN, or a broken connection that gnet's write reports
		}
	}
	if n < len(out) {
		_, _ = c.Write(out[n:])
	}
}

func (h *terminateHandler) flush(c gnet.Conn, out []byte) {
	if len(out) > 0 {
		_, _ = c.Write(out) // gnet copies what the socket does not take at once
	}
}

// spill writes out the output once it passes flushAt and hands back the
// loop's slab buffer, so appends never outgrow the block (append would
// move it to the Go heap).
func (cs *connState) spill(out []byte) []byte {
	if len(out) < flushAt {
		return out
	}
	_, _ = cs.gc.Write(out)
	return cs.loop.out[:0]
}

// shutdownWrite sends FIN once gnet has handed all our output to the kernel.
func (h *terminateHandler) shutdownWrite(c gnet.Conn, cs *connState) {
	if cs.shutWrPend && c.OutboundBuffered() == 0 {
		cs.shutWrPend = false
		_ = unix.Shutdown(c.Fd(), unix.SHUT_WR)
	}
}

func (h *terminateHandler) logFailure(c gnet.Conn, err error) {
	var sent *tlsmitm.AlertError
	var got *tlsmitm.PeerAlertError
	switch {
	case errors.As(err, &sent):
		alertSent(sent.Alert)
	case errors.As(err, &got):
		alertReceived(got.Alert)
	}
	h.cfg.Logger.Info("tls connection refused", "remote", c.RemoteAddr().String(), "err", err.Error())
}

// OnTick sweeps every loop for connections past their deadline.
func (h *terminateHandler) OnTick() (time.Duration, gnet.Action) {
	h.loops.sweep(h.expire)
	return 250 * time.Millisecond, gnet.None
}

// expire runs on the loop that owns ls.
func (h *terminateHandler) expire(ls *loopState, now time.Time) {
	for cs, next := ls.conns.head, (*connState)(nil); cs != nil; cs = next {
		next = cs.next
		if cs.shutWrPend {
			h.shutdownWrite(cs.gc, cs)
		}
		if now.After(cs.deadline) {
			if !cs.draining {
				connsTimedOut.Inc()
			}
			_ = cs.gc.Close()
		}
	}
}
