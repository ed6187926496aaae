package proxy

import (
	"net"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
)

// connLog is what the access log says about a connection, gathered as its
// phases learn it: who, where to, what policy decided, both TLS sessions,
// and the requests still waiting for their responses.
type connLog struct {
	started   time.Time
	user, org string
	host      string // the CONNECT target, or a plain request's host
	port      int
	decision  policy.Decision
	sni       string
	client    accesslog.TLSInfo // the client's JA4, then its session once the handshake completes
	upstream  accesslog.TLSInfo
	upVerify  string // why the origin's certificate did not verify; "" when it did
	bytesIn   int64
	bytesOut  int64
	pending   []pendingRequest // relayed requests waiting for their responses, oldest first
	plain     bool             // a plain http:// request, relayed without TLS
	opaque    bool             // HTTP/2 or a protocol switch: relayed without parsing
	loggedEnd bool
}

// pendingRequest is a relayed request waiting for its response.
type pendingRequest struct {
	method, url string
	start       time.Time
	in          int64
	head        bool
}

// target is the CONNECT target as the log writes it.
func (l *connLog) target() string { return net.JoinHostPort(l.host, strconv.Itoa(l.port)) }

// answered logs an answer the edge gives itself (403, 502) to a request,
// or to the CONNECT.
func (l *connLog) answered(c *conn, method, url string, status int) {
	l.entry(c, method, url, status, 0, 0, l.started, l.decision)
}

// responded logs the oldest pending request with its response.
func (l *connLog) responded(c *conn, status int, size int64) {
	if len(l.pending) == 0 {
		return // an answer to nothing we saw: not ours to log
	}
	r := l.pending[0]
	l.pending = l.pending[1:]
	if len(l.pending) == 0 {
		l.pending = nil // an idle connection keeps no request bookkeeping
	}
	l.entry(c, r.method, r.url, status, r.in, size, r.start, l.decision)
}

// close writes what is left when a connection ends: requests whose
// responses never completed, or one line for a tunnel or an opaque stream
// (HTTP/2, WebSocket) whose requests are not parsed.
func (l *connLog) close(c *conn) {
	for _, r := range l.pending {
		l.entry(c, r.method, r.url, 0, r.in, 0, r.start, l.decision)
	}
	l.pending = nil
	if l.host != "" && !l.plain && (l.opaque || l.decision.Action == policy.Bypass) && !l.loggedEnd {
		l.loggedEnd = true
		l.entry(c, "CONNECT", l.target(), 0, l.bytesIn, l.bytesOut, l.started, l.decision)
	}
}

func (l *connLog) entry(c *conn, method, url string, status int, in, out int64, start time.Time, d policy.Decision) {
	engine.HTTPRequests.Inc()
	if c.h.cfg.AccessLog == nil {
		return
	}
	e := accesslog.Entry{
		Time: start, Org: l.org, User: l.user, Client: c.Gnet.RemoteAddr().String(), SNI: l.sni,
		Method: method, URL: url, Status: status, BytesIn: in, BytesOut: out,
		Decision: d.Action.String(), Rule: d.Rule, TLSClient: l.client, TLSUpstream: l.upstream,
		UpstreamVerify: l.upVerify, Duration: time.Since(start),
	}
	c.h.cfg.AccessLog.Log(&e)
}
