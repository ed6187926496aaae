package engine

import (
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/httphead"
)

// pendingRequest is a relayed request waiting for its response.
type pendingRequest struct {
	method, url string
	start       time.Time
	in          int64
	head        bool
}

// inspectRequests reads HTTP/1.1 request heads from the client's
// decrypted stream: each is checked against the org's URL rules and queued
// for the access log until its response is framed. Bodies are skipped by
// Content-Length. A chunked request body or a protocol switch (WebSocket)
// makes the rest of the connection opaque: relayed intact, no longer
// parsed. It reports false when a request was blocked (and answered).
func (pc *proxyConn) inspectRequests(data []byte) bool {
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
			pc.req = append(pc.req[:0:0], src...)
			return true
		}
		if err != nil {
			pc.opaque = true // not HTTP/1.x as we know it; relay, don't judge
			pc.req = nil
			return true
		}
		used := n
		if len(pc.req) > 0 {
			used = n - len(pc.req)
			pc.req = nil
		}
		host := pc.hostOr(string(head.Host))
		path := string(head.Target)
		if rule, blocked := pc.blockedPath(host, path); blocked {
			pc.blockRequest(string(head.Method), "https://"+host+path, rule)
			return false
		}
		req := pendingRequest{method: string(head.Method), url: "https://" + host + path, start: time.Now(), in: int64(n)}
		req.head = req.method == "HEAD"
		if head.ContentLength > 0 {
			req.in += head.ContentLength
		}
		pc.reqs = append(pc.reqs, req)
		data = data[used:]
		switch {
		case head.Chunked:
			pc.opaque = true
		case head.ContentLength > 0:
			pc.bodyLeft = head.ContentLength
		}
		if containsFold(src[:n], "\r\nupgrade:") {
			pc.opaque = true // the answer decides; the bytes after it are not HTTP
		}
	}
	return true
}

func (pc *proxyConn) blockedPath(host, path string) (string, bool) {
	if pc.h.cfg.BlockPath == nil {
		return "", false
	}
	return pc.h.cfg.BlockPath(pc.org, host, path)
}

// blockRequest answers a request a URL rule blocks with a 403 page, and
// ends the connection: nothing of it reaches the origin.
func (pc *proxyConn) blockRequest(method, url, rule string) {
	body := "Blocked by your organisation's policy (" + rule + ").\n"
	resp := "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body
	pc.logEntry(method, url, 403, 0, int64(len(resp)), time.Now(), "block", rule)
	pathsBlocked.Inc()
	pc.closeWith([]byte(resp))
}

// inspectResponses frames the origin's HTTP/1.1 responses so each queued
// request is logged with its status and size.
func (pc *proxyConn) inspectResponses(b []byte) {
	if pc.resp == nil {
		pc.resp = &httphead.ResponseReader{
			IsHead: func() bool { return len(pc.reqs) > 0 && pc.reqs[0].head },
			Done: func(status int, size int64) {
				if len(pc.reqs) == 0 {
					return // an answer to nothing we saw: not ours to log
				}
				r := pc.reqs[0]
				pc.reqs = pc.reqs[1:]
				if len(pc.reqs) == 0 {
					pc.reqs = nil // an idle connection keeps no request bookkeeping
				}
				pc.logEntry(r.method, r.url, status, r.in, size, r.start, pc.decision.Action, pc.decision.Rule)
			},
		}
	}
	pc.resp.Feed(b)
	if pc.resp.Opaque() {
		pc.opaque = true
	}
}

// logClose writes what is left when a connection ends: requests whose
// responses never completed, or one line for a tunnel or an opaque stream
// (HTTP/2, WebSocket) whose requests are not parsed.
func (pc *proxyConn) logClose() {
	for _, r := range pc.reqs {
		pc.logEntry(r.method, r.url, 0, r.in, 0, r.start, pc.decision.Action, pc.decision.Rule)
	}
	pc.reqs = nil
	if pc.host != "" && !pc.plain && (pc.st == stTunnel || pc.opaque || pc.decision.Action == ActionBypass) && !pc.loggedConn {
		pc.loggedConn = true
		pc.logEntry("CONNECT", pc.host+":"+strconv.Itoa(pc.port), 0, pc.bytesIn, pc.bytesOut, pc.started, pc.decision.Action, pc.decision.Rule)
	}
}

func (pc *proxyConn) hostOr(h string) string {
	if h != "" {
		return h
	}
	return pc.host
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

// logRequest logs an answer the edge gives itself (403, 502) to a request
// at the start of data, or to the CONNECT.
func (pc *proxyConn) logRequest(method, url string, status int) {
	pc.logEntry(method, url, status, 0, 0, pc.started, pc.decision.Action, pc.decision.Rule)
}

func (pc *proxyConn) logRequestFrom(data []byte, status int) {
	if h, _, err := httphead.Parse(data); err == nil {
		pc.logRequest(string(h.Method), "https://"+pc.hostOr(string(h.Host))+string(h.Target), status)
		return
	}
	pc.logRequest("", "", status)
}

func (pc *proxyConn) logEntry(method, url string, status int, in, out int64, start time.Time, decision, rule string) {
	httpRequests.Inc()
	if pc.h.cfg.AccessLog == nil {
		return
	}
	e := accesslog.Entry{
		Time: start, Org: pc.org, User: pc.user, Client: pc.gc.RemoteAddr().String(), SNI: pc.sni,
		Method: method, URL: url, Status: status, BytesIn: in, BytesOut: out,
		Decision: decision, Rule: rule, TLSUpstream: pc.upInfo,
		UpstreamVerify: pc.upVerifyErr, Duration: time.Since(start),
	}
	switch {
	case pc.legacy != nil && pc.legacy.done:
		e.TLSClient = accesslog.TLSInfo{Version: tls.VersionTLS12, Suite: pc.legacy.suite, JA4: pc.ja4}
	case pc.tls != nil:
		st := pc.tls.State()
		e.TLSClient = accesslog.TLSInfo{Version: st.Version, Suite: st.CipherSuite, JA4: pc.ja4, Resumed: st.DidResume}
	}
	pc.h.cfg.AccessLog.Log(&e)
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
