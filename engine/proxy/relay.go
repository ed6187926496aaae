package proxy

import (
	"time"

	"github.com/lucid-edge/lucid/origin"
)

// relaying is an inspected connection after its handshake (DESIGN.md,
// data path step 8): the client's decrypted requests are checked against
// the org's URL rules and logged (inspect.go) and forwarded to the origin;
// the origin's bytes are framed for the log and sealed for the client.
// Backpressure both ways goes through the link (link.go).
type relaying struct {
	client clientTLS
	link   *link
	http   inspection
}

// inspection frames the protocol an inspected connection speaks (HTTP/1.1
// in inspect.go, HTTP/2 in h2.go): it judges every request before any byte of it goes to
// the origin, forwards what passes, and logs every request with its
// response.
type inspection interface {
	// fromClient takes decrypted client bytes and forwards what passes
	// through s; false when it ended the connection.
	fromClient(c *conn, s sides, data []byte) bool
	// fromOrigin takes the origin's bytes and forwards them through s;
	// false when it ended the connection.
	fromOrigin(c *conn, s sides, b []byte) bool
	// release wipes the plaintext the inspection holds and logs what is
	// still open; the connection is ending.
	release()
}

// sides are the two ends an inspection forwards to. Each reports false
// when the connection has ended (it failed it, with a reason logged).
type sides interface {
	toOrigin(c *conn, b []byte) bool
	toClient(c *conn, b []byte) bool
	// lastWord sends the client the edge's own last answer (a 403, a 400)
	// and ends the connection.
	lastWord(c *conn, resp []byte)
}

// startRelay starts relaying between client and the origin's session, in
// the protocol the origin chose (origin.go accepts only h2 and HTTP/1.1).
func startRelay(c *conn, client clientTLS, s *origin.Session) *relaying {
	var http inspection
	if s.NegotiatedProtocol == "h2" {
		http = newH2Inspection(c)
	} else {
		http = newInspector(c)
	}
	r := &relaying{client: client, http: http}
	r.link = newLink(c, r, s.Conn, s.Socket, s.Buffered)
	r.link.grant()
	client.granted(r)
	return r
}

func (r *relaying) input(c *conn) { r.client.input(c, r) }

func (r *relaying) handshakeDone(*conn) {}

func (r *relaying) fromClient(c *conn, data []byte) {
	c.Deadline = time.Now().Add(c.h.cfg.IdleTimeout)
	c.log.bytesIn += int64(len(data))
	r.http.fromClient(c, r, data)
}

func (r *relaying) toOrigin(c *conn, b []byte) bool {
	if !r.link.send(b) {
		c.fail("client sends faster than the origin accepts (over the per-connection bound)", r.goodbye(c))
		return false
	}
	return true
}

func (r *relaying) toClient(c *conn, b []byte) bool {
	if err := r.client.send(c, b); err != nil {
		r.client.goodbye(c)
		c.finish()
		return false
	}
	return true
}

func (r *relaying) lastWord(c *conn, resp []byte) { c.closeWith(r.client, resp) }

func (r *relaying) clientClosed(*conn) {
	// The origin hears the client is done and answers what it was asked.
	r.link.closeWrite()
}

func (r *relaying) clientFailed(c *conn, err error) {
	c.h.cfg.Logger.Info("client TLS failed", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "err", err.Error())
	c.finish()
}

func (r *relaying) holdBack(c *conn, waiting int) bool {
	return r.link.holdBack(c, waiting, r.goodbye(c))
}

// fromOrigin takes the origin's bytes, or how its stream ended.
func (r *relaying) fromOrigin(c *conn, b []byte, err error) {
	if len(b) > 0 {
		c.log.bytesOut += int64(len(b))
		bytesRelayed.Add(len(b))
		if !r.http.fromOrigin(c, r, b) {
			return
		}
	}
	if err != nil {
		r.client.goodbye(c)
		c.finish()
		return
	}
	r.link.grantIfRoom(c)
}

// originCaughtUp: the origin's writer drained; client input goes on.
func (r *relaying) originCaughtUp(*conn) { r.client.granted(r) }

func (r *relaying) tick(c *conn) { r.link.grantIfRoom(c) }

func (r *relaying) release() bool {
	r.http.release()
	r.link.close()
	return r.client.release()
}

// goodbye is the relay's last word to the client when the edge ends it.
func (r *relaying) goodbye(c *conn) func() { return func() { r.client.goodbye(c) } }
