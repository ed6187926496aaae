package bench

import (
	"context"
	"crypto/tls"
	"net"
)

// secureConn is a client TLS connection of either TLS stack the load
// generator uses (crypto/tls, or uTLS when one cipher suite is forced).
type secureConn interface {
	net.Conn
	HandshakeContext(context.Context) error
	didResume() bool
	// protocol is the ALPN protocol negotiated, "" when none was.
	protocol() string
}

// stdConn is a crypto/tls client connection.
type stdConn struct{ *tls.Conn }

func (c stdConn) didResume() bool  { return c.ConnectionState().DidResume }
func (c stdConn) protocol() string { return c.ConnectionState().NegotiatedProtocol }

// sessionCache is a worker's session cache for resumption, of whichever
// TLS stack the run uses; nil without Options.Resume.
type sessionCache any

// tlsFactory makes client connections for one run.
type tlsFactory interface {
	// newSessions returns a fresh session cache (one per worker).
	newSessions() sessionCache
	// client wraps conn in a TLS client for server name sni.
	client(conn net.Conn, sni string, sessions sessionCache) secureConn
}

// stdFactory builds crypto/tls clients. Verification happens in
// VerifyConnection against the verifier's cache: InsecureSkipVerify only
// turns off crypto/tls's own, uncached, chain building.
type stdFactory struct {
	base *tls.Config
}

func newStdFactory(o Options, v *verifier) *stdFactory {
	return &stdFactory{base: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return v.verify(cs.ServerName, cs.PeerCertificates)
		},
		CurvePreferences: groupPreference(o.Group),
		NextProtos:       o.alpn(),
	}}
}

func (f *stdFactory) newSessions() sessionCache {
	return tls.NewLRUClientSessionCache(256)
}

func (f *stdFactory) client(conn net.Conn, sni string, sessions sessionCache) secureConn {
	// Clone per connection: the session cache and server name differ per
	// worker and name, and a Config in use must not be changed.
	cfg := f.base.Clone()
	cfg.ServerName = sni
	if s, ok := sessions.(tls.ClientSessionCache); ok {
		cfg.ClientSessionCache = s
	}
	return stdConn{tls.Client(conn, cfg)}
}
