package origin

import (
	"crypto/x509"
	"net/netip"
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
	// CheckAddr, when set, judges every address Dial is about to connect
	// to, after resolution and before the connection is attempted: each
	// A/AAAA result and each happy-eyeballs attempt (RFC 8305), so a name
	// that resolves to a refused address is refused however it resolves
	// (DNS rebinding). host is the destination Dial was given; mapped is
	// Resolve's. A non-nil error refuses the address: Dial then returns a
	// *RefusedError, unless another address of host connected. It is
	// called from the dialing goroutines, several at once for one Dial.
	CheckAddr func(host string, addr netip.AddrPort, mapped bool) error
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
