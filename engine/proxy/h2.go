package proxy

import (
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
}

func newH2Inspection(c *conn) *h2inspection {
	return &h2inspection{bridge: h2bridge.New(h2bridge.Config{
		Judge:       func(r *h2bridge.Request) h2bridge.Verdict { return judgeStream(c, r) },
		Log:         func(s *h2bridge.StreamLog) { logStream(c, s) },
		MaxBuffered: c.h.cfg.MaxBuffered,
	})}
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
func logStream(c *conn, s *h2bridge.StreamLog) {
	d := c.log.decision
	if !s.Verdict.Allow && s.Verdict.Rule != "" {
		d = policy.Decision{Action: policy.Block, Rule: s.Verdict.Rule}
	}
	url := s.Scheme + "://" + s.Authority + s.Path
	if s.Scheme == "" {
		url = s.Authority
	}
	c.log.entry(c, s.Method, url, s.Status, s.BytesIn, s.BytesOut, s.Start, d)
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
