package proxy

import (
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
)

// answering serves a client whose origin could not be used (unreachable,
// its certificate invalid, its handshake failed or below the TLS floor,
// its address refused by policy): the handshake completed with a stand-in
// leaf, and the first request gets a page that says why (502, or 403 for
// a refused destination), so the user can read it instead of a bare TLS
// failure. The request is judged first: one that policy blocks gets the
// 403 that names the rule, as it would from a working origin, so the log
// says which rule refused it, not only that the site was unreachable.
type answering struct {
	client   clientTLS
	failPage string
	status   int // 502 when zero
}

func (p *answering) input(c *conn) { p.client.input(c, p) }

func (p *answering) fromClient(c *conn, data []byte) {
	c.Deadline = time.Now().Add(c.h.cfg.IdleTimeout)
	l := &c.log
	l.bytesIn += int64(len(data))
	method, url, blocked := judgeFirst(c, data)
	if blocked != nil {
		pathsBlocked.Inc()
		l.entry(c, method, url, 403, 0, 0, l.started, *blocked)
		c.closeWith(p.client, httphead.ErrorResponse(403, "Blocked by your organisation's policy ("+blocked.Rule+")."))
		return
	}
	if p.status == 403 {
		l.answered(c, method, url, 403)
		c.closeWith(p.client, httphead.ErrorResponse(403, p.failPage))
		return
	}
	l.answered(c, method, url, 502)
	c.closeWith(p.client, httphead.ErrorResponse(502, "Lucid could not reach this site safely: "+p.failPage))
}

func (p *answering) handshakeDone(*conn)  {}
func (p *answering) clientClosed(c *conn) { c.finish() }
func (p *answering) clientFailed(c *conn, err error) {
	c.tlsRefused(err)
	c.finish()
}
func (p *answering) holdBack(*conn, int) bool { return false }
func (p *answering) tick(*conn)               {}
func (p *answering) release() bool            { return p.client.release() }

// judgeFirst reads the request at the start of data for the log line of
// an answer the edge gives itself, and judges it: the decision when
// policy blocks it, else nil. Method and URL are empty when data does not
// start with a whole head; one that cannot be parsed is not judged, since
// it gets no origin either way.
func judgeFirst(c *conn, data []byte) (method, url string, blocked *policy.Decision) {
	h, _, err := httphead.Parse(data)
	if err != nil {
		return "", "", nil
	}
	in := newInspector(c)
	req, url, err := in.request(c, &h)
	method = string(h.Method)
	if err != nil {
		return method, url, nil
	}
	if d := judge(c, &req); d.Action == policy.Block {
		return method, url, &d
	}
	return method, url, nil
}

// closeWith sends the client a last answer and close_notify, and ends the
// connection.
func (c *conn) closeWith(client clientTLS, resp []byte) {
	_ = client.send(c, resp)
	client.goodbye(c)
	c.finish()
}
