package engine

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// link is the origin side of a proxied connection. The origin is an
// ordinary net.Conn (a uTLS session or a raw TCP tunnel), so two
// goroutines serve it on Go's netpoller; everything they learn goes back to
// the client's loop through Execute.
//
// Backpressure, origin → client: the reader reads one chunk per credit and
// the loop grants the next credit only while the client's unsent output is
// under the bound, so a slow client holds the origin back through TCP.
//
// Client → origin: when the bytes queued for the writer pass the bound,
// the loop stops taking records from the client; they wait, still
// encrypted, in gnet's input buffer, and the writer wakes the loop once
// the queue has drained to half. gnet cannot stop reading a socket, so that
// buffer is what grows meanwhile: HTTP/2 clients stop at their flow-control
// window, and a connection whose waiting input passes the hard bound
// (maxWaitingInput) is cut off.
type link struct {
	pc      *proxyConn
	conn    net.Conn
	credit  chan struct{} // capacity 1: the reader may read one chunk
	queue   chan []byte
	pending atomic.Int64 // bytes queued for the writer
	limit   int64
	paused  atomic.Bool // the loop stopped reading the client for us
	closing sync.Once
	done    chan struct{}
}

// readChunk is how much the reader takes per credit while the origin
// streams. idleChunk is what it reads into after a short read: the reader
// holds its buffer while it waits for the origin, which is most of the
// time for most connections, so a waiting connection holds 2 KiB, not 16.
// A read that fills it means data is flowing: the next is readChunk again.
const (
	readChunk = 16 << 10
	idleChunk = 2 << 10
)

// linkQueue bounds the chunks of client bytes queued for the writer.
const linkQueue = 64

func newLink(pc *proxyConn, conn net.Conn, _ bool) *link {
	l := &link{
		pc:     pc,
		conn:   conn,
		credit: make(chan struct{}, 1),
		queue:  make(chan []byte, linkQueue),
		limit:  int64(pc.h.cfg.MaxBuffered),
		done:   make(chan struct{}),
	}
	go l.read()
	go l.write()
	return l
}

// grant lets the reader take one more chunk; called on the loop.
func (l *link) grant() {
	select {
	case l.credit <- struct{}{}:
	default:
	}
}

// congested reports whether the loop should stop taking client input
// until the writer catches up.
func (l *link) congested() bool {
	return l.pending.Load() > l.limit || len(l.queue) > cap(l.queue)/2
}

// pause records that the loop stopped reading for us; the writer wakes it.
func (l *link) pause() { l.paused.Store(true) }

// send queues client bytes for the origin. The loop checks congested
// before it takes more input, so the queue exceeds its bound by one record
// at most; false means the queue is full anyway. Called on the loop; it
// never blocks.
func (l *link) send(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	l.pending.Add(int64(len(b)))
	chunk := append([]byte(nil), b...)
	select {
	case l.queue <- chunk:
		return true
	case <-l.done:
		return true
	default:
		return false
	}
}

// closeWrite tells the origin the client is done sending.
func (l *link) closeWrite() {
	select {
	case l.queue <- nil:
	default:
	}
}

// close ends both goroutines; called on the loop.
func (l *link) close() {
	l.closing.Do(func() {
		close(l.done)
		l.conn.Close()
	})
}

func (l *link) read() {
	size := idleChunk
	for {
		select {
		case <-l.credit:
		case <-l.done:
			return
		}
		buf := make([]byte, size)
		n, err := l.conn.Read(buf)
		if n >= idleChunk {
			size = readChunk
		} else {
			size = idleChunk
		}
		pc := l.pc
		pc.post(func() { pc.fromUpstream(buf[:n], err) })
		if err != nil {
			return
		}
	}
}

func (l *link) write() {
	for {
		select {
		case b := <-l.queue:
			if b == nil {
				if cw, ok := l.conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
				continue
			}
			_, err := l.conn.Write(b)
			left := l.pending.Add(-int64(len(b)))
			if left <= l.limit/2 && len(l.queue) == 0 && l.paused.CompareAndSwap(true, false) {
				pc := l.pc
				pc.post(pc.resumeInput)
			}
			if err != nil {
				pc := l.pc
				pc.post(func() { pc.fromUpstream(nil, err) })
				return
			}
		case <-l.done:
			return
		}
	}
}

// rawConn is a tunnel's origin connection.
type rawConn struct{ net.Conn }

// CloseWrite half-closes a TCP tunnel.
func (r *rawConn) CloseWrite() error {
	if tc, ok := r.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

func (r upstreamReady) close() {
	if r.raw != nil {
		r.raw.Close()
	}
	if r.up != nil && r.up.Conn != nil {
		r.up.Conn.Close()
	}
}

func gnetRunnable(f func()) gnet.Runnable {
	return gnet.RunnableFunc(func(context.Context) error { f(); return nil })
}
