package proxy

import (
	"time"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/h2bridge"
	"github.com/lucid-edge/lucid/internal/policy"
)

// h2inspection is an inspected connection on which the origin chose
// HTTP/2: the bridge (internal/h2bridge) speaks HTTP/2 to both sides, each
// stream's request is judged before any of it goes to the origin, and
// every stream is logged with its response.
type h2inspection struct {
	bridge  *h2bridge.Bridge
	out     h2bridge.Output
	started bool
	// rooms holds the access-log room set aside for each allowed stream's
	// line when it was judged, until the stream is logged.
	rooms map[uint32]accesslog.Room
}

func newH2Inspection(c *conn) *h2inspection {
	h := &h2inspection{}
	h.bridge = h2bridge.New(h2bridge.Config{
		Judge:       func(r *h2bridge.Request) h2bridge.Verdict { return h.judge(c, r) },
		Log:         func(s *h2bridge.StreamLog) { h.log(c, s) },
		MaxBuffered: c.h.cfg.MaxBuffered,
	})
	return h
}

// logFullRule marks the verdict on a stream the access log had no room
// for: answered 503, and not logged.
const logFullRule = "access-log-full"

// judge judges a stream (judgeStream) and admits an allowed one only
// with room for its line in the access log (accesslog.go): a stream
// without is answered 503 and never reaches the origin.
func (h *h2inspection) judge(c *conn, r *h2bridge.Request) h2bridge.Verdict {
	v := judgeStream(c, r)
	if !v.Allow {
		return v
	}
	room, ok := c.log.admit(c, r.Method, streamURL(r.Scheme, r.Authority, r.Path), time.Now())
	if !ok {
		return h2bridge.Verdict{Status: 503, Message: logFullReason, Rule: logFullRule}
	}
	if room != (accesslog.Room{}) {
		if h.rooms == nil {
			h.rooms = make(map[uint32]accesslog.Room)
		}
		h.rooms[r.StreamID] = room
	}
	return v
}

// log writes a stream's line into the room it was admitted with.
func (h *h2inspection) log(c *conn, s *h2bridge.StreamLog) {
	if !s.Verdict.Allow && s.Verdict.Status == 503 && s.Verdict.Rule == logFullRule {
		refusedForLog()
		return
	}
	room := h.rooms[s.StreamID]
	delete(h.rooms, s.StreamID)
	logStream(c, room, s)
}

// judgeStream applies the org's policy to one stream's request. A stream
// inside the tunnel speaks for the tunnel's scheme only (https), and a
// plain CONNECT would open a tunnel no one judges (RFC 9113 §8.5).
func judgeStream(c *conn, r *h2bridge.Request) h2bridge.Verdict {
	if r.Method == "CONNECT" && r.Protocol == "" {
		return h2bridge.Verdict{Status: 405, Message: "CONNECT inside an inspected connection", Rule: "bad-request"}
	}
	if r.Scheme != "https" {
		return h2bridge.Verdict{Status: 400, Message: "only https requests travel in this connection", Rule: "bad-request"}
	}
	req, err := policy.ParseRequest(r.Method, r.Scheme, r.Authority, r.Path, 443)
	if err != nil {
		return h2bridge.Verdict{Status: 400, Message: "the request cannot be judged: " + err.Error(), Rule: "bad-request"}
	}
	d := judge(c, &req)
	if d.Action == policy.Block {
		pathsBlocked.Inc()
		return h2bridge.Verdict{Status: 403, Message: "Blocked by your organisation's policy (" + d.Rule + ").", Rule: d.Rule}
	}
	return h2bridge.Verdict{Allow: true, Rule: d.Rule}
}

// logStream writes one stream's access-log line: the connection's
// decision for an allowed stream, the refusing rule for a refused one.
func logStream(c *conn, room accesslog.Room, s *h2bridge.StreamLog) {
	d := c.log.decision
	if !s.Verdict.Allow && s.Verdict.Rule != "" {
		d = policy.Decision{Action: policy.Block, Rule: s.Verdict.Rule}
	}
	c.log.entryIn(c, room, s.Method, streamURL(s.Scheme, s.Authority, s.Path), s.Status, s.BytesIn, s.BytesOut, s.Start, d)
}

// streamURL is the URL the log gives a stream's request.
func streamURL(scheme, authority, path string) string {
	if scheme == "" {
		return authority
	}
	return scheme + "://" + authority + path
}

func (h *h2inspection) fromClient(c *conn, s sides, data []byte) bool {
	h.start()
	return h.flush(c, s, h.bridge.FromClient(data, &h.out), "client")
}

func (h *h2inspection) fromOrigin(c *conn, s sides, b []byte) bool {
	h.start()
	return h.flush(c, s, h.bridge.FromOrigin(b, &h.out), "origin")
}

// start queues the bridge's opening bytes (its SETTINGS to the client,
// the preface to the origin) ahead of the first bytes either side sends.
func (h *h2inspection) start() {
	if !h.started {
		h.started = true
		h.out.ToClient, h.out.ToOrigin = h.bridge.Start(h.out.ToClient, h.out.ToOrigin)
	}
}

// flush forwards what the bridge produced, wiping the plaintext copies,
// and ends the connection after a connection error once the bridge's
// GOAWAYs are on their way.
func (h *h2inspection) flush(c *conn, s sides, err error, side string) bool {
	ok := true
	if len(h.out.ToOrigin) > 0 {
		ok = s.toOrigin(c, h.out.ToOrigin)
	}
	if ok && len(h.out.ToClient) > 0 {
		ok = s.toClient(c, h.out.ToClient)
	}
	h.wipe()
	if ok && err != nil {
		c.h.cfg.Logger.Info("HTTP/2 connection error", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "side", side, "err", err.Error())
		s.lastWord(c, nil)
		return false
	}
	return ok
}

func (h *h2inspection) wipe() {
	clear(h.out.ToOrigin)
	clear(h.out.ToClient)
	h.out.ToOrigin, h.out.ToClient = h.out.ToOrigin[:0], h.out.ToClient[:0]
}

// release logs the streams still open and wipes the bridge's buffers.
func (h *h2inspection) release() {
	h.bridge.Close()
	h.wipe()
	h.out = h2bridge.Output{}
}
