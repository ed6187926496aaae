package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/keywire"
)

// KeysConfig configures the key API.
type KeysConfig struct {
	Authority *authority.Authority
	Logger    *slog.Logger
	Metrics   *Metrics
}

type keys struct {
	auth    *authority.Authority
	log     *slog.Logger
	metrics *Metrics
}

// NewKeys returns the key API. Serve it only with the tls.Config of
// KeyTLSConfig: the handler relies on the TLS layer having verified the
// client certificate, and decides only whether that edge may have the key.
func NewKeys(cfg KeysConfig) (http.Handler, error) {
	if cfg.Authority == nil || cfg.Logger == nil || cfg.Metrics == nil {
		return nil, errors.New("api: the key API needs an authority, a logger and metrics")
	}
	k := &keys{auth: cfg.Authority, log: cfg.Logger, metrics: cfg.Metrics}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/orgs/{org}/key", handle(k.log, k.orgKey))
	mux.Handle("/", handle(k.log, func(w http.ResponseWriter, r *http.Request) error {
		return &authority.Error{Status: http.StatusNotFound, Msg: "the key API serves only GET /v1/orgs/{org}/key"}
	}))
	return observe("keys", cfg.Logger, cfg.Metrics, mux), nil
}

func (k *keys) orgKey(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		// HEAD would open and audit a key that is never sent.
		w.Header().Set("Allow", http.MethodGet)
		return &authority.Error{Status: http.StatusMethodNotAllowed, Msg: "use GET"}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return &authority.Error{Status: http.StatusForbidden, Msg: "the key API needs the client certificate the edge got at enrolment"}
	}
	meta, der, err := k.auth.KeyFor(r.Context(), r.TLS.PeerCertificates[0].Raw, r.PathValue("org"))
	if err != nil {
		if authority.Status(err) < 500 {
			k.metrics.keysRefused.Inc()
		}
		return err
	}
	defer keyseal.Wipe(der)
	answer, err := keywire.Marshal(meta, der)
	if err != nil {
		return fmt.Errorf("api: the key answer: %w", err)
	}
	k.metrics.keysIssued.Inc()
	writeOrgKey(w, answer)
	return nil
}

// writeOrgKey sends the answer. Its key bytes are the caller's, not a
// copy, and the caller wipes them once this returns. Write errors mean the
// edge went away; it will ask again.
func writeOrgKey(w http.ResponseWriter, answer keywire.Answer) {
	h := w.Header()
	h.Set("Content-Type", keywire.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(answer.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = answer.WriteTo(w)
}

// serverCertValidity is the life of the key API's certificate. It is
// issued again, with a new key, once half of that has passed.
const serverCertValidity = 7 * 24 * time.Hour

// KeyTLSConfig returns the key API's TLS configuration: TLS 1.3 only, and
// a client certificate that the service root issued directly (an edge's
// enrolment certificate) is required, so an unenrolled client is refused
// in the handshake, before any HTTP. Whether the edge is still enrolled
// and entitled is the authority's decision, per request.
//
// The server certificate is issued now by the service root for hostnames,
// with a key that exists only in this process's memory.
func KeyTLSConfig(ctx context.Context, a *authority.Authority, hostnames []string, log *slog.Logger) (*tls.Config, error) {
	sc := &serverCert{auth: a, hostnames: hostnames, log: log}
	if _, err := sc.issue(ctx); err != nil {
		return nil, err
	}
	root := a.Root()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        pool,
		GetCertificate:   sc.get,
		VerifyConnection: issuedByRoot(root),
		NextProtos:       []string{"http/1.1"},
	}, nil
}

// issuedByRoot refuses client certificates that chain to the service root
// through an intermediate. Organisation intermediates sit under the root
// and their keys go to edges, so a chain through one proves nothing about
// enrolment.
func issuedByRoot(root *x509.Certificate) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		for _, chain := range cs.VerifiedChains {
			if len(chain) == 2 && chain[1].Equal(root) {
				return nil
			}
		}
		return errors.New("api: the client certificate was not issued by the service root directly: enrol the edge")
	}
}

// serverCert holds the key API's certificate and issues it again when it
// is half-way through its life.
type serverCert struct {
	auth      *authority.Authority
	hostnames []string
	log       *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	renewAt time.Time
}

func (s *serverCert) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Before(s.renewAt) {
		return s.cert, nil
	}
	c, err := s.issueLocked(hello.Context())
	if err == nil {
		return c, nil
	}
	if s.cert != nil && now.Before(s.cert.Leaf.NotAfter) {
		s.log.Warn("renewing the key API certificate failed; serving the current one", "err", err, "not_after", s.cert.Leaf.NotAfter)
		s.renewAt = now.Add(time.Minute)
		return s.cert, nil
	}
	return nil, err
}

func (s *serverCert) issue(ctx context.Context) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(ctx)
}

func (s *serverCert) issueLocked(ctx context.Context) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("api: key API certificate key: %w", err)
	}
	der, err := s.auth.IssueServerCert(ctx, s.hostnames, key.Public(), serverCertValidity)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("api: key API certificate: %w", err)
	}
	s.cert = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	s.renewAt = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	return s.cert, nil
}
