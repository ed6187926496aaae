package terminate

import (
	"crypto/tls"
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/httphead"
)

// TLS 1.2 clients are handed to crypto/tls over the engine's bridge
// (engine/legacy.go), and answered here like the TLS 1.3 ones.

// startLegacy hands cs over to crypto/tls. It runs on the loop.
func (h *handler) startLegacy(c gnet.Conn, cs *conn) {
	lc := engine.NewLegacyConn(c)
	cs.legacy = lc
	// The goroutine keeps its own deadlines; the loop's sweep leaves the
	// connection alone.
	cs.Deadline = time.Now().Add(100 * 365 * 24 * time.Hour)
	engine.TLS12Handoffs.Inc()
	h.cfg.Logger.Info("TLS 1.2 client handed off to crypto/tls", "remote", c.RemoteAddr().String())
	h.legacyOnce.Do(func() { h.legacyCfg = engine.LegacyTLSConfig(h.cfg.Certificate) })
	go h.serveLegacy(lc)
}

// legacyTraffic is OnTraffic for a handed-off connection.
func (h *handler) legacyTraffic(c gnet.Conn, cs *conn) gnet.Action {
	if c.OutboundBuffered() > engine.MaxPendingOutput {
		h.cfg.Logger.Info("client does not read its responses; closing", "remote", c.RemoteAddr().String())
		engine.ConnsOverflowed.Inc()
		return gnet.Close
	}
	if cs.legacy.Ended() {
		engine.Discard(c, c.InboundBuffered())
	} else {
		cs.legacy.Feed(c)
	}
	return gnet.None
}

// serveLegacy runs the TLS 1.2 handshake and answers requests like the
// TLS 1.3 path does.
func (h *handler) serveLegacy(lc *engine.LegacyConn) {
	tc := tls.Server(lc, h.legacyCfg)
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(h.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		h.cfg.Logger.Info("tls 1.2 connection refused", "remote", lc.RemoteAddr().String(), "err", err.Error())
		return
	}
	engine.HandshakesDone.Inc()
	buf := make([]byte, 0, 4096)
	var bodyLeft int64
	for {
		off := 0
		for off < len(buf) {
			if bodyLeft > 0 {
				n := min(int64(len(buf)-off), bodyLeft)
				bodyLeft -= n
				off += int(n)
				continue
			}
			head, n, err := httphead.Parse(buf[off:])
			if err == httphead.ErrIncomplete {
				break
			}
			if err != nil {
				_, _ = tc.Write(refusal(err))
				return
			}
			if head.Chunked {
				_, _ = tc.Write(refusal(&httphead.Error{Status: 501, Reason: "chunked request bodies are not supported here"}))
				return
			}
			engine.HTTPRequests.Inc()
			off += n
			bodyLeft = max(head.ContentLength, 0)
			if head.Close {
				_, _ = tc.Write(responseClose)
				return
			}
			if _, err := tc.Write(responseKeepAlive); err != nil {
				return
			}
		}
		buf = buf[:copy(buf, buf[off:])] // keep only an unfinished head
		_ = tc.SetDeadline(time.Now().Add(h.cfg.IdleTimeout))
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := tc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
	}
}
