package proxy

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
)

// inspector frames the HTTP/1.1 of one relayed connection (RFC 9112) in
// full: every request head is judged before any byte of it goes to the
// origin, bodies are forwarded as framed, and every response is framed
// against the requests sent and logged with its request. What cannot be
// framed unambiguously, or is blocked, is answered by the edge (400, 403,
// 405, 431, 505) once the responses to what was already forwarded are
// through, and nothing of it, nor after it, reaches the origin. The
// connection turns opaque only on the origin's 101 to an Upgrade request;
// a response whose body runs to the connection's end is relayed as it
// comes, while the client's side stays framed: the rest of the request
// under way goes on, and no request after it goes anywhere (the origin
// will close, and a request it read meanwhile would be one no one judged).
type inspector struct {
	req  httphead.RequestFramer
	resp httphead.ResponseFramer
	// scheme and port are what a request's target means: "https" and 443
	// inside a TLS tunnel, "http" and 80 for plain requests (plainhttp.go).
	scheme      string
	defaultPort int
	// rewrite turns an admitted head into the bytes for the origin; nil
	// forwards it as sent.
	rewrite func(h *httphead.Head, head []byte) ([]byte, bool)
	// refusal is the edge's last word, held until the responses to the
	// requests forwarded before it are through; once set, nothing more
	// of the client's goes anywhere.
	refusal []byte
	refused bool
	opaque  bool // after a 101: both ways relayed unparsed
	toEnd   bool // a response runs to the connection's end: relayed unparsed
	// inBody: a forwarded request's body is under way; a framing error
	// there leaves the origin waiting on it, so the edge answers at once.
	inBody bool
}

// maxOutstanding bounds the pipelined requests of a connection forwarded
// and not yet answered, and with them what the edge keeps about them.
// Clients pipeline a few at most; the one beyond gets 429, once the
// answers to those before it are through, and ends the connection.
const maxOutstanding = 64

func newInspector(*conn) *inspector { return &inspector{scheme: "https", defaultPort: 443} }

func (in *inspector) fromClient(c *conn, s sides, data []byte) bool {
	switch {
	case in.refused:
		return true // dropped: the client's next words come after a refusal
	case in.opaque:
		return s.toOrigin(c, data)
	}
	for {
		ev, n, err := in.req.Next(data)
		data = data[n:]
		if err != nil {
			status, reason := httphead.ErrorStatus(err)
			if in.inBody {
				c.log.entry(c, "", "", status, 0, 0, time.Now(), c.log.decision)
				s.lastWord(c, httphead.ErrorResponse(status, reason))
				return false
			}
			return in.refuse(c, s, status, "", "", reason, c.log.decision)
		}
		switch ev.Kind {
		case httphead.EventNeedMore:
			return true
		case httphead.EventHead:
			if in.toEnd {
				// The origin is answering to its connection's end, so
				// nothing after the request under way is forwarded; the
				// request is logged as refused, unanswered (status 0).
				_, url, _ := in.request(c, &ev.Head)
				c.log.entry(c, string(ev.Head.Method), url, 0, int64(len(ev.Bytes)), 0, time.Now(),
					policy.Decision{Action: policy.Block, Rule: "after-body-to-end"})
				in.refused = true
				return true
			}
			if !in.admit(c, s, &ev.Head, ev.Bytes) {
				return false
			}
			if in.refused {
				return true
			}
			in.inBody = true
		case httphead.EventEnd:
			in.inBody = false
		case httphead.EventBody:
			if n := len(c.log.pending); n > 0 {
				c.log.pending[n-1].in += int64(len(ev.Bytes))
			}
			if !s.toOrigin(c, ev.Bytes) {
				return false
			}
		}
	}
}

