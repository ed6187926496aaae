package proxy

import (
	"errors"
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
)

// inspector reads the HTTP/1.1 of one relayed connection: each request
// head from the client is checked against the org's URL rules and queued
// for the access log until its response is framed. Bodies are skipped by
// Content-Length. A chunked request body, a protocol switch (WebSocket) or
// a head it cannot parse makes the rest of the connection opaque: relayed
// intact, no longer parsed.
type inspector struct {
	c        *conn
	buf      []byte // a request head that arrived in pieces
	bodyLeft int64
	opaque   bool
	resp     *httphead.ResponseReader
}

func newInspector(c *conn) *inspector {
	in := &inspector{c: c}
	l := &c.log
	in.resp = &httphead.ResponseReader{
		IsHead: func() bool { return len(l.pending) > 0 && l.pending[0].head },
		Done:   func(status int, size int64) { l.responded(c, status, size) },
	}
	return in
}

func (in *inspector) fromClient(c *conn, s sides, data []byte) bool {
	if !in.requests(c, s, data) {
		return false // blocked, answered and ended
	}
	return s.toOrigin(c, data)
}

func (in *inspector) fromOrigin(c *conn, s sides, b []byte) bool {
	in.responses(b)
	return s.toClient(c, b)
}

// requests takes decrypted client bytes. It reports false when a request
// was blocked: answered with a 403 through s, and the connection ended, so
// nothing of it reaches the origin.
func (in *inspector) requests(c *conn, s sides, data []byte) bool {
	for len(data) > 0 && !in.opaque {
		if in.bodyLeft > 0 {
			n := min(int64(len(data)), in.bodyLeft)
			in.bodyLeft -= n
			data = data[n:]
			continue
		}
		src := data
		if len(in.buf) > 0 {
			src = append(in.buf, data...)
		}
		head, n, err := httphead.Parse(src)
		if errors.Is(err, httphead.ErrIncomplete) {
			in.buf = append(in.buf[:0:0], src...)
			return true
		}
		if err != nil {
			in.setOpaque() // not HTTP/1.x as we know it; relay, don't judge
			in.buf = nil
			return true
		}
		used := n
		if len(in.buf) > 0 {
			used = n - len(in.buf)
			in.buf = nil
		}
		host := hostOr(string(head.Host), c.log.host)
		url := "https://" + host + string(head.Target)
		preq, _ := policy.ParseRequest(string(head.Method), "https", host, string(head.Target), 443)
		if d := c.h.cfg.Judge(c.log.org, &preq); d.Action == policy.Block {
			in.block(s, string(head.Method), url, d.Rule)
			return false
		}
		req := pendingRequest{method: string(head.Method), url: url, start: time.Now(), in: int64(n)}
		req.head = req.method == "HEAD"
		if head.ContentLength > 0 {
			req.in += head.ContentLength
		}
		c.log.pending = append(c.log.pending, req)
		data = data[used:]
		switch {
		case head.Chunked:
			in.setOpaque()
		case head.ContentLength > 0:
			in.bodyLeft = head.ContentLength
		}
		if containsFold(src[:n], "\r\nupgrade:") {
			in.setOpaque() // the answer decides; the bytes after it are not HTTP
		}
	}
	return true
}

// block answers a request a URL rule blocks with a 403 page, and ends the
// connection.
func (in *inspector) block(s sides, method, url, rule string) {
	c := in.c
	resp := httphead.ErrorResponse(403, "Blocked by your organisation's policy ("+rule+").")
	c.log.entry(c, method, url, 403, 0, int64(len(resp)), time.Now(), policy.Decision{Action: policy.Block, Rule: rule})
	pathsBlocked.Inc()
	s.lastWord(c, resp)
}

// responses frames the origin's HTTP/1.1 responses so each queued request
// is logged with its status and size.
func (in *inspector) responses(b []byte) {
	if in.opaque {
		return
	}
	in.resp.Feed(b)
	if in.resp.Opaque() {
		in.setOpaque()
	}
}

func (in *inspector) setOpaque() {
	in.opaque = true
	in.c.log.opaque = true
}

func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		match := true
		for j := 0; j < len(s); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != s[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
