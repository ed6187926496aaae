package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/ca/keyclient"
	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/engine/proxy"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/authlimit"
	"github.com/lucid-edge/lucid/internal/edgeconfig"
	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/nodump"
	"github.com/lucid-edge/lucid/internal/policy"
)

// stopGrace bounds the shutdown after SIGINT or SIGTERM.
const stopGrace = 10 * time.Second

// runProxy runs the inspecting proxy: `edge -config FILE`.
func runProxy(args []string) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	configFile := fs.String("config", "", "the edge's YAML configuration `file`")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", strings.Join(fs.Args(), " "))
	}
	if *configFile == "" {
		return errors.New("give the configuration file with -config FILE")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level %q: give debug, info, warn or error", *logLevel)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := edgeconfig.Load(*configFile)
	if err != nil {
		return indentLines(err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(os.Stderr, "edge: warning:", w)
	}
	// Before any secret is read: no core, no /proc/PID/mem, no ptrace by
	// another process of this user (internal/nodump).
	if err := nodump.Apply(cfg.AllowCoreDumps); err != nil {
		return err
	}
	if cfg.AllowCoreDumps {
		fmt.Fprintln(os.Stderr, "edge: warning: allow_core_dumps: this process may be dumped and traced; its heap can hold key material")
	}
	pc, closeAll, err := proxyConfig(cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()

	// Ask for the signals before the proxy says it is up, so none is lost.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)

	srv, err := proxy.Start(pc)
	if err != nil {
		return err
	}
	var stopping atomic.Bool
	var admin *http.Server
	if cfg.Admin != "" {
		admin, err = serveAdmin(cfg.Admin, logger, func() error {
			if stopping.Load() {
				return errors.New("stopping")
			}
			return nil
		}, cfg.AdminPprof)
		if err != nil {
			_ = srv.Stop(context.Background())
			return err
		}
	}
	fmt.Printf("lucid: inspecting proxy on %s\n", srv.Addr())
	fmt.Printf("lucid: organisations %s; proxy authentication %s; keys from %s\n", orgIDs(cfg), authSummary(cfg, pc.DefaultOrg), caSummary(cfg))

	var runErr error
	select {
	case s := <-sig:
		logger.Info("stopping", "signal", s.String(), "open_connections", srv.Open())
	case runErr = <-waitProxy(srv):
		logger.Error("the proxy stopped", "err", runErr)
	}
	stopping.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	// Open connections may finish within the grace period; new ones are
	// turned away meanwhile, and what is left at its end is closed.
	stopErr := srv.Drain(ctx)
	if admin != nil {
		_ = admin.Shutdown(ctx)
	}
	return errors.Join(runErr, stopErr)
}

// indentLines puts each line after the first of a multi-line error (one
// field error per line) under the first.
func indentLines(err error) error {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	if len(lines) == 1 {
		return err
	}
	return errors.New(lines[0] + "\n  " + strings.Join(lines[1:], "\n  "))
}

// authSummary says how clients authenticate, and which are served.
func authSummary(cfg *edgeconfig.Config, defaultOrg string) string {
	switch {
	case cfg.AuthRequired():
		return fmt.Sprintf("Basic, %d users, at most %d failures per client in %v", len(cfg.Users), cfg.AuthFailures.Limit, cfg.AuthFailures.Per)
	case cfg.ServeUnauthenticated == edgeconfig.ServeAny:
		return "none: serving every client (serve_unauthenticated: any), all in organisation " + defaultOrg
	}
	return "none: serving loopback clients only; set serve_unauthenticated: any to serve others (all in organisation " + defaultOrg + ")"
}

func caSummary(cfg *edgeconfig.Config) string {
	if cfg.CA.URL == "" {
		return "none: nothing is decrypted"
	}
	return cfg.CA.URL
}

func orgIDs(cfg *edgeconfig.Config) string {
	ids := make([]string, len(cfg.Orgs))
	for i, o := range cfg.Orgs {
		ids[i] = o.ID
	}
	return strings.Join(ids, ", ")
}

func waitProxy(srv *proxy.Server) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- srv.Wait() }()
	return ch
}

