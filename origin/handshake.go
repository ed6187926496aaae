package origin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/tlsmitm"
)

// ErrHandshake wraps every error Handshake returns.
var ErrHandshake = errors.New("origin: TLS handshake with the origin failed")

// Session is an established TLS connection to the origin.
type Session struct {
	// Conn carries the relayed traffic; the caller closes it. It is a uTLS
	// connection: CloseWrite sends close_notify.
	Conn net.Conn
	// Socket is the connection under Conn, which Conn is handed no more
	// than one TLS record at a time (recordReader): once a Read of Conn has
	// returned less than it was asked for and Buffered reports 0, all the
	// origin sent so far has been read, and the caller may wait for Socket
	// to become readable before reading again, instead of waiting inside
	// Conn.Read with a buffer. Never read or write Socket itself.
	Socket net.Conn
	// Buffered reports the bytes read from Socket that Conn has not taken
	// yet, and when there are none releases the spare buffer that held
	// them. Call it only from the goroutine that reads Conn.
	Buffered func() int
	// Mirrored is false when the ClientHello was not built from the
	// client's but from utls.HelloChrome_Auto; MirrorErr says why.
	Mirrored  bool
	MirrorErr error

	NegotiatedProtocol string
	Version            uint16
	CipherSuite        uint16
	DidResume          bool
	// BelowFloor is nil when the version and suite the origin chose are
	// above the TLS floor (floor.go); otherwise it is the *FloorError that
	// HandshakeOptions.AllowLegacyTLS let through, for the log.
	BelowFloor       error
	PeerCertificates []*x509.Certificate
	// VerifyErr is nil when the chain verifies for the server name (or the
	// IP address) against Config.Roots; otherwise it says why not (an
	// x509.CertificateInvalidError, x509.HostnameError or
	// x509.UnknownAuthorityError inside). The handshake completed either
	// way, so the caller can block with a clear page or pass the failure
	// on.
	VerifyErr error
}

// HandshakeOptions is what the caller decides for one origin handshake.
type HandshakeOptions struct {
	// ServerName is the SNI to send, normally the client's, and the name
	// the certificate is verified for. An IP literal is verified but not
	// sent (RFC 6066 §3); empty sends no SNI and verifies the certificate
	// for the IP address of conn's remote end.
	ServerName string
	// NextProtos overrides the ALPN offer: nil keeps the client's; an
	// empty non-nil list sends no ALPN.
	NextProtos []string
	// AllowLegacyTLS lets the origin choose a version or suite below the
	// TLS floor (floor.go): a policy rule allows legacy TLS for this host.
	AllowLegacyTLS bool
}

// Handshake runs the TLS handshake with the origin over conn, a fresh
// connection from Dial. The ClientHello mirrors hello, the client's, minus
// what cannot be forwarded (see mirroredSpec); if the client's hello cannot
// be mirrored, or hello is nil, a modern preset is sent instead and the
// Session says so.
//
// Handshake does not keep hello or its memory past the call. It returns an
// error, wrapping ErrHandshake, only when the handshake itself fails
// (origin closed or reset the connection, protocol error, timeout) or the
// origin chose TLS below the floor without opts.AllowLegacyTLS (then a
// *FloorError is in the chain, and the origin got an insufficient_security
// alert before the client sent anything but its hello); conn is closed
// then. A certificate that does not verify is not an error: see
// Session.VerifyErr.
//
// Handshake blocks on the network: call it off the event loop.
func (d *Dialer) Handshake(ctx context.Context, conn net.Conn, hello *tlsmitm.ClientHello, opts HandshakeOptions) (*Session, error) {
	return handshake(ctx, conn, handshakeConfig{
		serverName:  opts.ServerName,
		hello:       hello,
		roots:       d.cfg.Roots,
		nextProtos:  opts.NextProtos,
		allowLegacy: opts.AllowLegacyTLS,
		timeout:     d.cfg.HandshakeTimeout,
		sessions:    d.sessions,
		verified:    d.verified,
	})
}

// handshakeConfig describes the origin handshake of one connection: the
// caller's arguments and the Dialer's shared state (Handshake).
type handshakeConfig struct {
	serverName  string
	hello       *tlsmitm.ClientHello // nil: nothing to mirror, the preset goes
	roots       *x509.CertPool
	nextProtos  []string
	allowLegacy bool
	timeout     time.Duration           // 0: ctx alone bounds the handshake
	sessions    utls.ClientSessionCache // nil: no resumption
	verified    *verifyCache            // nil: every chain is verified; it must belong to roots
}

// handshake is Handshake with everything explicit; see there. It blocks:
// call it off the event loop.
func handshake(ctx context.Context, conn net.Conn, cfg handshakeConfig) (*Session, error) {
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	verifyName := cfg.serverName
	if verifyName == "" {
		verifyName = remoteIP(conn)
	}

	rec := &recordReader{Conn: conn}
	s := &Session{Mirrored: true, Socket: conn, Buffered: rec.buffered}
	uconn, err := mirroredConn(rec, &cfg)
	if err != nil {
		s.Mirrored, s.MirrorErr = false, err
		uconn, err = presetConn(rec, &cfg)
	}
	if err == nil {
		err = runHandshake(ctx, uconn)
	}
	var cs utls.ConnectionState
	if err == nil {
		// The floor was checked in the handshake (floorCheck); checked again
		// on the result, so that no path through uTLS can skip it.
		cs = uconn.ConnectionState()
		s.BelowFloor = checkFloor(cs.Version, cs.CipherSuite)
		if s.BelowFloor != nil && !cfg.allowLegacy {
			err = s.BelowFloor
		}
	}
	if err != nil {
		conn.Close()
		origin := remoteAddr(conn)
		if cfg.serverName != "" {
			origin = cfg.serverName + " at " + origin
		}
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, origin, err)
	}

	s.Conn = uconn
	s.NegotiatedProtocol = cs.NegotiatedProtocol
	s.Version = cs.Version
	s.CipherSuite = cs.CipherSuite
	s.DidResume = cs.DidResume
	s.PeerCertificates = cs.PeerCertificates
	s.VerifyErr = verifyOrigin(cs.PeerCertificates, verifyName, cfg.roots, cfg.verified)
	forgetHandshake(uconn)
	return s, nil
}

// runHandshake runs the uTLS handshake. uTLS guards some of its internal
// states with panics (uAssert); a hello that reaches one must cost only
// this connection, never the edge.
func runHandshake(ctx context.Context, uconn *utls.UConn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("uTLS panicked: %v", r)
		}
	}()
	return uconn.HandshakeContext(ctx)
}

// forgetHandshake drops what uTLS keeps of a finished handshake: the key
// share private keys (X25519, ML-KEM), the early and binder secrets, the
// TLS 1.2 master secret, both hellos and the hello's extensions. The
// connection needs none of it again (no renegotiation; tickets use the
// connection's own resumption secret), and an idle relayed connection
// should hold its traffic keys and little else. Nothing is zeroed here:
// those slices may be shared with the session cache and the record layer
// (a TLS 1.2 master secret resumes later sessions), so they are only let
// go.
func forgetHandshake(uconn *utls.UConn) {
	hs := &uconn.HandshakeState
	hs.MasterSecret = nil
	hs.Hello, hs.ServerHello = nil, nil
	hs.State13 = utls.TLS13OnlyState{}
	hs.State12 = utls.TLS12OnlyState{}
	// The hello's extensions (key shares with their public keys, up to
	// 1216 bytes for X25519MLKEM768, padding, ALPN, ...) only build the
	// hello and check the server's answer to it.
	uconn.Extensions = nil
}
