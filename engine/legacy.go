package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/tlsmitm"
)

// The TLS 1.2 bridge. tlsmitm speaks only TLS 1.3; with
// Config.LegacyHandoff it reports EventLegacy for a first ClientHello that
// offers TLS 1.2 and not 1.3 (and refuses one without extended master
// secret). The connection is then handed to crypto/tls, run by a goroutine
// of its own over a LegacyConn: the loop pushes what the client sends into
// a bounded queue and never blocks; the goroutine's writes go out through
// gnet's AsyncWrite. `edge terminate` answers the requests itself
// (terminate/legacy.go); the inspecting proxy relays them
// (proxy/clienttls12.go).

// LegacyQueue bounds the chunks of client input waiting for the
// goroutine; LegacyChunk bounds one chunk. When the queue is full the loop
// leaves the input in gnet, and the goroutine wakes the loop once it has
// room again.
const (
	LegacyQueue = 8
	LegacyChunk = 16 << 10
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

// LegacyTLSConfig is the crypto/tls server config for handed-off
// connections. Go always negotiates extended master secret when the client
// offers it; tls.Config has no knob to require it, so GetConfigForClient
// refuses a hello without it (tlsmitm already refuses one before the
// hand-off; this is the second lock).
func LegacyTLSConfig(cert *tlsmitm.Certificate) *tls.Config {
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

// LegacyConn is the net.Conn crypto/tls runs over: Read takes what the
// loop pushed, Write hands bytes to gnet's AsyncWrite, Close closes the
// gnet connection. Deadlines are a timer that closes it. Read, Write, Close
// and shut are safe from any goroutine; push and feed run on the loop. The
// proxy sets no deadline and never calls Close: its loop ends the
// connection itself.
type LegacyConn struct {
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

func NewLegacyConn(gc gnet.Conn) *LegacyConn {
	return &LegacyConn{gc: gc, local: gc.LocalAddr(), remote: gc.RemoteAddr(),
		in: make(chan []byte, LegacyQueue), closed: make(chan struct{})}
}

// Push runs on the loop: it queues copies of in and reports how many bytes
// it took. It never blocks; what it does not take stays in gnet.
func (lc *LegacyConn) Push(in []byte) int {
	n := 0
	for n < len(in) {
		chunk := in[n:min(len(in), n+LegacyChunk)]
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

// Feed runs on the loop: it moves as much of c's input as the queue has
// room for into it, and reports how much input is left waiting in gnet.
// It peeks only what it takes: a client far ahead of crypto/tls leaves a
// large buffer in gnet, and copying all of it out per chunk would make
// catching up quadratic.
func (lc *LegacyConn) Feed(c gnet.Conn) int {
	for {
		if room := min(c.InboundBuffered(), (cap(lc.in)-len(lc.in))*LegacyChunk); room > 0 {
			in, _ := c.Peek(room)
			Discard(c, lc.Push(in))
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

func (lc *LegacyConn) offer(chunk []byte) bool {
	select {
	case lc.in <- slices.Clone(chunk):
		return true
	default:
		return false
	}
}

func (lc *LegacyConn) Read(p []byte) (int, error) {
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

func (lc *LegacyConn) closedErr() error {
	if lc.expired.Load() {
		return os.ErrDeadlineExceeded
	}
	return net.ErrClosed
}

func (lc *LegacyConn) Write(p []byte) (int, error) {
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
// drained until the client closes (or DrainTimeout), so our last records
// are not lost to a reset.
func (lc *LegacyConn) Close() error {
	lc.Shut()
	return lc.gc.Wake(func(c gnet.Conn, err error) error {
		if err != nil {
			return nil
		}
		owner, ok := c.Context().(embedsConn)
		if !ok || owner.engineConn().Draining {
			return nil
		}
		cs := owner.engineConn()
		Discard(c, c.InboundBuffered())
		cs.Drain()
		cs.CloseWrite()
		return nil
	})
}

// Shut wakes a blocked Read for good; safe from any goroutine.
func (lc *LegacyConn) Shut() {
	lc.once.Do(func() { close(lc.closed) })
	lc.mu.Lock()
	if lc.timer != nil {
		lc.timer.Stop()
	}
	lc.mu.Unlock()
}

func (lc *LegacyConn) LocalAddr() net.Addr  { return lc.local }
func (lc *LegacyConn) RemoteAddr() net.Addr { return lc.remote }

// SetDeadline arms a timer that closes the connection: writes never block,
// so the deadline bounds waiting for the client.
func (lc *LegacyConn) SetDeadline(t time.Time) error {
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
		ConnsTimedOut.Inc()
		lc.Shut()
		_ = lc.gc.Close()
	})
	return nil
}

func (lc *LegacyConn) SetReadDeadline(t time.Time) error { return lc.SetDeadline(t) }
func (lc *LegacyConn) SetWriteDeadline(time.Time) error  { return nil }

// Done is closed once the connection is shut: the client went away or the
// loop ended it. Safe from any goroutine.
func (lc *LegacyConn) Done() <-chan struct{} { return lc.closed }

// Ended reports whether Done is closed.
func (lc *LegacyConn) Ended() bool {
	select {
	case <-lc.closed:
		return true
	default:
		return false
	}
}