// admit judges one request head and forwards it, or refuses it; false
// when the connection ended.
func (in *inspector) admit(c *conn, s sides, h *httphead.Head, head []byte) bool {
	method := string(h.Method)
	if method == "CONNECT" {
		// A tunnel inside the inspected stream would be one no one judges.
		return in.refuse(c, s, 405, method, string(h.Target), "CONNECT inside an inspected connection", c.log.decision)
	}
	req, url, err := in.request(c, h)
	if err != nil {
		return in.refuse(c, s, 400, method, url, err.Error(), c.log.decision)
	}
	if h.UpgradeUnjudged {
		return in.refuse(c, s, 400, method, url, httphead.ErrUpgradeUnjudged.Reason, c.log.decision)
	}
	d := judge(c, &req)
	if d.Action == policy.Block {
		pathsBlocked.Inc()
		return in.refuse(c, s, 403, method, url, "Blocked by your organisation's policy ("+d.Rule+").", d)
	}
	out := head
	if in.rewrite != nil {
		var ok bool
		if out, ok = in.rewrite(h, head); !ok {
			return in.refuse(c, s, 400, method, url, "a plain http:// connection carries one request", c.log.decision)
		}
	}
	if in.resp.Outstanding() >= maxOutstanding {
		// An origin that reads on without answering would have the edge
		// keep a record of every request sent to it.
		return in.refuse(c, s, 429, method, url, "more than "+strconv.Itoa(maxOutstanding)+" requests on this connection wait for the origin's answers", d)
	}
	// Its line is written with its response; the room for it is set
	// aside now, or the request goes no further (accesslog.go).
	start := time.Now()
	room, ok := c.log.admit(c, method, url, start)
	if !ok {
		refusedForLog()
		return in.answer(c, s, httphead.ErrorResponse(503, logFullReason), 503, logFullReason)
	}
	c.log.pending = append(c.log.pending, pendingRequest{method: method, url: url, start: start, in: int64(len(head)), head: method == "HEAD", room: room})
	in.resp.Sent(httphead.SentRequest{Head: method == "HEAD", Upgrade: h.Upgrade})
	return s.toOrigin(c, out)
}

// errHostMismatch: an absolute-form target and a Host field that name
// different hosts leave it to the origin which one it serves.
var errHostMismatch = errors.New("the Host field disagrees with the request target")

// request builds the policy request for a head, and the URL the log
// gives it (the raw target kept). The authority is the absolute-form
// target's when there is one (and the Host field must agree), else the
// Host field, else (HTTP/1.0 without Host) the connection's destination.
func (in *inspector) request(c *conn, h *httphead.Head) (policy.Request, string, error) {
	target := h.Target
	var authority, originForm []byte
	absolute := len(target) > 0 && target[0] != '/' && string(target) != "*"
	switch {
	case absolute:
		scheme, a, rest, err := httphead.SplitAbsolute(target)
		if err != nil {
			return policy.Request{}, string(target), err
		}
		if !bytes.EqualFold(scheme, []byte(in.scheme)) {
			return policy.Request{}, string(target), errors.New("the request target's scheme is not " + in.scheme)
		}
		authority, originForm = a, rest
		if h.Host != nil && !sameAuthority(h.Host, a, in.defaultPort) {
			return policy.Request{}, string(target), errHostMismatch
		}
	case h.Host != nil:
		authority, originForm = h.Host, target
	default:
		authority, originForm = []byte(c.log.target()), target
	}
	host, port, err := httphead.ParseAuthority(authority, in.defaultPort)
	if err != nil {
		return policy.Request{}, in.scheme + "://" + c.log.target() + string(target), err
	}
	url := string(target)
	if !absolute {
		url = in.scheme + "://" + hostPort(host, port, in.defaultPort) + url
	}
	req, err := policy.ParseRequest(string(h.Method), in.scheme, string(authority), string(originForm), in.defaultPort)
	if err != nil {
		return req, url, err
	}
	req.RawTarget = string(target)
	return req, url, nil
}

// sameAuthority reports whether two authorities name the same host and
// port.
func sameAuthority(a, b []byte, def int) bool {
	ha, pa, errA := httphead.ParseAuthority(a, def)
	hb, pb, errB := httphead.ParseAuthority(b, def)
	return errA == nil && errB == nil && pa == pb && bytes.EqualFold(ha, hb)
}

