package proxy

import (
	"bytes"
	"strconv"

	"github.com/lucid-edge/lucid/internal/httphead"
)

// Plain http:// requests through the proxy (absolute-form, RFC 9112
// §3.2.2) are relayed without TLS: the head is rewritten to origin-form for
// the origin, the proxy's own headers and the client's Host are dropped
// (the target names the host, §3.2.2), and the connection carries this one
// request (Connection: close), then closes.

// hopHeaders are the fields that belong to the client-proxy hop (RFC 9110
// §7.6.1) and never go to the origin.
var hopHeaders = [][]byte{
	[]byte("proxy-authorization:"), []byte("proxy-connection:"), []byte("connection:"),
	[]byte("keep-alive:"), []byte("te:"), []byte("trailer:"), []byte("upgrade:"),
}

// originRequest rewrites an absolute-form head (ending in CRLF CRLF) for
// the origin.
func originRequest(head []byte, r *httphead.ProxyRequest) []byte {
	out := make([]byte, 0, len(head)+32)
	out = append(out, r.Method...)
	out = append(out, ' ')
	out = r.AppendTarget(out)
	out = append(out, " HTTP/1.1\r\n"...)
	lines := head[bytes.Index(head, []byte("\r\n"))+2 : len(head)-2]
	out = append(out, "Host: "...)
	if bytes.IndexByte(r.Host, ':') >= 0 {
		out = append(append(append(out, '['), r.Host...), ']')
	} else {
		out = append(out, r.Host...)
	}
	if r.Port != 80 {
		out = append(out, ':')
		out = strconv.AppendInt(out, int64(r.Port), 10)
	}
	out = append(out, "\r\n"...)
	for len(lines) > 0 {
		i := bytes.Index(lines, []byte("\r\n"))
		line := lines[:i+2]
		lines = lines[i+2:]
		if isHopHeader(line) || len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")) {
			continue
		}
		out = append(out, line...)
	}
	return append(out, "Connection: close\r\n\r\n"...)
}

func isHopHeader(line []byte) bool {
	for _, h := range hopHeaders {
		if len(line) >= len(h) && bytes.EqualFold(line[:len(h)], h) {
			return true
		}
	}
	return false
}

// startPlain takes a plain http:// request, already parsed from the
// client's first bytes (head, r): it is judged by the org's host and URL
// rules before anything is dialled, then relayed to the origin rewritten
// to origin-form, its body framed after it. The connection carries that
// one request: a pipelined one after it is refused (400), never
// forwarded. It returns the phase the connection goes on in: a
// tunnelling, or, when the request was refused, the closing it is in.
func startPlain(c *conn, head []byte, r *httphead.ProxyRequest) phase {
	c.log.plain = true
	p := &plainRequests{}
	t := &tunnelling{http: &inspector{scheme: "http", defaultPort: 80, rewrite: p.rewrite}}
	if !t.http.fromClient(c, t, head) || t.http.refused {
		return c.phase // answered and ended
	}
	t.dial(c)
	return t
}

// plainRequests rewrites the one request a plain connection carries.
type plainRequests struct{ sent bool }

func (p *plainRequests) rewrite(_ *httphead.Head, head []byte) ([]byte, bool) {
	if p.sent {
		return nil, false
	}
	r, _, err := httphead.ParseProxyRequest(head)
	if err != nil || r.Connect {
		return nil, false
	}
	p.sent = true
	return originRequest(head, &r), true
}