// proxyConfig turns a validated configuration into the engine's, opening
// what it needs (the key client, the access log); closeAll closes them.
func proxyConfig(cfg *edgeconfig.Config, logger *slog.Logger) (pc proxy.Config, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	pol, err := cfg.Policy()
	if err != nil {
		return pc, closeAll, err
	}
	pc = proxy.Config{
		Addr:   cfg.Listen,
		Loops:  cfg.Loops,
		Logger: logger,
		Decide: pol.Decide,
		NoKey:  noKey,
		Resolve: func(host string, port int) (string, bool) {
			if ap, ok := cfg.HostOverride(host); ok {
				return ap.String(), true
			}
			return net.JoinHostPort(host, strconv.Itoa(port)), false
		},
		AllowInvalidUpstream: func(org string) bool {
			o := cfg.Org(org)
			return o != nil && o.AllowInvalidUpstream
		},
		RequestTimeout:   cfg.Timeouts.ConnectLine,
		HandshakeTimeout: cfg.Timeouts.Handshake,
		IdleTimeout:      cfg.Timeouts.Idle,
		MaxBuffered:      int(cfg.Buffers.MaxPerConnection),
		MaxConnections:   cfg.MaxConnections,
		Cache: certcache.Config{
			MaxEntries:  cfg.Cache.MaxEntries,
			MaxBytes:    int(cfg.Cache.MaxBytes),
			KeyRotation: cfg.Leaf.KeyRotation,
		},
		SessionCacheSize: cfg.Upstream.SessionCacheSize,
		Judge:            pol.Judge,
		LeafNames:        pol.LeafNames,
	}
	if cfg.AuthRequired() {
		// cfg.Authenticate blocks for the password hash unless the
		// credentials verified within the last minutes; the proxy runs it
		// off its loops.
		pc.AuthLimit = authlimit.New(authlimit.Config{Limit: cfg.AuthFailures.Limit, Per: cfg.AuthFailures.Per})
		pc.Authenticate = func(v []byte) (user, org string, ok bool) {
			user, pass, ok := httphead.ParseBasicAuth(v)
			if !ok {
				return "", "", false
			}
			org, ok = cfg.Authenticate(user, pass)
			return user, org, ok
		}
	} else {
		pc.DefaultOrg = cfg.Orgs[0].ID // Validate allows one org only
	}
	pc.AllowClient = cfg.ClientAllowed
	own, err := ownListeners(cfg)
	if err != nil {
		return pc, closeAll, err
	}
	guarded, err := pol.WithOwnListeners(own)
	if err != nil {
		return pc, closeAll, fmt.Errorf("the edge's own listeners: %w", err)
	}
	pc.CheckTarget = func(org, host string, port int, plain bool) policy.Decision {
		// An IP literal is the address dialed: checked now, before the
		// CONNECT is answered. A name is the operator's when the hosts
		// section maps it; otherwise what can be known before it is
		// resolved (its port, a loopback name) is checked now, and every
		// address it resolves to where it is dialed.
		if ap, ok := cfg.HostOverride(host); ok {
			return guarded.Destination(org, policy.Dest{Host: host, Addr: ap, Plain: plain, Mapped: true})
		}
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || port < 1 || port > 65535 {
			return guarded.DestinationName(org, host, port, plain)
		}
		return guarded.Destination(org, policy.Dest{Host: host, Addr: netip.AddrPortFrom(a, uint16(port)), Plain: plain})
	}
	// Every address dialed is checked again where it is dialed, after
	// resolution: a name that resolves (or rebinds) to a refused address,
	// or to one of the edge's own listeners, is never connected to.
	pc.CheckAddr = func(org, host string, addr netip.AddrPort, mapped, plain bool) policy.Decision {
		return guarded.Destination(org, policy.Dest{Host: host, Addr: addr, Plain: plain, Mapped: mapped})
	}

	if pc.UpstreamRoots, err = upstreamRoots(cfg.Upstream.RootsFile, logger); err != nil {
		return pc, closeAll, err
	}

	failModes := make(map[string]string, len(cfg.Orgs))
	for _, o := range cfg.Orgs {
		if o.FailMode != "" {
			failModes[o.ID] = o.FailMode
		}
	}
	var keys proxy.KeySource = noCA{failModes}
	if cfg.CA.URL != "" {
		kc, err := newKeyClient(cfg.CA, failModes)
		if err != nil {
			return pc, closeAll, err
		}
		closers = append(closers, kc.Close)
		keys = kc
	}
	pc.Keys = leafValidity{keys, cfg.Leaf.MaxValidity}

	// The log is closed after the proxy has stopped (runProxy's deferred
	// closeAll), which writes what the loops' buffers still hold.
	al, err := accesslog.Open(cfg.AccessLog, accesslog.QueryValuesOf(queryValueOrgs(cfg)...))
	if err != nil {
		return pc, closeAll, fmt.Errorf("access_log: %w", err)
	}
	if al != nil {
		closers = append(closers, func() { _ = al.Close() })
		pc.AccessLog = al
	}
	loops := cfg.Loops
	if loops <= 0 {
		loops = runtime.NumCPU() // as the proxy counts them
	}
	size, enough := cfg.AccessLogBufferFor(loops)
	pc.AccessLogBuffer = int(size)
	pc.AccessLogOverflow, _ = accesslog.ParseOverflow(cfg.AccessLogOverflow) // validated
	if al != nil && !enough && pc.AccessLogOverflow == accesslog.Refuse {
		logger.Warn("access_log_buffer holds the lines of fewer open requests than a loop may have connections: "+
			"when more are open at once, new requests get 503; raise it or leave it 0 (sized for max_connections)",
			"access_log_buffer", size.String(), "loops", loops, "max_connections", cfg.MaxConnections)
	}
	return pc, closeAll, nil
}

