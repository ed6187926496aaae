package proxy

import (
	"bytes"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
)

// Plain http:// requests through the proxy (absolute-form, RFC 9112
// §3.2.2) are relayed without TLS: the head is rewritten to origin-form for
// the origin, the proxy's own headers are dropped, and the connection
// carries this one request (Connection: close), then closes.

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
	sawHost := false
	for len(lines) > 0 {
		i := bytes.Index(lines, []byte("\r\n"))
		line := lines[:i+2]
		lines = lines[i+2:]
		if isHopHeader(line) {
			continue
		}
		if len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")) {
			sawHost = true
		}
		out = append(out, line...)
	}
	if !sawHost {
		out = append(out, "Host: "...)
		out = append(out, r.Host...)
		if r.Port != 80 {
			out = append(out, ':')
			out = strconv.AppendInt(out, int64(r.Port), 10)
		}
		out = append(out, "\r\n"...)
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

// startPlain relays one plain http:// request: the rewritten head goes
// first, then whatever the client sends (its body).
func startPlain(c *conn, head []byte, r *httphead.ProxyRequest) *tunnelling {
	l := &c.log
	l.plain = true
	url := "http://" + l.host
	if l.port != 80 {
		url += ":" + strconv.Itoa(l.port)
	}
	url += string(r.AppendTarget(nil))
	method := string(r.Method)
	l.pending = append(l.pending, pendingRequest{method: method, url: url, start: time.Now(), in: int64(len(head)), head: method == "HEAD"})
	t := startTunnel(c, originRequest(head, r))
	t.http = newInspector(c)
	return t
}