// hostPort writes a host and port for a URL, the port left off when it
// is the scheme's.
func hostPort(host []byte, port, def int) string {
	h := string(host)
	if bytes.IndexByte(host, ':') >= 0 {
		h = "[" + h + "]"
	}
	if port != def {
		h += ":" + strconv.Itoa(port)
	}
	return h
}

// refuse answers a request the edge will not forward, logs it, and ends
// the connection: at once when no response is outstanding, else once the
// responses to the requests forwarded before it are through. It reports
// whether the connection is still open.
func (in *inspector) refuse(c *conn, s sides, status int, method, url, reason string, d policy.Decision) bool {
	page := httphead.ErrorResponse(status, reason)
	c.log.entry(c, method, url, status, 0, int64(len(page)), time.Now(), d)
	return in.answer(c, s, page, status, reason)
}

// answer is refuse without the log line: the edge's page, and the
// connection's end.
func (in *inspector) answer(c *conn, s sides, page []byte, status int, reason string) bool {
	c.h.cfg.Logger.Info("request refused", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "status", status, "reason", reason)
	in.refused = true
	if in.resp.Outstanding() == 0 {
		s.lastWord(c, page)
		return false
	}
	in.refusal = page
	return true
}

// release wipes the plaintext the framers hold.
func (in *inspector) release() {
	in.req.Wipe()
	in.resp.Wipe()
}

func (in *inspector) fromOrigin(c *conn, s sides, b []byte) bool {
	if in.opaque || in.toEnd {
		return s.toClient(c, b)
	}
	out := sendRun{read: b}
	for {
		ev, n, err := in.resp.Next(b)
		b = b[n:]
		if err != nil {
			// What was framed before the desync is the client's.
			return out.flush(c, s) && in.desync(c, s, err)
		}
		switch ev.Kind {
		case httphead.EventNeedMore:
			return out.flush(c, s)
		case httphead.EventHead, httphead.EventBody:
			if !out.add(c, s, ev.Bytes) {
				return false
			}
		case httphead.EventEnd:
			c.log.responded(c, ev.Status, ev.Size)
			if in.refusal != nil && in.resp.Outstanding() == 0 {
				if out.flush(c, s) {
					s.lastWord(c, in.refusal)
				}
				return false
			}
		case httphead.EventSwitch:
			// What follows is another protocol, or a body to the end: a
			// refusal held for later can no longer be said in HTTP, and
			// the client's input stays dropped.
			c.log.responded(c, ev.Status, ev.Size)
			in.refusal = nil
			if ev.Status != 101 {
				in.toEnd = true
				return out.add(c, s, b) && out.flush(c, s)
			}
			in.opaque = true
			c.log.opaque = true
		}
	}
}

// sendRun gathers what the response framer passes on from one read of
// the origin's: consecutive runs of that read (the heads and bodies of
// pipelined responses) go to the client in one record and one write, not
// one each. Bytes from elsewhere (a head the framer assembled from
// pieces) are sent in order, as they come.
type sendRun struct {
	read       []byte
	start, end int // read[start:end] is framed and not yet sent
}

func (r *sendRun) add(c *conn, s sides, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	off := cap(r.read) - cap(p)
	if off < 0 || off+len(p) > len(r.read) || &r.read[off] != &p[0] {
		return r.flush(c, s) && s.toClient(c, p)
	}
	if off == r.end && r.end > r.start {
		r.end += len(p)
		return true
	}
	if !r.flush(c, s) {
		return false
	}
	r.start, r.end = off, off+len(p)
	return true
}

// flush sends what is gathered; false when the connection ended.
func (r *sendRun) flush(c *conn, s sides) bool {
	if r.end == r.start {
		return true
	}
	p := r.read[r.start:r.end]
	r.start, r.end = 0, 0
	return s.toClient(c, p)
}

// desync ends a connection whose origin answered out of step with the
// requests: nothing after that point can be paired with a request, so
// the connection ends, the request it answered logged as 502.
func (in *inspector) desync(c *conn, s sides, err error) bool {
	c.h.cfg.Logger.Info("response desync", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "err", err.Error())
	if len(c.log.pending) > 0 {
		c.log.responded(c, 502, 0)
	}
	s.lastWord(c, nil)
	return false
}
