package bench

import (
	"context"
	"net"

	utls "github.com/refraction-networking/utls"
)

// crypto/tls offers every TLS 1.3 cipher suite and lets the server pick;
// to measure one suite the client must offer only that one. uTLS, a fork
// of crypto/tls already in the module, builds Go's own ClientHello and
// lets it be edited before it is sent: the run replaces the suite list.

// utlsFactory builds uTLS clients that offer a single TLS 1.3 suite.
type utlsFactory struct {
	base  *utls.Config
	suite uint16
}

func newUTLSFactory(o Options, v *verifier) *utlsFactory {
	return &utlsFactory{
		suite: suites[o.Suite],
		base: &utls.Config{
			InsecureSkipVerify: true, // verified below, with the verifier's cache
			VerifyConnection: func(cs utls.ConnectionState) error {
				return v.verify(cs.ServerName, cs.PeerCertificates)
			},
			CurvePreferences: []utls.CurveID{utls.CurveID(groups[o.Group])},
			MinVersion:       utls.VersionTLS13,
			NextProtos:       o.alpn(),
		},
	}
}

func (f *utlsFactory) newSessions() sessionCache {
	return utls.NewLRUClientSessionCache(256)
}

func (f *utlsFactory) client(conn net.Conn, sni string, sessions sessionCache) secureConn {
	cfg := f.base.Clone()
	cfg.ServerName = sni
	if s, ok := sessions.(utls.ClientSessionCache); ok {
		cfg.ClientSessionCache = s
	}
	return &utlsConn{UConn: utls.UClient(conn, cfg, utls.HelloGolang), suite: f.suite}
}

type utlsConn struct {
	*utls.UConn
	suite uint16
}

func (c *utlsConn) HandshakeContext(ctx context.Context) error {
	if err := c.BuildHandshakeState(); err != nil {
		return err
	}
	c.HandshakeState.Hello.CipherSuites = []uint16{c.suite}
	return c.UConn.HandshakeContext(ctx)
}

func (c *utlsConn) didResume() bool  { return c.ConnectionState().DidResume }
func (c *utlsConn) protocol() string { return c.ConnectionState().NegotiatedProtocol }
