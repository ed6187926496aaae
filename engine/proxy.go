package engine

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/origin"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// Proxy actions, as a policy decides them.
const (
	ActionInspect = "inspect"
	ActionBypass  = "bypass"
	ActionBlock   = "block"
)

// Decision is what policy says about one destination.
type Decision struct {
	Action string
	Rule   string // what matched, for the logs
}

// KeySource gives the organisation's issuer for minting; package keyclient
// is one. Issuer may block (it fetches from the CA) and is called off the
// loops. An error carrying a fail mode (see FailMode) says the org's
// traffic must not be decrypted.
type KeySource interface {
	Issuer(ctx context.Context, org string) (*certcache.Issuer, error)
}

// FailMode extracts "tunnel" or "block" from a KeySource error that means
// "no key"; ok is false for any other error.
type FailMode func(err error) (mode string, ok bool)

// ProxyConfig configures the inspecting proxy.
type ProxyConfig struct {
	Addr   string
	Loops  int
	Logger *slog.Logger
	// Authenticate maps a Proxy-Authorization value to a user and org; nil
	// means no authentication and every client belongs to DefaultOrg.
	Authenticate func(proxyAuthorization []byte) (user, org string, ok bool)
	DefaultOrg   string
	// Decide applies the org's policy to a destination.
	Decide func(org, host string, port int) Decision
	Keys   KeySource
	// NoKey recognises the KeySource's "no key" errors.
	NoKey FailMode
	// Resolve overrides DNS for a destination ("host:port" to dial); nil
	// dials host:port as asked.
	Resolve func(host string, port int) string
	// UpstreamRoots verify origins; nil means the system roots.
	UpstreamRoots *x509.CertPool
	// AllowInvalidUpstream says, per org, whether an origin whose
	// certificate fails verification is passed on with a leaf from an
	// untrusted signer (the browser then warns) rather than answered with
	// a 502 page naming the reason.
	AllowInvalidUpstream func(org string) bool
	// Timeouts; zero means 10 s, 15 s and 5 min.
	RequestTimeout, HandshakeTimeout, IdleTimeout time.Duration
	// MaxBuffered bounds each direction's bytes in flight per connection;
	// zero means 256 KiB.
	MaxBuffered int
	// MaxConnections bounds open client connections; zero means 10000.
	MaxConnections int
	// KeyMemory is each loop's slab; zero means 8 MiB.
	KeyMemory int
	// Cache bounds each loop's leaf cache.
	Cache certcache.Config
	// BlockPath applies the org's URL rules to an inspected request; a
	// blocked one is answered 403 and never reaches the origin. nil blocks
	// nothing.
	BlockPath func(org, host, path string) (rule string, blocked bool)
	// AccessLog receives one line per request; nil logs nothing.
	AccessLog *accesslog.Logger
	// SessionCacheSize bounds upstream TLS session resumption (per origin);
	// zero turns it off.
	SessionCacheSize int
	// NoTickets turns off session resumption for clients: no session
	// tickets are issued, and every client handshake is a full one.
	NoTickets bool
}

// ProxyServer is a running inspecting proxy. Its methods are safe for
// concurrent use.
type ProxyServer struct {
	handler *proxyHandler
	run     *runner
}

