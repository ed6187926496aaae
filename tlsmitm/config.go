package tlsmitm

import (
	"crypto"
	"io"
	"time"
)

// Config configures a server connection. A Config may be shared by many
// connections and must not change once in use.
type Config struct {
	// GetCertificate chooses the certificate for a ClientHello. Returning
	// (nil, nil) leaves the handshake pending: Process reports EventPending
	// until the caller hands over a certificate with Conn.SetCertificate.
	// The ClientHello and its slices are valid until then. An error aborts
	// the handshake; an *AlertError chooses the alert, anything else sends
	// handshake_failure.
	GetCertificate func(hello *ClientHello) (*Certificate, error)

	// NextProtos lists the ALPN protocols the server speaks, preferred
	// first. Empty: ALPN is ignored.
	NextProtos []string

	// Rand supplies randomness; nil means crypto/rand.
	Rand io.Reader

	// CipherSuites and Groups are the server's preferences, most preferred
	// first; nil means DefaultCipherSuites and DefaultGroups.
	CipherSuites []uint16
	Groups       []Group

	// CertCompression lists the certificate compression algorithms (RFC
	// 8879) the server uses, most preferred first; nil means
	// DefaultCertCompression, an empty non-nil slice never compresses.
	CertCompression []uint16
	// CertCompressionCache holds compressed chains; nil means one cache
	// shared by the whole process.
	CertCompressionCache *CertCompressionCache

	// KeyUpdateAfter is how many application bytes the server sends under
	// one set of keys before it updates them (RFC 8446 §4.6.3). Zero means
	// DefaultKeyUpdateAfter; negative turns it off.
	KeyUpdateAfter int64

	// Memory holds each connection's secrets; nil means the Go heap. The
	// edge passes its per-loop zeroing slab (internal/secmem), so a Config
	// with Memory set belongs to one event loop.
	Memory Memory

	// Tickets seals and opens session tickets (RFC 8446 §4.6.1); one
	// TicketKeys serves every loop of a process. nil: no tickets are
	// issued and every handshake is a full one.
	Tickets *TicketKeys
	// TicketLifetime is the lifetime of issued tickets; 0 means
	// DefaultTicketLifetime, and more than 7 days is 7 days.
	TicketLifetime time.Duration
	// Now is the clock for ticket ages; nil means time.Now.
	Now func() time.Time
	// ParkResumed: a handshake that could resume from a ticket is left
	// pending too (EventPending, with Conn.Resumable true), so the caller
	// can do its own work before the server answers. It then goes on with
	// Conn.Resume, or with Conn.SetCertificate, which declines the ticket
	// and makes a full handshake (RFC 8446 §4.2.11: the server may ignore
	// a PSK it could use). Without it a resumable hello resumes at once.
	ParkResumed bool

	// LegacyHandoff: a first ClientHello that offers TLS 1.2 but not TLS
	// 1.3 makes Process report EventLegacy, consuming nothing and sending
	// no alert, instead of refusing it with protocol_version. The caller
	// then hands the connection to a TLS 1.2 server.
	LegacyHandoff bool
}

// Memory hands out zeroed blocks and zeroes them again on Free.
// internal/secmem's Arena is one.
type Memory interface {
	Alloc(n int) ([]byte, error)
	Free(b []byte) error
}

// Certificate is a chain and the key that proves it.
type Certificate struct {
	// Chain holds DER certificates, leaf first.
	Chain [][]byte
	// PrivateKey signs CertificateVerify: ECDSA (P-256, P-384), RSA (signing
	// with RSA-PSS) or Ed25519. A remote signer fits here too.
	PrivateKey crypto.Signer
}

func (c *Config) cipherSuites() []uint16 {
	if c.CipherSuites != nil {
		return c.CipherSuites
	}
	return DefaultCipherSuites
}

func (c *Config) groups() []Group {
	if c.Groups != nil {
		return c.Groups
	}
	return DefaultGroups
}

// DefaultKeyUpdateAfter is 1 GiB: far inside what AES-GCM may safely
// protect under one key (RFC 8446 §5.5 puts that at 2^24.5 full records,
// about 380 GiB), and rare enough to cost nothing.
const DefaultKeyUpdateAfter = 1 << 30

func (c *Config) keyUpdateAfter() int64 {
	switch {
	case c.KeyUpdateAfter < 0:
		return 0
	case c.KeyUpdateAfter == 0:
		return DefaultKeyUpdateAfter
	}
	return c.KeyUpdateAfter
}
