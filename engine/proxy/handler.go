package proxy

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/origin"
)

// handler is the proxy's gnet event handler: it accepts connections, hands
// each event to its connection (conn.go), and sweeps deadlines.
type handler struct {
	gnet.BuiltinEventEngine
	cfg       Config
	loops     *engine.Loops
	run       *engine.Runner
	open      atomic.Int64
	draining  atomic.Bool
	origins   *origin.Dialer
	untrusted *certcache.Issuer
	// caches[i] is loop i's leaf cache, made on its first use, on the loop.
	caches []*certcache.Cache
	// logs[i] is loop i's access-log buffer, written only on loop i; nil
	// when there is no access log.
	logs []*accesslog.LoopLog
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.run.Boot(eng)
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ls := h.loops.Get(c.EventLoop())
	if ls == nil {
		return nil, gnet.Close
	}
	if h.draining.Load() {
		return httphead.ErrorResponse(503, "the proxy is shutting down"), gnet.Close
	}
	if h.open.Load() >= int64(h.cfg.MaxConnections) {
		proxyRefusedFull.Inc()
		return httphead.ErrorResponse(503, "the proxy is at its connection limit"), gnet.Close
	}
	h.open.Add(1)
	engine.ConnsAccepted.Inc()
	c.SetContext(newConn(h, ls, c))
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	if pc, ok := c.Context().(*conn); ok {
		pc.Loop.Conns.Remove(&pc.Conn)
		pc.closed()
		c.SetContext(nil)
		h.open.Add(-1)
		engine.ConnsClosed.Inc()
	}
	return gnet.None
}

// OnTraffic runs for client bytes, and for a Wake from work that finished
// off the loop (inbox.go).
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	c.Context().(*conn).step()
	return gnet.None
}

// OnTick sweeps the loops: deadlines, and relays waiting for the client to
// read its backlog.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.loops.Sweep(func(ls *engine.Loop, now time.Time) {
		ls.Conns.Each(func(ec *engine.Conn) {
			if pc, ok := ec.Gnet.Context().(*conn); ok {
				pc.tick(now)
			}
		})
	})
	return 100 * time.Millisecond, gnet.None
}

// cacheFor returns the loop's leaf cache, made on first use on the loop.
func (h *handler) cacheFor(ls *engine.Loop) *certcache.Cache {
	if c := h.caches[ls.Index]; c != nil {
		return c
	}
	cfg := h.cfg.Cache
	loop := ls.EventLoop
	cfg.RunOnLoop = func(f func()) {
		_ = loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { f(); return nil }))
	}
	h.caches[ls.Index] = certcache.New(cfg)
	return h.caches[ls.Index]
}

// closeCaches destroys the leaf keys once the loops have stopped.
func (h *handler) closeCaches() {
	for _, c := range h.caches {
		if c != nil {
			c.Close()
		}
	}
}
