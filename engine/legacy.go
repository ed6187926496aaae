package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// TLS 1.2 clients (issue 6). tlsmitm speaks only TLS 1.3; with
// Config.LegacyHandoff it reports EventLegacy for a first ClientHello that
// offers TLS 1.2 and not 1.3 (and refuses one without extended master
// secret). The connection is then handed to crypto/tls, run by a goroutine
// of its own over a legacyConn: the loop pushes what the client sends into
// a bounded queue and never blocks; the goroutine's writes go out through
// gnet's AsyncWrite. `edge terminate` answers the requests itself
// (serveLegacy below); the inspecting proxy relays them (proxylegacy.go).

// legacyQueue bounds the chunks of client input waiting for the
// goroutine; legacyChunk bounds one chunk. When the queue is full the loop
// leaves the input in gnet, and the goroutine wakes the loop once it has
// room again.
const (
	legacyQueue = 8
	legacyChunk = 16 << 10
)

// legacyCipherSuites are the TLS 1.2 suites handed-off connections may
// use: ECDHE with an AEAD, nothing else.
var legacyCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// extExtendedMasterSecret is RFC 7627's extension type.
const extExtendedMasterSecret = 0x0017

var errNoEMS = errors.New("TLS 1.2 ClientHello without extended_master_secret")

// legacyTLSConfig is the crypto/tls server config for handed-off
// connections. Go always negotiates extended master secret when the client
// offers it; tls.Config has no knob to require it, so GetConfigForClient
// refuses a hello without it (tlsmitm already refuses one before the
// hand-off; this is the second lock).
func legacyTLSConfig(cert *tlsmitm.Certificate) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: cert.Chain, PrivateKey: cert.PrivateKey}},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: legacyCipherSuites,
		NextProtos:   []string{"http/1.1", "http/1.0"},
	}
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if !slices.Contains(hello.Extensions, extExtendedMasterSecret) {
			return nil, errNoEMS
		}
		return nil, nil
	}
	return cfg
}

// legacyConn is the net.Conn crypto/tls runs over: Read takes what the
// loop pushed, Write hands bytes to gnet's AsyncWrite, Close closes the
// gnet connection. Deadlines are a timer that closes it. Read, Write, Close
// and shut are safe from any goroutine; push and feed run on the loop. The
// proxy sets no deadline and never calls Close: its loop ends the
// connection itself.
type legacyConn struct {
	gc gnet.Conn
	// The addresses, read on the loop: gnet clears its own on close.
	local, remote net.Addr
	in            chan []byte
	cur           []byte
	closed        chan struct{}
	once          sync.Once
	stalled       atomic.Bool // the loop left input in gnet: wake it on room
	expired       atomic.Bool

	mu    sync.Mutex
	timer *time.Timer
}

func newLegacyConn(gc gnet.Conn) *legacyConn {
	return &legacyConn{gc: gc, local: gc.LocalAddr(), remote: gc.RemoteAddr(),
		in: make(chan []byte, legacyQueue), closed: make(chan struct{})}
}

// push runs on the loop: it queues copies of in and reports how many bytes
// it took. It never blocks; what it does not take stays in gnet.
func (lc *legacyConn) push(in []byte) int {
	n := 0
	for n < len(in) {
		chunk := in[n:min(len(in), n+legacyChunk)]
		if !lc.offer(chunk) {
			lc.stalled.Store(true)
			// The reader may have emptied the queue before it could see
			// the flag: try once more, so a wake-up is never lost.
			if !lc.offer(chunk) {
				break
			}
		}
		n += len(chunk)
	}
	return n
}

// feed runs on the loop: it moves as much of c's input as the queue has
// room for into it, and reports how much input is left waiting in gnet.
// It peeks only what it takes: a client far ahead of crypto/tls leaves a
// large buffer in gnet, and copying all of it out per chunk would make
// catching up quadratic.
func (lc *legacyConn) feed(c gnet.Conn) int {
	for {
		if room := min(c.InboundBuffered(), (cap(lc.in)-len(lc.in))*legacyChunk); room > 0 {
			in, _ := c.Peek(room)
			discard(c, lc.push(in))
		}
		left := c.InboundBuffered()
		if left == 0 {
			return 0
		}
		lc.stalled.Store(true)
		// The reader may have taken a chunk before it could see the flag:
		// look again, so a wake-up is never lost.
		if len(lc.in) == cap(lc.in) {
			return left
		}
	}
}

func (lc *legacyConn) offer(chunk []byte) bool {
	select {
	case lc.in <- slices.Clone(chunk):
		return true
	default:
		return false
	}
}

func (lc *legacyConn) Read(p []byte) (int, error) {
	if len(lc.cur) == 0 {
		var ok bool
		select {
		case lc.cur, ok = <-lc.in:
		default:
			select {
			case lc.cur, ok = <-lc.in:
			case <-lc.closed:
				return 0, lc.closedErr()
			}
		}
		if !ok {
			return 0, io.EOF
		}
		if lc.stalled.CompareAndSwap(true, false) {
			_ = lc.gc.Wake(nil) // the loop goes on with what it left in gnet
		}
	}
	n := copy(p, lc.cur)
	lc.cur = lc.cur[n:]
	return n, nil
}

func (lc *legacyConn) closedErr() error {
	if lc.expired.Load() {
		return os.ErrDeadlineExceeded
	}
	return net.ErrClosed
}

