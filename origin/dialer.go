package origin

import (
	"crypto/x509"
	"time"

	utls "github.com/refraction-networking/utls"
)

// Config is what every connection of one proxy shares.
type Config struct {
	// Roots verifies origins; nil means the system roots. A caller with
	// configured roots passes the system roots plus its own.
	Roots *x509.CertPool
	// Resolve overrides DNS: it returns the "host:port" to dial for a
	// destination, and mapped true when the operator chose that target
	// for host (the edge's hosts section), false when it is host:port as
	// asked. nil dials host:port as asked.
	Resolve func(host string, port int) (target string, mapped bool)
	// SessionCacheSize bounds the upstream TLS session cache (entries, for
	// all origins together); 0 turns resumption with origins off. See
	// sessions.go for what resumes and with whom.
	SessionCacheSize int
	// HandshakeTimeout bounds each TLS handshake with an origin; 0 leaves
	// it to the caller's ctx.
	HandshakeTimeout time.Duration
}

// The verify cache: chains per Dialer, and how long a chain that verified
// is trusted without verifying it again (never past its earliest
// NotAfter).
const (
	verifyCacheSize = 4096
	verifyTTL       = 10 * time.Minute
)

// Dialer connects to origins for one proxy and holds what its connections
// share: the upstream session cache and the cache of chains that verified.
// It is safe for concurrent use.
type Dialer struct {
	cfg      Config
	sessions utls.ClientSessionCache // nil: no resumption
	// An origin's chain is verified once per verifyTTL, not on every
	// connection: verification costs more than our own server handshake.
	verified *verifyCache
}

// NewDialer returns a Dialer for cfg, which must not change afterwards.
func NewDialer(cfg Config) *Dialer {
	return &Dialer{
		cfg:      cfg,
		sessions: newSessionCache(cfg.SessionCacheSize),
		verified: newVerifyCache(verifyCacheSize, verifyTTL),
	}
}
