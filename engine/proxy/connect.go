package proxy

import (
	"errors"
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// awaitRequest is the first phase: the proxy request, a CONNECT or a plain
// http:// request (DESIGN.md, data path step 2). It authenticates the
// client, asks policy about the target and answers: refused (407, 403,
// 400), or on to a tunnel, a plain relay or the client's ClientHello.
type awaitRequest struct {
	quiet
	buf []byte // a request head that arrived in pieces
}

var connectEstablished = []byte("HTTP/1.1 200 Connection established\r\n\r\n")

func (p *awaitRequest) input(c *conn) {
	in := c.peek()
	src := in
	if len(p.buf) > 0 {
		src = append(p.buf, in...)
	}
	r, n, err := httphead.ParseProxyRequest(src)
	if errors.Is(err, httphead.ErrIncomplete) {
		p.buf = append(p.buf[:0], src...)
		c.consume(in, len(in))
		return
	}
	used := len(in) // what of in belongs to the request head
	if len(p.buf) > 0 {
		used = n - len(p.buf)
		p.buf = nil
	} else if err == nil {
		used = n
	}
	if err != nil {
		c.consume(in, len(in))
		status, reason := httphead.ErrorStatus(err)
		c.refuse(status, reason)
		return
	}
	if !p.authenticate(c, &r) {
		c.consume(in, len(in))
		c.refuse(407, "proxy authentication required", `Proxy-Authenticate: Basic realm="lucid"`+"\r\n")
		return
	}
	l := &c.log
	l.host, l.port = string(r.Host), r.Port
	l.decision = c.h.cfg.Decide(l.org, l.host, l.port)
	decisions(l.decision.Action).Inc()
	switch {
	case l.decision.Action == policy.Block:
		c.consume(in, len(in))
		l.answered(c, string(r.Method), l.target(), 403)
		c.refuse(403, "blocked by policy ("+l.decision.Rule+")")
		return
	case !r.Connect:
		// Plain HTTP: nothing to decrypt, so inspect and bypass both relay
		// it; the access log sees it either way.
		head := src[:n]
		t := startPlain(c, head, &r)
		c.consume(in, used)
		c.enter(t)
		return
	}
	c.consume(in, used)
	if l.decision.Action == policy.Bypass {
		c.enter(startTunnel(c, nil))
	} else {
		tc := tlsmitm.NewServer(c.Loop.TLS)
		// A session resumes only within the organisation whose leaf
		// authenticated it.
		tc.SetSessionContext([]byte(l.org))
		c.Deadline = time.Now().Add(c.h.cfg.HandshakeTimeout)
		c.enter(&awaitHello{tls: tc})
	}
	c.write(connectEstablished)
}

// authenticate finds the client's user and organisation.
func (p *awaitRequest) authenticate(c *conn, r *httphead.ProxyRequest) bool {
	c.log.org, c.log.user = c.h.cfg.DefaultOrg, ""
	if c.h.cfg.Authenticate == nil {
		return true
	}
	user, org, ok := c.h.cfg.Authenticate(r.ProxyAuthorization)
	if ok {
		c.log.user, c.log.org = user, org
	}
	return ok
}

// refuse answers the proxy request with an error and ends the connection.
func (c *conn) refuse(status int, reason string, header ...string) {
	c.write(httphead.ErrorResponse(status, reason, header...))
	c.h.cfg.Logger.Info("proxy request refused", "client", c.Gnet.RemoteAddr().String(), "status", status, "reason", reason)
	c.finish()
}