// queryValueOrgs are the organisations whose query values the access log
// keeps (log_query_values).
func queryValueOrgs(cfg *edgeconfig.Config) []string {
	var ids []string
	for _, o := range cfg.Orgs {
		if o.LogQueryValues {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// ownListeners are the addresses the edge must never connect a client to:
// its own proxy and admin listeners and the CA's key API.
func ownListeners(cfg *edgeconfig.Config) ([]netip.AddrPort, error) {
	var own []netip.AddrPort
	for _, a := range []struct{ field, addr string }{{"listen", cfg.Listen}, {"admin", cfg.Admin}, {"ca.url", caHostPort(cfg.CA.URL)}} {
		if a.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.field, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			continue // port 0: chosen at start, not known here
		}
		if host == "" {
			host = "0.0.0.0"
		}
		addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.field, err)
		}
		for _, ip := range addrs {
			own = append(own, netip.AddrPortFrom(ip.Unmap(), uint16(n)))
		}
	}
	return own, nil
}

// caHostPort is the host:port of the CA's key API URL, "" when unset.
func caHostPort(u string) string {
	if u == "" {
		return ""
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return ""
	}
	if parsed.Port() == "" {
		return net.JoinHostPort(parsed.Hostname(), "443")
	}
	return parsed.Host
}

// noKey recognises the key client's "no key" errors. A fail mode it does
// not know refuses, the safe side.
func noKey(err error) (policy.FailMode, bool) {
	var nk *keyclient.NoKeyError
	if !errors.As(err, &nk) {
		return 0, false
	}
	mode, ok := policy.ParseFailMode(nk.FailMode)
	if !ok {
		mode = policy.FailBlock
	}
	return mode, true
}

// upstreamRoots is the system's roots plus those in file.
func upstreamRoots(file string, logger *slog.Logger) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		logger.Warn("no system roots; origins verify only against upstream.roots_file", "err", err)
		pool = x509.NewCertPool()
	}
	if file == "" {
		return pool, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("upstream.roots_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("upstream.roots_file: no PEM certificate in %s", file)
	}
	return pool, nil
}

func newKeyClient(ca edgeconfig.CA, failModes map[string]string) (*keyclient.Client, error) {
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ca.cert_file, ca.key_file: %w", err)
	}
	var roots *x509.CertPool
	if ca.RootFile != "" {
		b, err := os.ReadFile(ca.RootFile)
		if err != nil {
			return nil, fmt.Errorf("ca.root_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("ca.root_file: no PEM certificate in %s", ca.RootFile)
		}
	} else if roots, err = x509.SystemCertPool(); err != nil {
		return nil, fmt.Errorf("ca.root_file is not set and the system roots are unavailable: %w", err)
	}
	return keyclient.New(keyclient.Config{
		URL:         ca.URL,
		Certificate: cert,
		Roots:       roots,
		IdleTimeout: ca.IdleTimeout,
		FailModes:   failModes,
	})
}

// noCA is the key source of an edge configured without a CA: it holds no
// key, so it decrypts nothing, and each organisation's traffic is tunnelled
// or blocked as its fail mode says (block unless set).
type noCA struct{ failModes map[string]string }

var errNoCA = errors.New("no CA configured (ca.url)")

func (n noCA) Issuer(_ context.Context, org string) (*certcache.Issuer, error) {
	mode := n.failModes[org]
	if mode == "" {
		mode = edgeconfig.FailBlock
	}
	return nil, &keyclient.NoKeyError{Org: org, FailMode: mode, Err: errNoCA}
}

// leafValidity caps the validity of the leaves minted under a key
// source's issuers (leaf.max_validity).
type leafValidity struct {
	src proxy.KeySource
	max time.Duration
}

func (l leafValidity) Issuer(ctx context.Context, org string) (*certcache.Issuer, error) {
	iss, err := l.src.Issuer(ctx, org)
	if err != nil || iss == nil || l.max <= 0 {
		return iss, err
	}
	capped := *iss
	capped.MaxValidity = l.max
	return &capped, nil
}

// serveAdmin serves /metrics on addr until Shutdown; /healthz too when
// healthy is set, and with pprof Go's profiles under /debug/pprof/ (CPU,
// heap, goroutines: for profiling a running edge, off by default).
func serveAdmin(addr string, logger *slog.Logger, healthy func() error, pprof bool) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		metrics.WritePrometheus(w, true)
	})
	served := "lucid: metrics at http://" + ln.Addr().String() + "/metrics"
	if healthy != nil {
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := healthy(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		served += ", health at http://" + ln.Addr().String() + "/healthz"
	}
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		served += ", profiles at http://" + ln.Addr().String() + "/debug/pprof/"
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server stopped", "err", err)
		}
	}()
	fmt.Println(served)
	return srv, nil
}
