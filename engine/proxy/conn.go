package proxy

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/engine"
)

// conn is one client connection through the proxy: a shell that hands
// each event to the phase the connection is in. The phases, in order:
//
//	awaitRequest   connect.go    the CONNECT (or plain http://) request
//	awaitHello     hello.go      the client's ClientHello
//	awaitOrigin    origin.go     the org's key, the origin's handshake, the leaf
//	handshaking    handshake.go  our flight sent; the client's Finished
//	relaying       relay.go      inspected traffic both ways
//	answering      errorpage.go  the one request that gets the edge's 502 page
//	tunnelling     tunnel.go     bytes passed untouched (bypass, plain HTTP)
//	closing        closing.go    our side done; input read and dropped
//
// A phase owns what only it needs and hands on what the next one needs
// when it moves the connection on (enter). A conn and its phases are
// touched only on the connection's loop; work done off the loop comes
// back through the connection's inbox (inbox.go).
type conn struct {
	engine.Conn
	h     *handler
	phase phase
	log   connLog // what the access log says about the connection (accesslog.go)
	inbox inbox
}

// A phase is one step of a connection's life. Events are addressed to a
// phase by its pointer (inbox.go), so a phase that receives events must
// not be a zero-size type: pointers to distinct zero-size values may be
// equal.
type phase interface {
	// input runs when client bytes wait in gnet (c.peek); the phase
	// consumes what it can take now and leaves the rest.
	input(c *conn)
	// tick runs in the sweep, between deadlines, for what waits on the
	// client reading (a relay's credit for the origin's reader).
	tick(c *conn)
	// release frees what the phase holds, when the connection closes or
	// finishes while in it. What it handed on in enter is no longer its.
	// asyncWrites: crypto/tls's last records wait in gnet's task queue
	// (AsyncWrite), so the write side may be shut only after them.
	release() (asyncWrites bool)
}

func newConn(h *handler, ls *engine.Loop, gc gnet.Conn) *conn {
	c := &conn{h: h}
	c.Gnet, c.Loop = gc, ls
	now := time.Now()
	c.Deadline = now.Add(h.cfg.RequestTimeout)
	c.log.started = now
	c.phase = &awaitRequest{}
	ls.Conns.Add(&c.Conn)
	return c
}

// step is the connection's turn on its loop: results of work done off
// the loop first, then the client's bytes, phase after phase as long as
// each moves the connection on with input left.
func (c *conn) step() {
	c.deliver()
	for c.Gnet.InboundBuffered() > 0 {
		p := c.phase
		p.input(c)
		if c.phase == p {
			break
		}
	}
	if c.Draining {
		c.ShutWriteWhenFlushed()
	}
}

// enter moves the connection on to p.
func (c *conn) enter(p phase) { c.phase = p }

// peek is the client's input waiting in gnet; valid until consume or the
// end of the turn.
func (c *conn) peek() []byte {
	in, _ := c.Gnet.Peek(-1)
	return in
}

// consume drops the first n bytes of in from gnet's input, wiping them
// first: records decrypted in place never go back to gnet.
func (c *conn) consume(in []byte, n int) { engine.Consume(c.Gnet, in, n) }

// finish ends our side: the current phase lets go of what it holds (its
// last words, if any, already written), and the connection drains
// (closing.go).
func (c *conn) finish() {
	if c.Draining {
		return
	}
	p := c.phase
	c.phase = &closing{}
	asyncWrites := p.release()
	c.Drain()
	if !asyncWrites {
		c.CloseWrite()
		return
	}
	// crypto/tls's last records wait in gnet's task queue (AsyncWrite).
	// An empty write queued behind them calls back once they have gone to
	// the socket, on the loop, with no error only while the connection is
	// open: then the FIN may follow. (An event would not do: a Wake queued
	// before those writes may give the connection its turn first.)
	_ = c.Gnet.AsyncWrite(nil, func(_ gnet.Conn, err error) error {
		if err == nil {
			c.CloseWrite()
		}
		return nil
	})
}

// write sends bytes in the clear: the answers to the proxy request and a
// tunnel's bytes.
func (c *conn) write(b []byte) { _, _ = c.Gnet.Write(b) }

// tick runs in the sweep: deadlines, then the phase's own.
func (c *conn) tick(now time.Time) {
	if c.Expire(now) {
		return
	}
	c.phase.tick(c)
}

// closed runs when gnet has closed the client connection: what is left
// of the log is written, the phase lets go of what it holds, and work
// still under way off the loop finds the inbox shut.
func (c *conn) closed() {
	c.log.close(c)
	c.inbox.shut()
	c.phase.release()
	c.phase = &closing{}
}

// fail ends a connection for a reason of the edge's own, with the
// phase's goodbye written first (goodbye: close_notify, or nothing).
func (c *conn) fail(reason string, goodbye func()) {
	c.h.cfg.Logger.Info("closing proxied connection", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "reason", reason)
	if goodbye != nil {
		goodbye()
	}
	c.finish()
}

// quiet is a phase's default for events it has no use for.
type quiet struct{}

func (quiet) tick(*conn)    {}
func (quiet) release() bool { return false }