func (lc *legacyConn) Write(p []byte) (int, error) {
	select {
	case <-lc.closed:
		return 0, lc.closedErr()
	default:
	}
	if err := lc.gc.AsyncWrite(slices.Clone(p), nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the connection the way the TLS 1.3 path does: on the loop,
// after the writes queued before it, the write side is shut and the input
// drained until the client closes (or drainTimeout), so our last records
// are not lost to a reset.
func (lc *legacyConn) Close() error {
	lc.shut()
	return lc.gc.Wake(func(c gnet.Conn, err error) error {
		if err != nil {
			return nil
		}
		cs, ok := c.Context().(*connState)
		if !ok || cs.draining {
			return nil
		}
		discard(c, c.InboundBuffered())
		cs.draining = true
		cs.shutWrPend = true
		cs.deadline = time.Now().Add(drainTimeout)
		if c.OutboundBuffered() == 0 {
			cs.shutWrPend = false
			_ = unix.Shutdown(c.Fd(), unix.SHUT_WR)
		}
		return nil
	})
}

// shut wakes a blocked Read for good; safe from any goroutine.
func (lc *legacyConn) shut() {
	lc.once.Do(func() { close(lc.closed) })
	lc.mu.Lock()
	if lc.timer != nil {
		lc.timer.Stop()
	}
	lc.mu.Unlock()
}

func (lc *legacyConn) LocalAddr() net.Addr  { return lc.local }
func (lc *legacyConn) RemoteAddr() net.Addr { return lc.remote }

// SetDeadline arms a timer that closes the connection: writes never block,
// so the deadline bounds waiting for the client.
func (lc *legacyConn) SetDeadline(t time.Time) error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.timer != nil {
		lc.timer.Stop()
		lc.timer = nil
	}
	if t.IsZero() {
		return nil
	}
	lc.timer = time.AfterFunc(time.Until(t), func() {
		lc.expired.Store(true)
		connsTimedOut.Inc()
		lc.shut()
		_ = lc.gc.Close()
	})
	return nil
}

func (lc *legacyConn) SetReadDeadline(t time.Time) error { return lc.SetDeadline(t) }
func (lc *legacyConn) SetWriteDeadline(time.Time) error  { return nil }

// startLegacy hands cs over to crypto/tls. It runs on the loop.
func (h *terminateHandler) startLegacy(c gnet.Conn, cs *connState) {
	lc := newLegacyConn(c)
	cs.legacy = lc
	// The goroutine keeps its own deadlines; the loop's sweep leaves the
	// connection alone.
	cs.deadline = time.Now().Add(100 * 365 * 24 * time.Hour)
	tls12Handoffs.Inc()
	h.cfg.Logger.Info("TLS 1.2 client handed off to crypto/tls", "remote", c.RemoteAddr().String())
	h.legacyOnce.Do(func() { h.legacyCfg = legacyTLSConfig(h.cfg.Certificate) })
	go h.serveLegacy(lc)
}

// legacyTraffic is OnTraffic for a handed-off connection.
func (h *terminateHandler) legacyTraffic(c gnet.Conn, cs *connState) gnet.Action {
	if c.OutboundBuffered() > maxPendingOutput {
		h.cfg.Logger.Info("client does not read its responses; closing", "remote", c.RemoteAddr().String())
		connsOverflowed.Inc()
		return gnet.Close
	}
	select {
	case <-cs.legacy.closed:
		discard(c, c.InboundBuffered())
	default:
		cs.legacy.feed(c)
	}
	return gnet.None
}

// serveLegacy runs the TLS 1.2 handshake and answers requests like the
// TLS 1.3 path does.
func (h *terminateHandler) serveLegacy(lc *legacyConn) {
	tc := tls.Server(lc, h.legacyCfg)
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(h.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		h.cfg.Logger.Info("tls 1.2 connection refused", "remote", lc.RemoteAddr().String(), "err", err.Error())
		return
	}
	handshakesDone.Inc()
	buf := make([]byte, 0, 4096)
	var bodyLeft int64
	for {
		off := 0
		for off < len(buf) {
			if bodyLeft > 0 {
				n := min(int64(len(buf)-off), bodyLeft)
				bodyLeft -= n
				off += int(n)
				continue
			}
			head, n, err := httphead.Parse(buf[off:])
			if err == httphead.ErrIncomplete {
				break
			}
			if err != nil {
				_, _ = tc.Write(legacyRefusal(err))
				return
			}
			if head.Chunked {
				_, _ = tc.Write(legacyRefusal(&httphead.Error{Status: 501, Reason: "chunked request bodies are not supported here"}))
				return
			}
			httpRequests.Inc()
			off += n
			bodyLeft = max(head.ContentLength, 0)
			if head.Close {
				_, _ = tc.Write(responseClose)
				return
			}
			if _, err := tc.Write(responseKeepAlive); err != nil {
				return
			}
		}
		buf = buf[:copy(buf, buf[off:])] // keep only an unfinished head
		_ = tc.SetDeadline(time.Now().Add(h.cfg.IdleTimeout))
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := tc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
	}
}

func legacyRefusal(err error) []byte {
	status, reason := 400, err.Error()
	if he, ok := err.(*httphead.Error); ok {
		status, reason = he.Status, he.Reason
	}
	body := reason + "\n"
	return []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + statusText(status) + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}
