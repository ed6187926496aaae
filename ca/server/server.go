// Package server wires the CA process together: configuration, the CA
// password and the store's vault, the authority, and the three listeners
// of package api (admin, key API, public).
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
)

// Options are what the process gives the server beyond its configuration.
type Options struct {
	// Logger receives one line per request and the server's events; nil
	// means text to standard error.
	Logger *slog.Logger
	// Stdin is where the password is asked for when the configuration
	// names no password source; nil means os.Stdin. Stderr gets the
	// prompt; nil means os.Stderr.
	Stdin  *os.File
	Stderr io.Writer
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.NewTextHandler(stderr(*o), nil))
}

// Server is a running CA.
type Server struct {
	log   *slog.Logger
	store store.Store
	kek   *keyseal.KEK
	auth  *authority.Authority

	servers   []*http.Server
	listeners []net.Listener // admin, keys, public
	errc      chan error

	closeOnce sync.Once
	closeErr  error
}

// Start unlocks the CA and starts its listeners: it opens the store, reads
// the password and checks it against the vault (making the vault and the
// service root in a new store), then serves. ErrWrongPassword means the
// password does not open the vault.
func Start(ctx context.Context, cfg Config, opts Options) (*Server, error) {
	log := opts.logger()
	tokenSHA, err := readToken(cfg.AdminTokenFile)
	if err != nil {
		return nil, err
	}
	if cfg.Store.Driver == DriverSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	kek, created, err := unlock(ctx, st, cfg, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{log: log, store: st, kek: kek, errc: make(chan error, 3)}
	if err := s.start(ctx, cfg, tokenSHA); err != nil {
		s.release()
		return nil, err
	}
	log.Info("CA started", "admin", s.AdminAddr(), "keys", s.KeysAddr(), "public", s.PublicAddr(),
		"store", cfg.Store.Driver, "new_vault", created, "root_sha256", fingerprint(s.auth.Root().Raw))
	return s, nil
}

func (s *Server) start(ctx context.Context, cfg Config, tokenSHA [32]byte) error {
	var lc net.ListenConfig
	for _, addr := range []string{cfg.Listen.Admin, cfg.Listen.Keys, cfg.Listen.Public} {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, ln)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + s.PublicAddr()
	}
	a, err := authority.Open(ctx, authority.Config{Store: s.store, KEK: s.kek, PublicURL: publicURL})
	if err != nil {
		return err
	}
	s.auth = a
	m := api.NewMetrics()
	admin, err := api.NewAdmin(api.AdminConfig{Authority: a, TokenSHA256: tokenSHA, Logger: s.log, Metrics: m})
	if err != nil {
		return err
	}
	keys, err := api.NewKeys(api.KeysConfig{Authority: a, Logger: s.log, Metrics: m})
	if err != nil {
		return err
	}
	public, err := api.NewPublic(api.PublicConfig{Authority: a, Logger: s.log, Metrics: m})
	if err != nil {
		return err
	}
	keysTLS, err := api.KeyTLSConfig(ctx, a, cfg.Hostnames, s.log)
	if err != nil {
		return fmt.Errorf("the key API's certificate: %w", err)
	}
	adminLn := s.listeners[0]
	if cfg.AdminTLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.AdminTLS.CertFile, cfg.AdminTLS.KeyFile)
		if err != nil {
			return fmt.Errorf("admin_tls: %w", err)
		}
		adminLn = tls.NewListener(adminLn, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	// No write timeout on the admin API: a backup of a large store takes
	// as long as it takes.
	s.serve(adminLn, &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: errLog})
	s.serve(tls.NewListener(s.listeners[1], keysTLS), &http.Server{Handler: keys, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog})
	s.serve(s.listeners[2], &http.Server{Handler: public, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog})
	return nil
}

func (s *Server) serve(ln net.Listener, srv *http.Server) {
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
}

// AdminAddr, KeysAddr and PublicAddr are the listeners' addresses.
func (s *Server) AdminAddr() string  { return s.listeners[0].Addr().String() }
func (s *Server) KeysAddr() string   { return s.listeners[1].Addr().String() }
func (s *Server) PublicAddr() string { return s.listeners[2].Addr().String() }

// Authority is the running CA's authority.
func (s *Server) Authority() *authority.Authority { return s.auth }

// Err reports a listener that stopped serving on its own.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops the listeners, lets requests in flight finish until ctx
// ends, then wipes the key-encryption key and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(s.servers))
		for i, srv := range s.servers {
			wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
		}
		wg.Wait()
		s.closeErr = errors.Join(append(errs, s.release())...)
	})
	return s.closeErr
}

// release closes what start may have opened.
func (s *Server) release() error {
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	s.kek.Close()
	return s.store.Close()
}

// Run starts the CA and serves until ctx ends or a listener fails, then
// shuts down, giving requests in flight up to grace to finish.
func Run(ctx context.Context, cfg Config, opts Options, grace time.Duration) error {
	s, err := Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("CA stopping")
	case serveErr = <-s.errc:
		s.log.Error("a listener failed; stopping", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(sctx))
}

// InitResult says where `ca init` put things.
type InitResult struct {
	DataDir        string
	Store          string // the SQLite file, or "postgres"
	AdminTokenFile string
	TokenCreated   bool
	RootFile       string // the service root certificate, PEM
	RootSHA256     string
}

// Init makes a new CA: the data folder (0700), the store with its vault
// and service root, the admin token file (0600, kept if it exists) and a
// copy of the service root certificate. ErrInitialised means the store
// already has a vault.
func Init(ctx context.Context, cfg Config, opts Options) (InitResult, error) {
	res := InitResult{DataDir: cfg.DataDir, Store: cfg.Store.Path, AdminTokenFile: cfg.AdminTokenFile,
		RootFile: filepath.Join(cfg.DataDir, "ca-root.pem")}
	if cfg.Store.Driver == DriverPostgres {
		res.Store = "postgres"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return res, err
	}
	if cfg.Store.Driver == DriverSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return res, err
		}
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if _, err := st.Vault(ctx); err == nil {
		return res, fmt.Errorf("%w: its store %s has a vault; start it with `ca serve`", ErrInitialised, res.Store)
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("reading the vault: %w", err)
	}
	kek, _, err := unlock(ctx, st, cfg, opts)
	if err != nil {
		return res, err
	}
	defer kek.Close()
	a, err := authority.Open(ctx, authority.Config{Store: st, KEK: kek, PublicURL: cfg.PublicURL})
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.AdminTokenFile), 0o700); err != nil {
		return res, err
	}
	if res.TokenCreated, err = createToken(cfg.AdminTokenFile); err != nil {
		return res, err
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Root().Raw})
	if err := os.WriteFile(res.RootFile, root, 0o644); err != nil {
		return res, err
	}
	res.RootSHA256 = fingerprint(a.Root().Raw)
	return res, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