// StartProxy starts the proxy and returns once it accepts connections.
func StartProxy(cfg ProxyConfig) (*ProxyServer, error) {
	if cfg.Decide == nil || cfg.Keys == nil {
		return nil, errors.New("engine: the proxy needs a policy and a key source")
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.NoKey == nil {
		cfg.NoKey = func(error) (string, bool) { return "", false }
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 15 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 256 << 10
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 10000
	}
	if cfg.KeyMemory <= 0 {
		cfg.KeyMemory = secmem.DefaultSize
	}
	addr, reusePort, err := resolveListenAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	h := &proxyHandler{cfg: cfg, run: newRunner()}
	h.origins = origin.NewDialer(origin.Config{
		Roots:            cfg.UpstreamRoots,
		Resolve:          cfg.Resolve,
		SessionCacheSize: cfg.SessionCacheSize,
		HandshakeTimeout: cfg.HandshakeTimeout,
	})
	h.untrusted, err = newUntrustedIssuer()
	if err != nil {
		return nil, err
	}
	// The client side's certificate is always chosen later: the callback
	// only parks the handshake until the origin has answered.
	// A resumable hello parks as well (ParkResumed): the origin must be
	// reached and checked before any client handshake completes.
	base := &tlsmitm.Config{
		GetCertificate: func(*tlsmitm.ClientHello) (*tlsmitm.Certificate, error) { return nil, nil },
		ParkResumed:    true,
		LegacyHandoff:  true, // TLS 1.2 clients are served by crypto/tls (proxylegacy.go)
	}
	if err := startLoops(h, h.run, &h.loops, base, cfg.NoTickets, addr, cfg.Loops, reusePort, cfg.KeyMemory, cfg.Logger); err != nil {
		return nil, err
	}
	return &ProxyServer{handler: h, run: h.run}, nil
}

// Addr is the proxy's listening address.
func (s *ProxyServer) Addr() string { return s.run.addr }

// Open reports how many client connections are open.
func (s *ProxyServer) Open() int { return int(s.handler.open.Load()) }

// Stop closes the listener and every connection and waits for the loops.
func (s *ProxyServer) Stop(ctx context.Context) error { return s.run.stop(ctx) }

// Drain stops taking new connections (they get 503), lets open ones
// finish until ctx is done, and then stops the proxy, closing what is left.
func (s *ProxyServer) Drain(ctx context.Context) error {
	s.handler.draining.Store(true)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.Open() > 0 {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Stop(stopCtx)
		case <-t.C:
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Stop(stopCtx)
}

// Wait blocks until the proxy stops.
func (s *ProxyServer) Wait() error { return s.run.wait() }

type proxyHandler struct {
	gnet.BuiltinEventEngine
	cfg       ProxyConfig
	loops     loops
	run       *runner
	open      atomic.Int64
	draining  atomic.Bool
	origins   *origin.Dialer
	untrusted *certcache.Issuer
}

func (h *proxyHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.run.boot(eng)
	return gnet.None
}

func (h *proxyHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ls := h.loops.get(c.EventLoop())
	if ls == nil {
		return nil, gnet.Close
	}
	if h.draining.Load() {
		return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), gnet.Close
	}
	if h.open.Load() >= int64(h.cfg.MaxConnections) {
		proxyRefusedFull.Inc()
		return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), gnet.Close
	}
	h.open.Add(1)
	connsAccepted.Inc()
	pc := &proxyConn{h: h, ls: ls, gc: c, started: time.Now()}
	pc.cs = connState{gc: c, loop: ls, deadline: time.Now().Add(h.cfg.RequestTimeout), px: pc}
	ls.conns.add(&pc.cs)
	c.SetContext(pc)
	return nil, gnet.None
}

func (h *proxyHandler) OnClose(c gnet.Conn, _ error) gnet.Action {
	if pc, ok := c.Context().(*proxyConn); ok {
		pc.ls.conns.remove(&pc.cs)
		pc.release()
		c.SetContext(nil)
		h.open.Add(-1)
		connsClosed.Inc()
	}
	return gnet.None
}

func (h *proxyHandler) OnTraffic(c gnet.Conn) gnet.Action {
	pc := c.Context().(*proxyConn)
	pc.onTraffic()
	return gnet.None
}

// OnTick sweeps the loops: deadlines, and relays waiting for the client to
// read its backlog.
func (h *proxyHandler) OnTick() (time.Duration, gnet.Action) {
	h.loops.sweep(func(ls *loopState, now time.Time) {
		for cs, next := ls.conns.head, (*connState)(nil); cs != nil; cs = next {
			next = cs.next
			if cs.px != nil {
				cs.px.tick(now)
			}
		}
	})
	return 100 * time.Millisecond, gnet.None
}

// cacheFor returns the loop's leaf cache, made on first use on the loop.
func (h *proxyHandler) cacheFor(ls *loopState) *certcache.Cache {
	if ls.cache == nil {
		cfg := h.cfg.Cache
		loop := ls.loop
		cfg.RunOnLoop = func(f func()) {
			_ = loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { f(); return nil }))
		}
		ls.cache = certcache.New(cfg)
	}
	return ls.cache
}
