package proxy

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// link is the origin side of a proxied connection once it relays. The
// origin is an ordinary net.Conn (a uTLS session or a raw TCP tunnel),
// served on Go's netpoller; everything learned there goes back to the
// client's loop as events addressed to the phase that relays (inbox.go).
//
// Memory: most proxied connections are idle most of the time, so an idle
// link holds as little as it can (see BENCHMARKS.md, memory per idle
// inspected connection). One reader goroutine waits for the origin's
// socket to become readable, with no buffer (linkwait_mem.go) and, once
// the connection has idled for linger, on a fresh, small stack; the
// writer goroutine and its queue exist only while client bytes wait to be
// written, and for linger after.
//
// Backpressure, origin → client: the reader reads one chunk per credit and
// the loop grants the next credit only while the client's unsent output is
// under the bound, so a slow client holds the origin back through TCP.
//
// Client → origin: when the bytes queued for the writer pass the bound,
// the loop stops taking records from the client; they wait, still
// encrypted, in gnet's input buffer, and the writer wakes the loop once
// the queue has drained. gnet cannot stop reading a socket, so that
// buffer is what grows meanwhile: HTTP/2 clients stop at their
// flow-control window, and a connection whose waiting input passes the
// hard bound (maxWaitingInput) is cut off.
type link struct {
	c       *conn
	owner   linkOwner
	conn    net.Conn
	sock    net.Conn      // the socket under conn, waited on while idle; nil: read conn directly
	held    func() int    // bytes read from sock that conn has not taken; nil: none ever are
	credit  chan struct{} // capacity 1: the reader may read one chunk
	pending atomic.Int64  // bytes queued for the writer
	limit   int64
	paused  atomic.Bool // the loop stopped reading the client for us
	closing sync.Once
	done    chan struct{}
	wake    chan struct{} // capacity 1: a lingering writer has bytes to write

	mu      sync.Mutex
	queue   [][]byte // client bytes for the origin, at most linkQueue chunks; nil when empty
	writing bool     // a writer goroutine runs
	shutWr  bool     // half-close the origin once the queue is written
	ended   bool     // closed, or the writer failed: queued bytes are dropped
}

// readChunk is how much the reader takes per credit while the origin
// streams. idleChunk is what it reads after a short read: a response that
// fits is the common case, and the buffer is made only once the origin's
// bytes are there. A read that fills it means data is flowing: the next is
// readChunk again.
const (
	readChunk = 16 << 10
	idleChunk = 2 << 10
)

// linkQueue bounds the chunks of client bytes queued for the writer.
const linkQueue = 64

// linger is how long a goroutine that has served the origin waits for the
// next bytes before it hands the wait to a fresh goroutine (the reader) or
// ends (the writer). A connection in use keeps its goroutines, and their
// stacks, grown by the TLS work, from one request to the next; an idle one
// lets them go.
const linger = 100 * time.Millisecond

// linkOwner is the phase a link relays for: it takes the origin's bytes
// and hears when the writer has caught up.
type linkOwner interface {
	phase
	// fromOrigin takes the origin's bytes, or how its stream ended.
	fromOrigin(c *conn, b []byte, err error)
	// originCaughtUp: the writer drained after the loop held client input
	// back (holdBack); the connection's turn then reads it again.
	originCaughtUp(c *conn)
}

// newLink serves conn for owner; sock, when not nil, is the socket under
// it, which the reader may wait on after a short read when held reports
// nothing read past it (see origin.Session.Socket).
func newLink(c *conn, owner linkOwner, conn, sock net.Conn, held func() int) *link {
	l := &link{
		c:      c,
		owner:  owner,
		conn:   conn,
		credit: make(chan struct{}, 1),
		limit:  int64(c.h.cfg.MaxBuffered),
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		sock:   sock,
		held:   held,
	}
	go l.read(readState{fresh: true})
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
	if l.pending.Load() > l.limit {
		return true
	}
	l.mu.Lock()
	n := len(l.queue)
	l.mu.Unlock()
	return n > linkQueue/2
}

