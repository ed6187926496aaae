package engine

import (
	"errors"
	"net"
	"time"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/httphead"
)

// inspectRequests reads HTTP/1.1 request heads from the client's
// decrypted stream for the access log, skipping bodies by Content-Length.
// A chunked body or a protocol switch (WebSocket) makes the rest of the
// connection opaque: it is relayed intact and no longer parsed.
func (pc *proxyConn) inspectRequests(data []byte) {
	for len(data) > 0 && !pc.opaque {
		if pc.bodyLeft > 0 {
			n := min(int64(len(data)), pc.bodyLeft)
			pc.bodyLeft -= n
			data = data[n:]
			continue
		}
		src := data
		if len(pc.req) > 0 {
			src = append(pc.req, data...)
		}
		head, n, err := httphead.Parse(src)
		if errors.Is(err, httphead.ErrIncomplete) {
			if len(pc.req) == 0 {
				pc.req = append(pc.req, data...)
			} else {
				pc.req = src
			}
			return
		}
		if err != nil {
			pc.opaque = true // not HTTP/1.x as we know it; relay, don't judge
			pc.req = nil
			return
		}
		used := n
		if len(pc.req) > 0 {
			used = n - len(pc.req)
			pc.req = nil
		}
		pc.logHead(&head)
		data = data[used:]
		switch {
		case head.Chunked:
			pc.opaque = true
		case head.ContentLength > 0:
			pc.bodyLeft = head.ContentLength
		}
		if hasUpgrade(src[:n]) {
			pc.opaque = true
		}
	}
}

func hasUpgrade(head []byte) bool {
	return containsFold(head, "\r\nupgrade:")
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

func (pc *proxyConn) logHead(h *httphead.Head) {
	host := string(h.Host)
	if host == "" {
		host = pc.host
	}
	pc.logRequest(string(h.Method), "https://"+host+string(h.Target), 0)
}

// logRequestFrom logs a request whose head is at the start of data.
func (pc *proxyConn) logRequestFrom(data []byte, status int) {
	if h, _, err := httphead.Parse(data); err == nil {
		pc.logRequest(string(h.Method), "https://"+pc.hostOr(string(h.Host))+string(h.Target), status)
		return
	}
	pc.logRequest("", "", status)
}

func (pc *proxyConn) hostOr(h string) string {
	if h != "" {
		return h
	}
	return pc.host
}

// logRequest writes one access-log line. The response status is known for
// answers the edge gives itself; for relayed requests it is 0 (the status
// of relayed responses is not parsed yet).
func (pc *proxyConn) logRequest(method, url string, status int) {
	httpRequests.Inc()
	if pc.h.cfg.AccessLog == nil {
		return
	}
	e := accesslog.Entry{
		Time: time.Now(), Org: pc.org, User: pc.user, Client: pc.gc.RemoteAddr().String(), SNI: pc.sni,
		Method: method, URL: url, Status: status, BytesIn: pc.bytesIn, BytesOut: pc.bytesOut,
		Decision: pc.decision.Action, Rule: pc.decision.Rule, TLSUpstream: pc.upInfo,
		UpstreamVerify: pc.upVerifyErr, Duration: time.Since(pc.started),
	}
	if pc.tls != nil {
		st := pc.tls.State()
		e.TLSClient = accesslog.TLSInfo{Version: st.Version, Suite: st.CipherSuite, JA4: pc.ja4}
	}
	pc.h.cfg.AccessLog.Log(&e)
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
