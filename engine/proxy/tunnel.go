package proxy

import (
	"context"
	"net"
	"time"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/origin"
)

// tunnelling passes bytes untouched both ways: a bypassed destination
// (by the CONNECT target or the SNI), an org without a key that asks for
// its traffic to pass, or a plain http:// request, whose responses are
// still framed for the log. Until the origin's connection is open, the
// client's bytes wait, within maxHeld.
type tunnelling struct {
	link *link      // nil until the destination is connected
	held []byte     // client bytes for the destination, sent once it is
	http *inspector // plain HTTP: every request judged and framed, its responses framed
}

// startTunnel dials the destination off the loop; held goes first once it
// is connected.
func startTunnel(c *conn, held []byte) *tunnelling {
	t := &tunnelling{held: held}
	t.dial(c)
	return t
}

// dial connects to the destination off the loop.
func (t *tunnelling) dial(c *conn) {
	host, port := c.log.host, c.log.port
	check := addrCheck(c, t.http != nil)
	go func() {
		// The dialer bounds the connect itself.
		conn, err := c.h.origins.Dial(context.Background(), host, port, check)
		c.post(t, tunnelDialled{t, conn, err})
	}()
}

// openTunnel tunnels to conn, already connected.
func openTunnel(c *conn, conn net.Conn, held []byte) *tunnelling {
	t := &tunnelling{held: held}
	t.open(c, conn)
	return t
}

func (t *tunnelling) open(c *conn, conn net.Conn) {
	t.link = newLink(c, t, conn, nil, nil)
	t.link.send(t.held)
	t.held = nil
	t.link.grant()
	c.Deadline = time.Now().Add(c.h.cfg.IdleTimeout)
}

// tunnelDialled is the destination's connection, or why there is none.
type tunnelDialled struct {
	to   *tunnelling
	conn net.Conn
	err  error
}

func (e tunnelDialled) apply(c *conn) {
	t := e.to
	if e.err != nil {
		e.failed(c)
		return
	}
	t.open(c, origin.Tunnel(e.conn))
}

// failed ends a connection whose destination could not be dialed. A
// plain request is answered (403 when policy refused the address, else
// 502); a tunnel, already answered 200, can only be closed, and its log
// line says why.
func (e tunnelDialled) failed(c *conn) {
	l := &c.log
	d, refused := dialRefusal(e.err)
	c.h.cfg.Logger.Info("destination not dialed", "host", l.host, "refused", refused, "err", e.err.Error())
	status, page := 502, "Lucid could not reach this site: "+e.err.Error()
	if refused {
		l.decision = d
		status, page = 403, refusedPage(d)
	}
	if e.to.http != nil {
		resp := httphead.ErrorResponse(status, page)
		l.responded(c, status, int64(len(resp)))
		e.to.lastWord(c, resp)
		return
	}
	l.tunnelLine(c, status)
	c.finish()
}

func (e tunnelDialled) drop() {
	if e.conn != nil {
		e.conn.Close()
	}
}

func (t *tunnelling) input(c *conn) {
	in := c.peek()
	if t.http != nil {
		t.plainInput(c, in)
		return
	}
	if t.link == nil {
		if len(t.held)+len(in) > maxHeld {
			c.consume(in, len(in))
			c.fail("client sent too much before the tunnel opened", nil)
			return
		}
		t.held = append(t.held, in...)
		engine.Discard(c.Gnet, len(in))
		return
	}
	if t.link.holdBack(c, len(in), nil) {
		return
	}
	c.log.bytesIn += int64(len(in))
	// A tunnel's bytes were never decrypted: dropped, not wiped.
	engine.Discard(c.Gnet, len(in))
	if !t.link.send(in) {
		c.fail("the origin's write queue is full", nil)
	}
}

func (t *tunnelling) fromOrigin(c *conn, b []byte, err error) {
	if len(b) > 0 {
		c.log.bytesOut += int64(len(b))
		bytesRelayed.Add(len(b))
		if t.http != nil && !t.http.fromOrigin(c, t, b) {
			return
		}
		if t.http == nil {
			c.write(b)
		}
	}
	if err != nil {
		c.finish()
		return
	}
	t.link.grantIfRoom(c)
}

// plainInput passes a plain connection's bytes through its inspector,
// which forwards only what it framed and judged.
func (t *tunnelling) plainInput(c *conn, in []byte) {
	if t.link != nil && t.link.holdBack(c, len(in), nil) {
		return
	}
	c.log.bytesIn += int64(len(in))
	t.http.fromClient(c, t, in)
	engine.Discard(c.Gnet, len(in))
}

// A plain http:// request's sides for its inspector: the client's are
// the connection's own bytes, not TLS. Until the origin is connected,
// what goes to it waits, within maxHeld.
func (t *tunnelling) toOrigin(c *conn, b []byte) bool {
	if t.link == nil {
		if len(t.held)+len(b) > maxHeld {
			c.fail("client sent too much before the origin was reached", nil)
			return false
		}
		t.held = append(t.held, b...)
		return true
	}
	if !t.link.send(b) {
		c.fail("the origin's write queue is full", nil)
		return false
	}
	return true
}

func (t *tunnelling) toClient(c *conn, b []byte) bool {
	c.write(b)
	return true
}

func (t *tunnelling) lastWord(c *conn, resp []byte) {
	c.write(resp)
	c.finish()
}

func (t *tunnelling) originCaughtUp(*conn) {}

func (t *tunnelling) tick(c *conn) {
	if t.link != nil {
		t.link.grantIfRoom(c)
	}
}

func (t *tunnelling) release() bool {
	if t.http != nil {
		t.http.release()
	}
	if t.link != nil {
		t.link.close()
	}
	t.held = nil
	return false
}
