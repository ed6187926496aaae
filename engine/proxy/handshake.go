package proxy

import (
	"time"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/origin"
)

// handshaking is the client's handshake after our flight (DESIGN.md, data
// path step 7): it waits for the client's Finished, then moves the
// connection on to relaying, or to answering with the 502 page when the
// origin could not be used. The origin's session waits, unread.
type handshaking struct {
	client     clientTLS
	origin     *origin.Session // nil when failPage is set
	failPage   string          // why the origin could not be used
	failStatus int             // the page's status, 502 when zero
	helloAt    time.Time
}

func (p *handshaking) input(c *conn) { p.client.input(c, p) }

func (p *handshaking) handshakeDone(c *conn) {
	engine.HandshakesDone.Inc()
	clientLatency.UpdateDuration(p.helloAt)
	info := p.client.info()
	info.JA4 = c.log.client.JA4
	c.log.client = info
	c.Deadline = time.Now().Add(c.h.cfg.IdleTimeout)
	client, session := p.client, p.origin
	p.client, p.origin = nil, nil
	if p.failPage != "" {
		a := &answering{client: client, failPage: p.failPage, status: p.failStatus}
		c.enter(a)
		client.granted(a)
		return
	}
	c.enter(startRelay(c, client, session))
}

func (p *handshaking) fromClient(c *conn, _ []byte) {
	c.fail("client data before its handshake completed", nil)
}

func (p *handshaking) clientClosed(c *conn) { c.finish() }

func (p *handshaking) clientFailed(c *conn, err error) {
	c.tlsRefused(err)
	c.finish()
}

func (p *handshaking) holdBack(*conn, int) bool { return false }

func (p *handshaking) tick(*conn) {}

func (p *handshaking) release() bool {
	if p.origin != nil {
		p.origin.Conn.Close()
	}
	if p.client == nil {
		return false
	}
	return p.client.release()
}
