// Package keyclient is the edge's side of key custody: it fetches an
// organisation's intermediate key from the CA over mutual TLS when the
// edge first needs it, keeps the key bytes only in its own zeroing slab
// (internal/secmem), and lets them sign through a crypto.Signer that
// parses the key for the length of one signature. A key unused for the
// idle time is zeroed and fetched again on demand; the intermediate
// certificate stays until the CA publishes a new one.
//
// When the CA cannot be reached the edge goes on with the keys it holds.
// For an organisation whose key it does not hold it never decrypts:
// Issuer returns a *NoKeyError carrying the organisation's fail mode.
//
// A Client is safe for concurrent use: the edge's loops share it, and
// signatures run on mint goroutines off the loops.
package keyclient

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/ca/keywire"
	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/internal/secmem"
)

// Config connects a Client to the CA.
type Config struct {
	// URL is the CA's key API, e.g. https://ca.example:8444.
	URL string
	// Certificate is the edge's client certificate from enrolment.
	Certificate tls.Certificate
	// Roots holds the CA's service root.
	Roots *x509.CertPool
	// IdleTimeout is how long an unused key is kept; zero means 10 minutes.
	IdleTimeout time.Duration
	// FailModes are the edge's own fail modes per organisation, used while
	// the CA has not told it the org's; DefaultFailMode covers the rest
	// ("tunnel" or "block"; empty means "block").
	FailModes       map[string]string
	DefaultFailMode string
	// MemorySize bounds the slab that holds keys; zero means 1 MiB.
	MemorySize int
	// MinBackoff and MaxBackoff bound the wait between failed fetches;
	// zero means 1 s and 1 min.
	MinBackoff, MaxBackoff time.Duration
}

// Client fetches and holds organisation keys.
type Client struct {
	cfg  Config
	http *http.Client

	mu   sync.Mutex
	mem  *secmem.Arena
	orgs map[string]*orgKey

	stop chan struct{}
	done chan struct{}
}

// orgKey is what the client knows of one organisation.
type orgKey struct {
	meta   keywire.Meta
	inter  *x509.Certificate
	der    []byte // PKCS #8, a slab block; nil when not held
	used   time.Time
	fetch  *fetchCall // the fetch under way, if any
	failed time.Time  // when the last fetch failed
	wait   time.Duration
	err    error
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// keyBlockLen is the slab block a key is read into: one 4 KiB class, room
// for the longest key the format allows and the byte that tells a longer
// one apart.
const keyBlockLen = keywire.MaxKeyLen + 1

var (
	fetches       = metrics.NewCounter("lucid_keyclient_fetches_total")
	fetchFailures = metrics.NewCounter("lucid_keyclient_fetch_failures_total")
	wipes         = metrics.NewCounter("lucid_keyclient_key_wipes_total")
	signatures    = metrics.NewCounter("lucid_keyclient_signatures_total")
)

// New makes a client and starts its idle sweeper; Close stops it.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" || cfg.Roots == nil || len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("keyclient: the CA URL, its root and the edge's certificate are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.DefaultFailMode == "" {
		cfg.DefaultFailMode = "block"
	}
	if cfg.MemorySize <= 0 {
		cfg.MemorySize = 1 << 20
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	mem, err := secmem.NewArena(secmem.Config{Size: cfg.MemorySize, Lock: true})
	if err != nil {
		return nil, fmt.Errorf("keyclient: key memory: %w", err)
	}
	tlsCfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		RootCAs:          cfg.Roots,
		Certificates:     []tls.Certificate{cfg.Certificate},
		VerifyConnection: caIssuedDirectly,
	}
	c := &Client{
		cfg:  cfg,
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: false}},
		mem:  mem,
		orgs: make(map[string]*orgKey),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.sweepIdle()
	return c, nil
}

// MemoryStats reports on the slab that holds the keys.
func (c *Client) MemoryStats() secmem.Stats { return c.mem.Stats() }

// Close wipes every key and stops the client.
func (c *Client) Close() {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.orgs {
		c.wipe(o)
	}
	c.mem.Close()
}

// caIssuedDirectly accepts only a CA certificate that the service root
// signed itself. Organisation intermediates also chain to that root, and
// edges hold their keys: a certificate minted under one could otherwise
// pass for the CA and feed this edge a key of its choosing.
func caIssuedDirectly(cs tls.ConnectionState) error {
	for _, chain := range cs.VerifiedChains {
		if len(chain) == 2 {
			return nil
		}
	}
	return errors.New("keyclient: the CA's certificate was not issued by the service root directly")
}

// NoKeyError says the edge holds no key for an organisation, so its
// traffic must not be decrypted, and what the organisation wants instead.
type NoKeyError struct {
	Org      string
	FailMode string // "tunnel" or "block"
	Err      error
}

func (e *NoKeyError) Error() string {
	return fmt.Sprintf("keyclient: no key for organisation %q (fail mode %s): %v", e.Org, e.FailMode, e.Err)
}

func (e *NoKeyError) Unwrap() error { return e.Err }

// Issuer returns what certcache needs to mint leaves for org: its
// intermediate, chain and a signer backed by the slab. It fetches the key
// when the client holds none, unless a recent fetch failed and the backoff
// has not run out. Without a key it returns a *NoKeyError.
func (c *Client) Issuer(ctx context.Context, org string) (*certcache.Issuer, error) {
	if err := c.ensure(ctx, org); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orgs[org]
	return &certcache.Issuer{
		Cert:   o.inter,
		Chain:  o.meta.Chain,
		Signer: &slabSigner{c: c, org: org, pub: o.inter.PublicKey},
		CRLURL: o.meta.CRLURL,
	}, nil
}

