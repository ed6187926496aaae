// Command goproxymitm is the goproxy peer of Lucid's inspecting proxy in
// the side-by-side benchmarks (bench/suite): a small MITM proxy built on
// github.com/elazarl/goproxy.
//
//	goproxymitm -listen 127.0.0.1:3130 -ca-cert ca.pem -ca-key ca-key.pem \
//	    -roots origin-root.pem -hosts '*.bench.test=127.0.0.77:443'
//
// It is set up the way a careful user would set it up, so that the
// comparison is fair to it:
//
//   - every CONNECT is intercepted, with leaves signed by the CA of -ca-cert
//     and -ca-key and kept in a leaf cache (goproxy's CertStorage), so a
//     name is signed once, not per connection;
//   - the origin's certificate is verified against -roots (no
//     InsecureSkipVerify), as Lucid and squid verify it;
//   - -hosts overrides name resolution for the benchmark's origin names
//     (o1.bench.test ... on loopback) through the transport's DialContext;
//   - -http2 turns on goproxy's HTTP/2 MITM (ProxyHttpServer.AllowHTTP2,
//     new in goproxy v1.9): it offers h2 to the client by ALPN and serves
//     each stream through x/net's http2.Server, and the transport to the
//     origin attempts HTTP/2 too (ForceAttemptHTTP2, which a transport
//     with its own DialContext and TLS config needs). goproxy picks h2
//     for the client whatever the origin speaks; Lucid follows the
//     origin's choice;
//   - -tunnel lists names (NAME or *.suffix) whose CONNECTs are accepted
//     and tunnelled without MITM, the bypass of the benchmarks' "tunnelled"
//     rows, so the cost of inspection is measured against the same proxy.
//
// It prints "goproxymitm: proxy on ADDR" once it accepts connections, and
// stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:3130", "TCP address of the proxy")
	flag.StringVar(&cfg.caCert, "ca-cert", "", "PEM certificate of the CA that signs the leaves (required)")
	flag.StringVar(&cfg.caKey, "ca-key", "", "PEM private key of -ca-cert (required)")
	flag.StringVar(&cfg.roots, "roots", "", "PEM roots that origin certificates must chain to (default: the system roots)")
	flag.StringVar(&cfg.hosts, "hosts", "", "resolution overrides, comma-separated NAME=HOST:PORT; NAME may be *.suffix")
	flag.IntVar(&cfg.cacheSize, "cache", 10000, "leaves kept in the leaf cache (0 turns the cache off)")
	flag.BoolVar(&cfg.verbose, "v", false, "log goproxy's warnings (every aborted connection)")
	flag.BoolVar(&cfg.http2, "http2", false, "MITM HTTP/2 as HTTP/2 (goproxy's AllowHTTP2), and attempt HTTP/2 to the origin")
	flag.StringVar(&cfg.tunnel, "tunnel", "", "comma-separated names (NAME or *.suffix) tunnelled without MITM")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "goproxymitm:", err)
		os.Exit(1)
	}
}

type config struct {
	listen, caCert, caKey, roots, hosts, tunnel string
	cacheSize                                   int
	verbose, http2                              bool
}

func run(cfg config) error {
	proxy, err := newProxy(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("goproxymitm: proxy on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	// Intercepted connections are hijacked, so Shutdown does not wait for
	// them; closing the listener is all there is to do.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return nil
}

// newProxy builds the goproxy server of cfg.
func newProxy(cfg config) (*goproxy.ProxyHttpServer, error) {
	if cfg.caCert == "" || cfg.caKey == "" {
		return nil, errors.New("-ca-cert and -ca-key are required")
	}
	ca, err := tls.LoadX509KeyPair(cfg.caCert, cfg.caKey)
	if err != nil {
		return nil, fmt.Errorf("loading -ca-cert/-ca-key: %w", err)
	}
	if ca.Leaf, err = x509.ParseCertificate(ca.Certificate[0]); err != nil {
		return nil, fmt.Errorf("parsing -ca-cert: %w", err)
	}
	var roots *x509.CertPool // nil: the system roots
	if cfg.roots != "" {
		pem, err := os.ReadFile(cfg.roots)
		if err != nil {
			return nil, fmt.Errorf("reading -roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-roots %s holds no PEM certificate", cfg.roots)
		}
	}
	overrides, err := parseHosts(cfg.hosts)
	if err != nil {
		return nil, fmt.Errorf("-hosts: %w", err)
	}

	proxy := goproxy.NewProxyHttpServer()
	proxy.Verbose = false
	if !cfg.verbose {
		proxy.Logger = log.New(io.Discard, "", 0)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	proxy.Tr = &http.Transport{
		Proxy:       nil, // straight to the origin, whatever the environment says
		DialContext: overrides.dialContext(dialer),
		TLSClientConfig: &tls.Config{
			RootCAs:    roots,
			MinVersion: tls.VersionTLS12,
		},
		TLSHandshakeTimeout: 15 * time.Second,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   cfg.http2,
	}
	proxy.AllowHTTP2 = cfg.http2
	if cfg.cacheSize > 0 {
		proxy.CertStore = newLeafCache(cfg.cacheSize)
	}
	tunnelled, err := parseNames(cfg.tunnel)
	if err != nil {
		return nil, fmt.Errorf("-tunnel: %w", err)
	}
	mitm := &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: goproxy.TLSConfigFromCA(&ca)}
	proxy.OnRequest().HandleConnectFunc(func(host string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		name, _, err := net.SplitHostPort(host)
		if err == nil && tunnelled.match(name) {
			// The tunnel dials host itself, so the override applies here.
			if to, ok := overrides.lookup(name); ok {
				return goproxy.OkConnect, to
			}
			return goproxy.OkConnect, host
		}
		return mitm, host
	})
	return proxy, nil
}
