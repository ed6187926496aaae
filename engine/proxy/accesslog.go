package proxy

import (
	"net"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
)

// Every request the edge serves is logged. A line is written when what
// it describes ends (a request with its response, a tunnel with its
// totals), but whether a request is served is decided at its admission,
// before any byte of it reaches the origin. So a request is admitted only
// with room set aside for its line in its loop's access-log buffer
// (accesslog.LoopLog.Reserve), and its line is written into that room at
// the end, where it cannot be refused. In Refuse mode (the default) a
// request the buffer has no room for is answered 503 (logFullReason) and
// goes nowhere: an inspected or plain HTTP/1.1 request (inspect.go), an
// HTTP/2 stream (h2.go), or the CONNECT of a bypassed tunnel, before its
// 200 (connect.go); a bypassed tunnel's room grows to the SNI its hello
// names, and one that cannot grow ends the handshake with an alert,
// before anything is dialed (hello.go, origin.go). Drop and Block hold no
// room: there a line takes its chance, or waits, when it is written.
//
// What holds no room: the edge's own answers (400, 403, 407, 502…), whose
// requests never reach the origin, and an upgraded connection's totals,
// whose request has its own line. Those lines are refused, and counted,
// when the buffer is full.

// logFullReason is the 503 page for a request the access log has no room
// for.
const logFullReason = "the proxy's access log cannot keep up; try again shortly"

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
	lines     int // lines written for this connection
	// tunnelRoom is the room held for a bypassed tunnel's line, from its
	// CONNECT until it ends.
	tunnelRoom accesslog.Room
}

// pendingRequest is a relayed request waiting for its response.
type pendingRequest struct {
	method, url string
	start       time.Time
	in          int64
	head        bool
	room        accesslog.Room // held for its line since its admission
}

// loopLog is the access-log buffer of the connection's loop.
func (c *conn) loopLog() *accesslog.LoopLog { return c.h.logs[c.Loop.Index] }

// target is the CONNECT target as the log writes it.
func (l *connLog) target() string { return net.JoinHostPort(l.host, strconv.Itoa(l.port)) }

// admit sets room aside for the line of a request about to be served,
// started at start; false when there is none and the request must be
// refused (logFullReason).
func (l *connLog) admit(c *conn, method, url string, start time.Time) (accesslog.Room, bool) {
	ll := c.loopLog()
	if ll == nil {
		return accesslog.Room{}, true
	}
	e := l.line(c, method, url, 0, 0, 0, start, l.decision)
	return ll.Reserve(&e)
}

// admitTunnel sets room aside for a bypassed tunnel's line as it stands
// now, or grows the room it holds; false when it cannot, and the tunnel
// must be refused (tunnelRefused).
func (l *connLog) admitTunnel(c *conn) bool {
	ll := c.loopLog()
	if ll == nil {
		return true
	}
	e := l.line(c, "CONNECT", l.target(), 0, 0, 0, l.started, l.decision)
	return ll.Resize(&l.tunnelRoom, &e)
}

// tunnelRefused marks a tunnel refused because the log has no room for
// its line: it gets no line.
func (l *connLog) tunnelRefused(c *conn) {
	l.loggedEnd = true
	l.releaseTunnel(c)
	refusedForLog()
}

// releaseTunnel gives back a tunnel's room once the connection is not to
// be tunnelled after all: inspected, each request holds its own.
func (l *connLog) releaseTunnel(c *conn) {
	c.loopLog().Release(l.tunnelRoom)
	l.tunnelRoom = accesslog.Room{}
}

// refusedForLog counts a request refused for want of room in the log,
// which has counted the line it refused
// (lucid_access_log_dropped_total{overflow="refuse"}).
func refusedForLog() { engine.HTTPRequests.Inc() }

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
	l.entryIn(c, r.room, r.method, r.url, status, r.in, size, r.start, l.decision)
}

// tunnelLine writes the CONNECT's line, in the tunnel's room if it holds
// one: a tunnel that ended, or one answered after its 200.
func (l *connLog) tunnelLine(c *conn, status int) {
	l.loggedEnd = true
	room := l.tunnelRoom
	l.tunnelRoom = accesslog.Room{}
	l.entryIn(c, room, "CONNECT", l.target(), status, l.bytesIn, l.bytesOut, l.started, l.decision)
}

// close writes what is left when a connection ends: requests whose
// responses never completed, or one line for a tunnel or an opaque stream
// (HTTP/2, WebSocket) whose requests are not parsed, or for a CONNECT that
// carried no request at all (its client's TLS failed or never came, or it
// sent nothing): every CONNECT answered 200 has a line.
func (l *connLog) close(c *conn) {
	for _, r := range l.pending {
		l.entryIn(c, r.room, r.method, r.url, 0, r.in, 0, r.start, l.decision)
	}
	l.pending = nil
	if l.host != "" && !l.plain && (l.opaque || l.decision.Action == policy.Bypass || l.lines == 0) && !l.loggedEnd {
		l.tunnelLine(c, 0)
	}
	l.releaseTunnel(c)
}

// entry logs a line that holds no room.
func (l *connLog) entry(c *conn, method, url string, status int, in, out int64, start time.Time, d policy.Decision) {
	l.entryIn(c, accesslog.Room{}, method, url, status, in, out, start, d)
}

// entryIn logs a line into the room set aside for it.
func (l *connLog) entryIn(c *conn, room accesslog.Room, method, url string, status int, in, out int64, start time.Time, d policy.Decision) {
	engine.HTTPRequests.Inc()
	l.lines++
	ll := c.loopLog()
	if ll == nil {
		return
	}
	e := l.line(c, method, url, status, in, out, start, d)
	ll.LogIn(room, &e)
}

func (l *connLog) line(c *conn, method, url string, status int, in, out int64, start time.Time, d policy.Decision) accesslog.Entry {
	return accesslog.Entry{
		Time: start, Org: l.org, User: l.user, Client: c.Gnet.RemoteAddr().String(), SNI: l.sni,
		Method: method, URL: url, Status: status, BytesIn: in, BytesOut: out,
		Decision: d.Action.String(), Rule: d.Rule, TLSClient: l.client, TLSUpstream: l.upstream,
		UpstreamVerify: l.upVerify, Duration: time.Since(start),
	}
}
