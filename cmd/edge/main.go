// Command edge is Lucid's inspecting edge. It has two modes and a tool:
//
//	edge -config FILE                  (also: edge proxy -config FILE)
//	edge terminate -listen ADDR [-cert PEM -key PEM] [-loops N] [-admin ADDR]
//	edge hash-password                 (reads the password from standard input)
//
// The first runs the inspecting proxy that the YAML file describes (see
// package internal/edgeconfig). The third prints the Argon2id hash of a
// password for a user's password_hash. The second serves `HTTP/1.1 200 OK` over
// Lucid's own TLS 1.3 stack on gnet, the handshake-throughput target for
// benchmarks and conformance suites, and the demo origin of `make run`.
package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lucid-edge/lucid/engine/terminate"
	"github.com/lucid-edge/lucid/tlsmitm"
)

const usage = `usage:
  edge -config FILE [-log-level debug|info|warn|error]    the inspecting proxy
  edge proxy -config FILE [...]                           the same
  edge terminate -listen ADDR [-cert PEM -key PEM] [-loops N] [-admin ADDR]
  edge hash-password < password                           a user's password_hash (Argon2id)
`

func main() {
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "terminate":
		err = runTerminate(os.Args[2:])
	case len(os.Args) >= 2 && os.Args[1] == "hash-password":
		err = runHashPassword(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case len(os.Args) >= 2 && os.Args[1] == "proxy":
		err = runProxy(os.Args[2:])
	case len(os.Args) >= 2 && strings.HasPrefix(os.Args[1], "-") && os.Args[1] != "-h" && os.Args[1] != "-help" && os.Args[1] != "--help":
		err = runProxy(os.Args[1:])
	case len(os.Args) >= 2 && os.Args[1] == "demo-certs":
		// Not in the usage: the certificates of `make run`'s demo origin.
		err = demoCerts(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func runTerminate(args []string) error {
	fs := flag.NewFlagSet("terminate", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "TCP address to serve TLS on")
	certFile := fs.String("cert", "", "PEM certificate chain (default: a fresh self-signed ECDSA P-256 one)")
	keyFile := fs.String("key", "", "PEM private key for -cert")
	loops := fs.Int("loops", 0, "event loops (default: one per CPU)")
	admin := fs.String("admin", "", "address for /metrics (default: none)")
	pprof := fs.Bool("pprof", false, "serve Go's profiles under /debug/pprof/ on -admin")
	verbose := fs.Bool("v", false, "log every refused connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("-cert and -key go together")
	}
	if *pprof && *admin == "" {
		return errors.New("-pprof serves on the -admin address: give -admin too")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := terminate.Config{Addr: *listen, Loops: *loops, Logger: logger}
	if *certFile != "" {
		cert, err := loadCertificate(*certFile, *keyFile)
		if err != nil {
			return err
		}
		cfg.Certificate = cert
	}
	// Ask for the signals before saying the server is up, so a SIGTERM
	// sent as soon as the address is printed is never lost.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	srv, err := terminate.Start(cfg)
	if err != nil {
		return err
	}
	if *admin != "" {
		if _, err := serveAdmin(*admin, logger, nil, *pprof); err != nil {
			_ = srv.Stop(context.Background())
			return err
		}
	}
	host, port, _ := net.SplitHostPort(srv.Addr())
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && *certFile == "" {
		host = "localhost"
	}
	fmt.Printf("lucid: terminating TLS 1.3 on %s\n", srv.Addr())
	if *certFile == "" {
		fmt.Println("lucid: the certificate is self-signed and new for this run; -k tells curl to accept it")
		fmt.Printf("try:   curl -k https://%s/\n", net.JoinHostPort(host, port))
	} else {
		fmt.Printf("try:   curl https://%s/\n", net.JoinHostPort(host, port))
	}

	select {
	case s := <-sig:
		logger.Warn("stopping", "signal", s.String())
	case err := <-waitErr(srv):
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Stop(ctx)
}

func waitErr(srv *terminate.Server) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- srv.Wait() }()
	return ch
}

// loadCertificate reads a PEM chain and key. crypto/tls only parses the
// files here; the TLS itself is Lucid's.
func loadCertificate(certFile, keyFile string) (*tlsmitm.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading -cert/-key: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("loading -key: the key cannot sign")
	}
	return &tlsmitm.Certificate{Chain: pair.Certificate, PrivateKey: signer}, nil
}
