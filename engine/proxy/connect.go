package proxy

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// awaitRequest is the first phase: the proxy request, a CONNECT or a plain
// http:// request (DESIGN.md, data path step 2). It admits the client,
// has its credentials checked off the loop (authenticating), asks policy
// about the target and answers: refused (403, 407, 429, 400), or on to a
// tunnel, a plain relay or the client's ClientHello.
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
	} else if err == nil {
		used = n
	}
	if err != nil {
		p.buf = nil
		c.consume(in, len(in))
		status, reason := httphead.ErrorStatus(err)
		c.log.answered(c, "", "", status) // nothing of it can be trusted to name it
		c.refuse(status, reason)
		return
	}
	client := clientAddr(c)
	if allow := c.h.cfg.AllowClient; allow != nil && !allow(client) {
		p.buf = nil
		refuseAdmission(c, &r, 403, "this proxy serves only local clients without authentication")
		c.consume(in, len(in))
		return
	}
	// The head is kept (wiped later) past this turn: the credential check
	// may run off the loop, and a plain request's head is relayed.
	head := slices.Clone(src[:n])
	r, _, _ = httphead.ParseProxyRequest(head) // consume wipes what r aliased
	p.buf = nil
	c.consume(in, used)
	if c.h.cfg.Authenticate == nil {
		c.log.org = c.h.cfg.DefaultOrg
		target(c, head)
		return
	}
	if lim := c.h.cfg.AuthLimit; lim != nil && !lim.Allow(client) {
		authRateLimited.Inc()
		refuseAdmission(c, &r, 429, "too many failed proxy authentications from this address; try again later")
		wipe(head)
		return
	}
	if r.ProxyAuthorization == nil {
		refuseAdmission(c, &r, 407, "proxy authentication required", proxyAuthenticate)
		wipe(head)
		return
	}
	a := &authenticating{head: head}
	credential := slices.Clone(r.ProxyAuthorization)
	check := c.h.cfg.Authenticate
	go func() {
		// Verifying a password hash is slow on purpose: never on the loop.
		user, org, ok := check(credential)
		wipe(credential)
		c.post(a, authenticated{a, user, org, ok})
	}()
	c.enter(a)
}

// clientAddr is the client's IP address.
func clientAddr(c *conn) netip.Addr {
	if ta, ok := c.Gnet.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// authenticating waits for the client's credentials to be checked off the
// loop. What the client sends meanwhile waits in gnet, within maxHeld.
type authenticating struct {
	quiet
	head []byte // the proxy request's head, wiped once acted on
}

func (p *authenticating) input(c *conn) {
	if c.Gnet.InboundBuffered() > maxHeld {
		c.consume(c.peek(), c.Gnet.InboundBuffered())
		c.fail("client sent too much before its credentials were checked", nil)
	}
}

func (p *authenticating) release() bool {
	wipe(p.head)
	p.head = nil
	return false
}

// authenticated is the result of the credential check.
type authenticated struct {
	to        *authenticating
	user, org string
	ok        bool
}

func (a authenticated) apply(c *conn) {
	p := a.to
	head := p.head
	p.head = nil
	if !a.ok {
		if lim := c.h.cfg.AuthLimit; lim != nil {
			lim.Failed(clientAddr(c))
		}
		r, _, _ := httphead.ParseProxyRequest(head) // parsed before; cannot fail
		refuseAdmission(c, &r, 407, "proxy authentication required", proxyAuthenticate)
		wipe(head)
		return
	}
	c.log.user, c.log.org = a.user, a.org
	target(c, head)
}

func (authenticated) drop() {}

// target acts on the proxy request of an admitted client, whose head it
// takes over: policy on the destination, then a tunnel, a plain relay or
// the client's ClientHello.
func target(c *conn, head []byte) {
	r, _, err := httphead.ParseProxyRequest(head)
	if err != nil { // parsed before; cannot fail
		wipe(head)
		c.refuse(400, "malformed proxy request")
		return
	}
	l := &c.log
	l.host, l.port = string(r.Host), r.Port
	l.decision = c.h.cfg.Decide(l.org, l.host, l.port)
	if check := c.h.cfg.CheckTarget; check != nil {
		l.decision = policy.Stricter(l.decision, check(l.org, l.host, l.port, !r.Connect))
	}
	decisions(l.decision.Action).Inc()
	if l.decision.Action == policy.Block {
		method, url := string(r.Method), l.target() // r aliases head, wiped next
		if !r.Connect {
			url = string(r.Head.Target)
		}
		wipe(head)
		l.answered(c, method, url, 403)
		c.refuse(403, "blocked by policy ("+l.decision.Rule+")")
		return
	}
	if !r.Connect {
		// Plain HTTP: nothing to decrypt, so inspect and bypass both frame
		// and judge it; the access log sees it either way.
		c.enter(startPlain(c, head, &r))
		return
	}
	wipe(head)
	if l.decision.Action == policy.Bypass && !l.admitTunnel(c) {
		// A tunnel is logged when it ends: its room is held from now on
		// (accesslog.go).
		l.tunnelRefused(c)
		c.refuse(503, logFullReason)
		return
	}
	// Inspected or bypassed, the client's hello is read: a bypass applies
	// only when the name it asks for (the SNI) is bypassed too.
	tc := tlsmitm.NewServer(c.Loop.TLS)
	// A session resumes only within the organisation whose leaf
	// authenticated it.
	tc.SetSessionContext([]byte(l.org))
	c.Deadline = time.Now().Add(c.h.cfg.HandshakeTimeout)
	c.enter(&awaitHello{tls: tc})
	c.write(connectEstablished)
}

const proxyAuthenticate = `Proxy-Authenticate: Basic realm="lucid"` + "\r\n"

// refuseAdmission refuses a client before its request is judged (not
// allowed, not authenticated, rate-limited), logging the request by its
// method and target; never by its credential, which the log has no field
// for. r may alias a head the caller wipes afterwards.
func refuseAdmission(c *conn, r *httphead.ProxyRequest, status int, reason string, header ...string) {
	l := &c.log
	l.host, l.port = string(r.Host), r.Port
	url := l.target()
	if !r.Connect {
		url = string(r.Head.Target)
	}
	l.answered(c, string(r.Method), url, status)
	c.refuse(status, reason, header...)
}

// refuse answers the proxy request with an error and ends the connection.
func (c *conn) refuse(status int, reason string, header ...string) {
	c.write(httphead.ErrorResponse(status, reason, header...))
	c.h.cfg.Logger.Info("proxy request refused", "client", c.Gnet.RemoteAddr().String(), "status", status, "reason", reason)
	c.finish()
}

// wipe zeroes a copy of a request head or a credential.
func wipe(b []byte) { clear(b) }