// ensure makes sure the client holds org's key, fetching it if needed;
// concurrent callers share one fetch.
func (c *Client) ensure(ctx context.Context, org string) error {
	c.mu.Lock()
	o := c.orgs[org]
	if o == nil {
		o = &orgKey{}
		c.orgs[org] = o
	}
	if o.der != nil {
		o.used = time.Now()
		c.mu.Unlock()
		return nil
	}
	if call := o.fetch; call != nil {
		c.mu.Unlock()
		return c.waitFetch(ctx, org, call)
	}
	if o.err != nil && time.Since(o.failed) < o.wait {
		err := c.noKey(org, o, o.err)
		c.mu.Unlock()
		return err
	}
	call := &fetchCall{done: make(chan struct{})}
	o.fetch = call
	c.mu.Unlock()

	go func() {
		// The fetch outlives a caller that gives up: others may be
		// waiting for it, and its result is worth keeping.
		fctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		call.err = c.fetch(fctx, org)
		close(call.done)
	}()
	return c.waitFetch(ctx, org, call)
}

func (c *Client) waitFetch(ctx context.Context, org string, call *fetchCall) error {
	select {
	case <-call.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if call.err == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noKey(org, c.orgs[org], call.err)
}

func (c *Client) noKey(org string, o *orgKey, err error) error {
	mode := c.cfg.DefaultFailMode
	if m := c.cfg.FailModes[org]; m != "" {
		mode = m
	}
	if o != nil && o.meta.FailMode != "" {
		mode = o.meta.FailMode // the CA's word is the latest
	}
	return &NoKeyError{Org: org, FailMode: mode, Err: err}
}

// fetch asks the CA for org's key and stores it; it records a failure for
// the backoff.
func (c *Client) fetch(ctx context.Context, org string) error {
	fetches.Inc()
	meta, inter, der, err := c.request(ctx, org)
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orgs[org]
	o.fetch = nil
	if err != nil {
		fetchFailures.Inc()
		o.err, o.failed = err, time.Now()
		o.wait = min(max(2*o.wait, c.cfg.MinBackoff), c.cfg.MaxBackoff)
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusForbidden {
			// A refusal is the CA's decision, not an outage: the edge
			// must not decrypt for this org, whatever it held before.
			c.wipe(o)
		}
		return err
	}
	c.wipe(o)
	o.meta, o.inter, o.der, o.used = meta, inter, der, time.Now()
	o.err, o.wait = nil, 0
	return nil
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return fmt.Sprintf("CA answered %d: %s", e.status, e.msg) }

// request fetches and checks the CA's answer. The key bytes go from the
// TLS stream straight into a slab block: they are never in a Go slice of
// ours (crypto/tls and net/http keep their own transient buffers). The
// metadata is checked before the key gets any memory.
func (c *Client) request(ctx context.Context, org string) (keywire.Meta, *x509.Certificate, []byte, error) {
	u := c.cfg.URL + "/v1/orgs/" + url.PathEscape(org) + "/key"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return keywire.Meta{}, nil, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return keywire.Meta{}, nil, nil, fmt.Errorf("CA unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return keywire.Meta{}, nil, nil, &httpError{status: resp.StatusCode, msg: string(msg)}
	}
	meta, err := keywire.ReadMeta(resp.Body)
	if err != nil {
		return keywire.Meta{}, nil, nil, fmt.Errorf("CA answer: %w", err)
	}
	if meta.Org != org || len(meta.Chain) == 0 {
		return keywire.Meta{}, nil, nil, fmt.Errorf("CA answered for organisation %q with %d certificates", meta.Org, len(meta.Chain))
	}
	inter, err := x509.ParseCertificate(meta.Chain[0])
	if err != nil {
		return keywire.Meta{}, nil, nil, fmt.Errorf("CA sent an intermediate that does not parse: %w", err)
	}
	block, err := c.allocKey()
	if err != nil {
		return keywire.Meta{}, nil, nil, err
	}
	der, err := keywire.ReadKey(resp.Body, block)
	if err != nil {
		c.freeKey(block)
		return keywire.Meta{}, nil, nil, fmt.Errorf("CA answer: %w", err)
	}
	if err := checkKeyMatches(der, inter); err != nil {
		c.freeKey(block)
		return keywire.Meta{}, nil, nil, err
	}
	return meta, inter, der, nil
}

func (c *Client) allocKey() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := c.mem.Alloc(keyBlockLen)
	if err != nil {
		return nil, fmt.Errorf("keyclient: no key memory: %w", err)
	}
	return b, nil
}

func (c *Client) freeKey(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.mem.Free(b)
}

// wipe zeroes and frees an org's key; the caller holds c.mu.
func (c *Client) wipe(o *orgKey) {
	if o.der == nil {
		return
	}
	_ = c.mem.Free(o.der[:cap(o.der)]) // Free zeroes the whole block
	o.der = nil
	wipes.Inc()
}

// sweepIdle zeroes keys unused for the idle time.
func (c *Client) sweepIdle() {
	defer close(c.done)
	t := time.NewTicker(max(c.cfg.IdleTimeout/10, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.mu.Lock()
			for _, o := range c.orgs {
				if o.der != nil && now.Sub(o.used) >= c.cfg.IdleTimeout {
					c.wipe(o)
				}
			}
			c.mu.Unlock()
		}
	}
}

// Holds reports whether the client holds org's key bytes right now.
func (c *Client) Holds(org string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orgs[org]
	return o != nil && o.der != nil
}

var _ crypto.Signer = (*slabSigner)(nil)
