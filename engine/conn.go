package engine

import (
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Conn is what every application's connection shares: its place on its
// loop's list, its deadline and how it closes. An application embeds it
// in its own connection type, which it sets as the gnet.Conn's context.
// A Conn is touched only on its loop.
type Conn struct {
	prev, next *Conn
	Gnet       gnet.Conn
	Loop       *Loop
	// Deadline is when the sweep closes the connection: the handshake,
	// idle or drain time, as the application sets it.
	Deadline time.Time
	// Draining: our side is done; input is read and dropped until the
	// peer closes or the deadline passes.
	Draining   bool
	shutWrPend bool // shut down writing once the output has drained
}

// engineConn lets LegacyConn find the Conn inside an application's
// connection (the gnet context), which embeds it.
func (c *Conn) engineConn() *Conn { return c }

type embedsConn interface{ engineConn() *Conn }

// DrainTimeout is how long a connection we are closing may go on sending
// before it is cut off. Reading it out, rather than closing at once, keeps
// the kernel from answering with a reset that would destroy our final
// alert before the client reads it.
const DrainTimeout = 2 * time.Second

// MaxPendingOutput bounds what a connection may leave unsent. A client
// that pipelines requests but never reads the answers is cut off here
// rather than growing the loop's memory without end.
const MaxPendingOutput = 1 << 20

// Spill writes out the output once it passes flushAt and hands back the
// loop's slab buffer, so appends never outgrow the block (append would
// move it to the Go heap).
func (c *Conn) Spill(out []byte) []byte {
	if len(out) < flushAt {
		return out
	}
	_, _ = c.Gnet.Write(out)
	return c.Loop.Out()
}

// Flush writes out; gnet copies what the socket does not take at once.
func (c *Conn) Flush(out []byte) {
	if len(out) > 0 {
		_, _ = c.Gnet.Write(out)
	}
}

// Drain ends our side: from now input is dropped, and the connection
// closes when the client does or DrainTimeout passes. The FIN is
// CloseWrite's, once the last words are queued.
func (c *Conn) Drain() {
	c.Draining = true
	c.Deadline = time.Now().Add(DrainTimeout)
}

// CloseWrite shuts down writing once gnet has handed all our output to
// the kernel: now, or when ShutWriteWhenFlushed (the sweep, the next turn)
// finds it so.
func (c *Conn) CloseWrite() {
	c.shutWrPend = true
	c.ShutWriteWhenFlushed()
}

// ShutWriteWhenFlushed sends the FIN CloseWrite asked for, once gnet has
// handed all our output to the kernel.
func (c *Conn) ShutWriteWhenFlushed() {
	if c.shutWrPend && c.Gnet.OutboundBuffered() == 0 {
		c.shutWrPend = false
		_ = unix.Shutdown(c.Gnet.Fd(), unix.SHUT_WR)
	}
}

// Expire runs in the sweep: a pending write shutdown, and the deadline. It
// reports whether the connection is being closed.
func (c *Conn) Expire(now time.Time) bool {
	c.ShutWriteWhenFlushed()
	if !now.After(c.Deadline) {
		return false
	}
	if !c.Draining {
		ConnsTimedOut.Inc()
	}
	_ = c.Gnet.Close()
	return true
}

// FlushBeforeFIN writes a connection's last records with MSG_MORE, which
// keeps the kernel from sending them at once, so that the
// shutdown(SHUT_WR) that follows puts the FIN on the same segment (Linux's
// tcp_send_fin appends it to an unsent tail): one segment to send and for
// the client to receive instead of two. Whatever the socket does not take,
// or all of it when gnet still holds earlier output, goes through gnet's
// Write, which sends it without the flag and pushes any held bytes along
// with it.
func (c *Conn) FlushBeforeFIN(out []byte) {
	if len(out) == 0 {
		return
	}
	n := 0
	if c.Gnet.OutboundBuffered() == 0 {
		var err error
		n, err = unix.SendmsgN(c.Gnet.Fd(), out, nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
		if err != nil {
			n = 0 // EAGAIN, or a broken connection that gnet's write reports
		}
	}
	if n < len(out) {
		_, _ = c.Gnet.Write(out[n:])
	}
}

// Discard drops n bytes of a connection's input. gnet's Discard treats
// n <= 0 as "everything", which would throw away a partial record still
// waiting for its end; this never passes it zero.
func Discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}

// Consume wipes the first n bytes of in, which records decrypted in place
// may have turned into plaintext, and drops them from gnet's input:
// decrypted bytes never go back to gnet's buffers.
func Consume(c gnet.Conn, in []byte, n int) {
	if n > 0 {
		clear(in[:n])
		Discard(c, n)
	}
}
