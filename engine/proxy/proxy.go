// Package proxy is Lucid's inspecting proxy on the engine's loops: the
// explicit CONNECT proxy (and plain http:// requests) that decrypts what
// policy lets it, relays what it bypasses, and refuses the rest. The
// engine package's doc walks one inspected connection through this
// package, file by file.
package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/origin"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// KeySource gives the organisation's issuer for minting; package keyclient
// is one. Issuer may block (it fetches from the CA) and is called off the
// loops. An error that NoKey recognises says the org's traffic must not be
// decrypted.
type KeySource interface {
	Issuer(ctx context.Context, org string) (*certcache.Issuer, error)
}

// AuthLimiter counts failed proxy authentications per client address.
// Its methods are called from the loops and must be safe from any
// goroutine, and cheap.
type AuthLimiter interface {
	Allow(client netip.Addr) bool
	Failed(client netip.Addr)
}

// Config configures the inspecting proxy.
type Config struct {
	Addr   string
	Loops  int
	Logger *slog.Logger
	// Authenticate maps a Proxy-Authorization value to a user and org; nil
	// means no authentication and every client belongs to DefaultOrg. It
	// runs off the loops (a password hash is slow to check on purpose) and
	// must be safe from any goroutine.
	Authenticate func(proxyAuthorization []byte) (user, org string, ok bool)
	DefaultOrg   string
	// AuthLimit, when set, bounds failed authentications per client
	// address: a client over its limit gets 429 before its credentials are
	// checked.
	AuthLimit AuthLimiter
	// AllowClient admits a client by its address before anything else;
	// nil admits every client.
	AllowClient func(netip.Addr) bool
	// Decide applies the org's policy to a destination.
	Decide func(org, host string, port int) policy.Decision
	// CheckTarget, when set, checks a proxy request's target before it is
	// answered (refused ranges, ports, the edge's own listeners: see
	// policy.Destination); a Block is answered 403. plain is true for an
	// http:// request.
	CheckTarget func(org, host string, port int, plain bool) policy.Decision
	Keys        KeySource
	// NoKey recognises the KeySource's "no key" errors and says what the
	// org wants then; ok is false for any other error. nil recognises none.
	NoKey func(err error) (mode policy.FailMode, ok bool)
	// Resolve overrides DNS for a destination: the "host:port" to dial,
	// and mapped true when the operator chose it (the edge's hosts
	// section); nil dials host:port as asked.
	Resolve func(host string, port int) (target string, mapped bool)
	// CheckAddr, when set, judges every address the edge is about to dial
	// for a connection, after resolution (policy.Destination: refused
	// ranges, ports, the edge's own listeners), so a name that resolves
	// to a refused address is refused however it resolves. A Block is
	// answered 403 (a plain request, an inspected connection's first
	// request) or ends the tunnel, and the destination sees no packet.
	CheckAddr func(org, host string, addr netip.AddrPort, mapped, plain bool) policy.Decision
	// LeafNames is what names a leaf minted for the origin may carry
	// besides the SNI (policy.LeafNames): only names the org inspects, so
	// a browser never reuses an inspected connection for a blocked or
	// pinned host. nil lets the leaf carry the SNI alone.
	LeafNames func(org string, port int, sni string, sans []string) []string
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
	// Judge applies the org's host and URL rules to each inspected
	// request; a blocked one is answered 403 and never reaches the origin.
	// nil judges every request by Decide on its host and port.
	Judge func(org string, r *policy.Request) policy.Decision
	// AccessLog receives one line per request; nil logs nothing. Each
	// loop logs through its own buffer of AccessLogBuffer bytes (zero
	// means 1 MiB); AccessLogOverflow says what a full one does (see
	// package accesslog): in Refuse mode, a request its loop's buffer has
	// no room for is answered 503 and never reaches the origin. The
	// caller closes AccessLog once the proxy has stopped, which writes
	// what the buffers hold.
	AccessLog         *accesslog.Logger
	AccessLogBuffer   int
	AccessLogOverflow accesslog.Overflow
	// SessionCacheSize bounds upstream TLS session resumption (per origin);
	// zero turns it off.
	SessionCacheSize int
	// NoTickets turns off session resumption for clients: no session
	// tickets are issued, and every client handshake is a full one.
	NoTickets bool
}

// Server is a running inspecting proxy. Its methods are safe for
// concurrent use.
type Server struct {
	handler *handler
	run     *engine.Runner
}

// Start starts the proxy and returns once it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Decide == nil || cfg.Keys == nil {
		return nil, errors.New("proxy: needs a policy and a key source")
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.NoKey == nil {
		cfg.NoKey = func(error) (policy.FailMode, bool) { return 0, false }
	}
	if cfg.Judge == nil {
		cfg.Judge = func(org string, r *policy.Request) policy.Decision { return cfg.Decide(org, r.Host, r.Port) }
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
	if cfg.AccessLogBuffer <= 0 {
		cfg.AccessLogBuffer = 1 << 20
	}
	h := &handler{cfg: cfg, run: engine.NewRunner(), loops: &engine.Loops{}}
	h.logs = make([]*accesslog.LoopLog, cfg.Loops)
	for i := range h.logs {
		h.logs[i] = cfg.AccessLog.Buffer(cfg.AccessLogBuffer, cfg.AccessLogOverflow)
	}
	h.origins = origin.NewDialer(origin.Config{
		Roots: cfg.UpstreamRoots, Resolve: cfg.Resolve,
		SessionCacheSize: cfg.SessionCacheSize, HandshakeTimeout: cfg.HandshakeTimeout,
	})
	var err error
	if h.untrusted, err = certcache.NewUntrustedIssuer(); err != nil {
		return nil, err
	}
	h.caches = make([]*certcache.Cache, cfg.Loops)
	// The client side's certificate is always chosen later: the callback
	// only parks the handshake until the origin has answered. A resumable
	// hello parks as well (ParkResumed): the origin must be reached and
	// checked before any client handshake completes.
	base := &tlsmitm.Config{
		GetCertificate: func(*tlsmitm.ClientHello) (*tlsmitm.Certificate, error) { return nil, nil },
		ParkResumed:    true,
		LegacyHandoff:  true, // TLS 1.2 clients are served by crypto/tls (clienttls12.go)
	}
	err = engine.Serve(h, h.run, h.loops, engine.ServeConfig{
		Addr: cfg.Addr, Loops: cfg.Loops, TLS: base, NoTickets: cfg.NoTickets,
		KeyMemory: cfg.KeyMemory, Logger: cfg.Logger,
	}, h.closeCaches)
	if err != nil {
		return nil, err
	}
	return &Server{handler: h, run: h.run}, nil
}

// Addr is the proxy's listening address.
func (s *Server) Addr() string { return s.run.Addr() }

// Open reports how many client connections are open.
func (s *Server) Open() int { return int(s.handler.open.Load()) }

// Stop closes the listener and every connection and waits for the loops.
func (s *Server) Stop(ctx context.Context) error { return s.run.Stop(ctx) }

// Drain stops taking new connections (they get 503), lets open ones
// finish until ctx is done, and then stops the proxy, closing what is left.
func (s *Server) Drain(ctx context.Context) error {
	s.handler.draining.Store(true)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.Open() > 0 {
		select {
		case <-ctx.Done():
			return s.stopWithin(5 * time.Second)
		case <-t.C:
		}
	}
	return s.stopWithin(5 * time.Second)
}

func (s *Server) stopWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Stop(ctx)
}

// Wait blocks until the proxy stops.
func (s *Server) Wait() error { return s.run.Wait() }