// pause records that the loop stopped reading for us; the writer wakes it.
func (l *link) pause() { l.paused.Store(true) }

// send queues client bytes for the origin, starting a writer if none
// runs. The loop checks congested before it takes more input, so the
// queue exceeds its bound by one record at most; false means the queue is
// full anyway. Called on the loop; it never blocks (the lock is only ever
// held to move a slice header).
func (l *link) send(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	chunk := append([]byte(nil), b...)
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return true
	}
	if len(l.queue) >= linkQueue {
		l.mu.Unlock()
		return false
	}
	l.pending.Add(int64(len(b)))
	l.queue = append(l.queue, chunk)
	start := !l.writing
	l.writing = true
	l.mu.Unlock()
	l.startWriter(start)
	return true
}

// coalesceWrite is the most the writer joins into one write: a TLS
// record's plaintext (RFC 8446 §5.1).
const coalesceWrite = 16 << 10

// startWriter starts a writer, or wakes the one that lingers.
func (l *link) startWriter(start bool) {
	if start {
		go l.write()
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// closeWrite tells the origin the client is done sending, once what is
// queued has been written.
func (l *link) closeWrite() {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.shutWr = true
	start := !l.writing
	l.writing = true
	l.mu.Unlock()
	l.startWriter(start)
}

// close ends both goroutines; called on the loop.
func (l *link) close() {
	l.closing.Do(func() {
		l.mu.Lock()
		l.ended, l.queue = true, nil
		l.mu.Unlock()
		close(l.done)
		l.conn.Close()
	})
}

// readState is what one reader goroutine hands the next.
type readState struct {
	size   int  // the next read's buffer; 0 means idleChunk
	filled bool // the last read filled its buffer: conn may hold more than the socket shows
	fresh  bool // this goroutine has not read yet: its stack is of the starting size
	credit bool // the credit for the next read is already taken
}

// read serves the origin's bytes, off the loop, on a goroutine of its
// own. After a short read it waits for the next bytes for up to linger;
// then it hands the wait over to a fresh goroutine and ends, so that a
// connection that idles waits on a stack of the starting size, not one
// the uTLS read and decryption grew.
func (l *link) read(s readState) {
	if s.size == 0 {
		s.size = idleChunk
	}
	for {
		if !s.credit {
			select {
			case <-l.credit:
			case <-l.done:
				return
			}
		}
		s.credit = false
		if l.sock != nil && !s.filled && (l.held == nil || l.held() == 0) {
			// Nothing is buffered above the socket (a short read drained
			// conn): wait without holding a buffer. An error here (the
			// link closed) shows again in the read below.
			if !s.fresh && l.waitOrHandOff(s) {
				return
			}
			if s.fresh {
				_ = waitReadable(l.sock)
			}
		}
		s.fresh = false
		buf := make([]byte, s.size)
		n, err := l.conn.Read(buf)
		s.filled = n == len(buf)
		if n >= idleChunk {
			s.size = readChunk
		} else {
			s.size = idleChunk
		}
		l.c.post(l.owner, originData{l.owner, buf[:n], err})
		if err != nil {
			return
		}
	}
}

// waitOrHandOff runs on the reader's goroutine: it waits up to linger
// for the origin's next bytes; if none come, it starts a fresh reader to
// wait on and reports true: the caller ends.
func (l *link) waitOrHandOff(s readState) bool {
	if l.sock.SetReadDeadline(time.Now().Add(linger)) != nil {
		return false // closed: the read reports it
	}
	err := waitReadable(l.sock)
	_ = l.sock.SetReadDeadline(time.Time{})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	s.fresh, s.credit = true, true
	go l.read(s)
	return true
}

// write runs off the loop, on a goroutine of its own, while client bytes
// are queued: it writes them in order, then the half-close if asked, and
// ends when the queue has stayed empty for linger.
func (l *link) write() {
	var idle *time.Timer
	for {
		l.mu.Lock()
		if l.ended {
			l.writing, l.queue = false, nil
			l.mu.Unlock()
			return
		}
		if len(l.queue) == 0 && !l.shutWr {
			l.mu.Unlock()
			if idle == nil {
				idle = time.NewTimer(linger)
			} else {
				idle.Reset(linger)
			}
			select {
			case <-l.wake:
			case <-l.done:
			case <-idle.C:
				l.mu.Lock()
				if len(l.queue) == 0 && !l.shutWr {
					// send starts another writer from here on.
					l.writing, l.queue = false, nil
					l.mu.Unlock()
					return
				}
				l.mu.Unlock()
			}
			continue
		}
		if len(l.queue) == 0 {
			l.shutWr = false
			l.mu.Unlock()
			if cw, ok := l.conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			continue
		}
		b := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		// Chunks that queued up behind it (the pipelined requests of one
		// client read, say) go in the same write, up to a record's worth:
		// one TLS record and one system call, not one per chunk.
		for len(l.queue) > 0 && len(b)+len(l.queue[0]) <= coalesceWrite {
			b = append(b, l.queue[0]...)
			l.queue[0] = nil
			l.queue = l.queue[1:]
		}
		drained := len(l.queue) == 0
		if drained {
			l.queue = nil // not the spent array: an idle link holds none
		}
		l.mu.Unlock()

		_, err := l.conn.Write(b)
		left := l.pending.Add(-int64(len(b)))
		if left <= l.limit/2 && drained && l.paused.CompareAndSwap(true, false) {
			l.c.post(l.owner, originCaughtUp{l.owner})
		}
		if err != nil {
			l.mu.Lock()
			closed := l.ended
			l.ended, l.writing, l.queue = true, false, nil
			l.mu.Unlock()
			if !closed {
				l.c.post(l.owner, originData{l.owner, nil, err})
			}
			return
		}
	}
}

// holdBack stops taking client input while the origin lags (the input
// waits in gnet's buffer), and cuts off a client whose waiting input
// passes the hard bound, with goodbye (if any) as the last word. waiting
// is what is left unprocessed. Called on the loop.
func (l *link) holdBack(c *conn, waiting int, goodbye func()) bool {
	if !l.congested() {
		return false
	}
	if waiting > maxWaitingInput(c.h.cfg.MaxBuffered) {
		c.fail("the client sends far faster than the origin accepts", goodbye)
		return true
	}
	l.pause()
	inputPaused.Inc()
	// The writer may have drained between the check and the pause.
	if !l.congested() && l.paused.CompareAndSwap(true, false) {
		return false
	}
	return true
}

// maxWaitingInput is the hard bound on client input waiting in gnet while
// the origin lags: gnet cannot stop reading a socket, so past this the
// connection is cut rather than buffered without end.
func maxWaitingInput(maxBuffered int) int { return 16 * maxBuffered }

// grantIfRoom lets the reader go on while the client keeps up; otherwise
// the tick retries, and meanwhile the origin is held back by TCP. Called
// on the loop.
func (l *link) grantIfRoom(c *conn) {
	if c.Gnet.OutboundBuffered() < c.h.cfg.MaxBuffered {
		l.grant()
	}
}

// originData is a chunk the reader read, or how the origin's stream
// ended (or the writer's error).
type originData struct {
	to  linkOwner
	b   []byte
	err error
}

// The origin's bytes are plaintext for an inspected connection: they do
// not outlive their use (gnet copies what the socket does not take).
func (e originData) apply(c *conn) {
	defer clear(e.b)
	e.to.fromOrigin(c, e.b, e.err)
}

func (e originData) drop() { clear(e.b) }

type originCaughtUp struct{ to linkOwner }

func (e originCaughtUp) apply(c *conn) { e.to.originCaughtUp(c) }
func (originCaughtUp) drop()           {}
