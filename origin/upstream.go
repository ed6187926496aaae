package origin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
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
	PeerCertificates   []*x509.Certificate
	// VerifyErr is nil when the chain verifies for the server name (or the
	// IP address) against Config.Roots; otherwise it says why not (an
	// x509.CertificateInvalidError, x509.HostnameError or
	// x509.UnknownAuthorityError inside). The handshake completed either
	// way, so the caller can block with a clear page or pass the failure
	// on.
	VerifyErr error
}

// Handshake runs the TLS handshake with the origin over conn, a fresh
// connection from Dial. The ClientHello mirrors hello, the client's, minus
// what cannot be forwarded (see mirroredSpec); if the client's hello cannot
// be mirrored, a modern preset is sent instead and the Session says so.
//
// serverName is the SNI to send, normally the client's, and the name the
// certificate is verified for. An IP literal is verified but not sent
// (RFC 6066 §3); empty sends no SNI and verifies the certificate for the IP
// address of conn's remote end. nextProtos overrides the ALPN offer: nil
// keeps the client's; an empty non-nil list sends no ALPN.
//
// Handshake does not keep hello or its memory past the call. It returns an
// error, wrapping ErrHandshake, only when the handshake itself fails
// (origin closed or reset the connection, protocol error, timeout); conn
// is closed then. A certificate that does not verify is not an error: see
// Session.VerifyErr.
//
// Handshake blocks on the network: call it off the event loop.
func (d *Dialer) Handshake(ctx context.Context, conn net.Conn, hello *tlsmitm.ClientHello, serverName string, nextProtos []string) (*Session, error) {
	return handshake(ctx, conn, handshakeConfig{
		serverName: serverName,
		hello:      hello,
		roots:      d.cfg.Roots,
		nextProtos: nextProtos,
		timeout:    d.cfg.HandshakeTimeout,
		sessions:   d.sessions,
		verified:   d.verified,
	})
}

// handshakeConfig describes the origin handshake of one connection: the
// caller's arguments and the Dialer's shared state (Handshake).
type handshakeConfig struct {
	serverName string
	hello      *tlsmitm.ClientHello // nil: nothing to mirror, the preset goes
	roots      *x509.CertPool
	nextProtos []string
	timeout    time.Duration           // 0: ctx alone bounds the handshake
	sessions   utls.ClientSessionCache // nil: no resumption
	verified   *verifyCache            // nil: every chain is verified; it must belong to roots
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
	if err != nil {
		conn.Close()
		origin := remoteAddr(conn)
		if cfg.serverName != "" {
			origin = cfg.serverName + " at " + origin
		}
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, origin, err)
	}

	cs := uconn.ConnectionState()
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

// Extension types the mirrored hello leaves out (mirroredSpec).
const (
	extEarlyData      uint16 = 42 // RFC 8446 §4.2.10
	extCookie         uint16 = 44 // RFC 8446 §4.2.2
	extEncryptThenMAC uint16 = 22 // RFC 7366, sent by OpenSSL-based clients
)

// isGREASE reports whether v is one of the reserved GREASE values of RFC
// 8701, which the origin must see where the client put them.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// mirroredConn prepares a uTLS connection whose ClientHello is built from
// the client's. Nothing is written to conn yet, so on error the caller can
// start over with a preset.
func mirroredConn(conn net.Conn, cfg *handshakeConfig) (uconn *utls.UConn, err error) {
	defer func() {
		if r := recover(); r != nil {
			uconn, err = nil, fmt.Errorf("uTLS panicked building the hello: %v", r)
		}
	}()
	if cfg.hello == nil {
		return nil, errors.New("no client hello to mirror")
	}
	spec, err := mirroredSpec(cfg.hello)
	if err != nil {
		return nil, err
	}
	adjustSpec(spec, cfg, cfg.nextProtos)
	return applySpec(conn, cfg, spec)
}

// presetConn prepares a uTLS connection with utls.HelloChrome_Auto, keeping
// the client's ALPN offer so the protocol the origin picks is one the
// client speaks.
func presetConn(conn net.Conn, cfg *handshakeConfig) (*utls.UConn, error) {
	spec, err := utls.UTLSIdToSpec(utls.HelloChrome_Auto)
	if err != nil {
		return nil, err
	}
	alpn := cfg.nextProtos
	if alpn == nil && cfg.hello != nil {
		// A copy: the connection keeps its offer, and must not keep the
		// caller's hello.
		alpn = slices.Clone(cfg.hello.ALPNProtocols)
	}
	if alpn == nil {
		alpn = []string{} // the client's offer is unknown: offer none
	}
	adjustSpec(&spec, cfg, alpn)
	return applySpec(conn, cfg, &spec)
}

// applySpec builds the ClientHello now rather than in the handshake, so any
// error in it can still fall back to the preset.
func applySpec(conn net.Conn, cfg *handshakeConfig, spec *utls.ClientHelloSpec) (*utls.UConn, error) {
	tc := &utls.Config{
		ServerName: sniName(cfg.serverName),
		// The chain is verified after the handshake (verifyOrigin), so the
		// caller gets both the certificate and the reason it fails.
		InsecureSkipVerify: true,
		// The pre_shared_key extension added for resumption is left out
		// when the cache holds no ticket.
		OmitEmptyPsk: true,
	}
	if cfg.sessions != nil {
		tc.ClientSessionCache = originSessionCache{cfg.sessions, remoteAddr(conn)}
	}
	uconn := utls.UClient(conn, tc, utls.HelloCustom)
	if err := uconn.ApplyPreset(spec); err != nil {
		return nil, err
	}
	if err := uconn.BuildHandshakeState(); err != nil {
		return nil, err
	}
	return uconn, nil
}

// mirroredSpec fingerprints the client's hello into a uTLS spec and removes
// what cannot be forwarded:
//
//   - pre_shared_key (in adjustSpec): its binders prove a key the client
//     shares with Lucid, not with the origin; adjustSpec may add Lucid's
//     own instead (see sessions.go);
//   - early_data: Lucid has no 0-RTT data to send;
//   - cookie: it answers a HelloRetryRequest the origin never sent;
//   - encrypt_then_mac: crypto/tls, under uTLS, does not implement it, and a
//     TLS 1.2 origin that agrees to it with a CBC suite would fail every
//     record;
//   - key shares for groups uTLS cannot compute (it knows X25519, P-256,
//     P-384, P-521, X25519MLKEM768 and X25519Kyber768Draft00), and those
//     groups from supported_groups too, since the origin would answer with a
//     HelloRetryRequest for them.
//
// uTLS itself turns a real encrypted_client_hello into GREASE ECH (a config
// for the origin is useless to Lucid: the inner hello is the client's,
// encrypted to the origin), discards the client's key shares, session
// ticket and session ID, and generates its own. Everything else is
// forwarded as sent, including extensions and suites uTLS only imitates
// (delegated_credentials, record_size_limit, unknown extensions): an origin
// that acts on one of those fails the handshake with an error. Padding
// keeps the client's hello length where it can.
//
// Only ch.Raw is read, by uTLS's own fingerprinting; the spec does not
// alias it.
func mirroredSpec(ch *tlsmitm.ClientHello) (*utls.ClientHelloSpec, error) {
	// uTLS wants a whole record; it reads the record version as the
	// minimum version of a hello without supported_versions.
	rec := make([]byte, 0, recordHeaderLen+len(ch.Raw))
	rec = append(rec, recordHandshake, 0x03, 0x01, byte(len(ch.Raw)>>8), byte(len(ch.Raw)))
	rec = append(rec, ch.Raw...)
	fp := utls.Fingerprinter{AllowBluntMimicry: true}
	spec, err := fp.FingerprintClientHello(rec)
	if err != nil {
		return nil, fmt.Errorf("uTLS cannot fingerprint the client hello: %w", err)
	}

	var dropped []utls.CurveID
	spec.Extensions = slices.DeleteFunc(spec.Extensions, func(e utls.TLSExtension) bool {
		switch e := e.(type) {
		case *utls.GenericExtension:
			return e.Id == extEarlyData || e.Id == extCookie || e.Id == extEncryptThenMAC
		case *utls.KeyShareExtension:
			e.KeyShares = slices.DeleteFunc(e.KeyShares, func(ks utls.KeyShare) bool {
				if isGREASE(uint16(ks.Group)) || keyShareSupported(ks.Group) {
					return false
				}
				dropped = append(dropped, ks.Group)
				return true
			})
		case *utls.UtlsPaddingExtension:
			e.GetPaddingLen = padTo(len(ch.Raw))
		}
		return false
	})
	for _, e := range spec.Extensions {
		if sc, ok := e.(*utls.SupportedCurvesExtension); ok {
			sc.Curves = slices.DeleteFunc(sc.Curves, func(g utls.CurveID) bool { return slices.Contains(dropped, g) })
		}
	}
	return spec, nil
}

func keyShareSupported(g utls.CurveID) bool {
	switch g {
	case utls.X25519, utls.CurveP256, utls.CurveP384, utls.CurveP521, utls.X25519MLKEM768, utls.X25519Kyber768Draft00:
		return true
	}
	return false
}

// padTo keeps the padding extension the client sent, sized so the hello is
// as long as the client's, or empty when the hello is already longer.
func padTo(helloLen int) func(int) (int, bool) {
	return func(unpadded int) (int, bool) {
		return max(helloLen-unpadded-4, 0), true
	}
}

// adjustSpec sets what the caller decides rather than the client: the SNI,
// the ALPN offer (alpn nil keeps the spec's) and the resumption extension.
func adjustSpec(spec *utls.ClientHelloSpec, cfg *handshakeConfig, alpn []string) {
	name := sniName(cfg.serverName)
	i := slices.IndexFunc(spec.Extensions, isType[*utls.SNIExtension])
	switch {
	case name == "" && i >= 0:
		spec.Extensions = slices.Delete(spec.Extensions, i, i+1)
	case name != "" && i >= 0:
		spec.Extensions[i].(*utls.SNIExtension).ServerName = name
	case name != "":
		spec.Extensions = slices.Insert(spec.Extensions, 0, utls.TLSExtension(&utls.SNIExtension{ServerName: name}))
	}

	if alpn != nil {
		i := slices.IndexFunc(spec.Extensions, isType[*utls.ALPNExtension])
		switch {
		case len(alpn) == 0 && i >= 0:
			spec.Extensions = slices.Delete(spec.Extensions, i, i+1)
		case len(alpn) > 0 && i >= 0:
			spec.Extensions[i].(*utls.ALPNExtension).AlpnProtocols = alpn
		case len(alpn) > 0:
			spec.Extensions = slices.Insert(spec.Extensions, 0, utls.TLSExtension(&utls.ALPNExtension{AlpnProtocols: alpn}))
		}
	}

	spec.Extensions = slices.DeleteFunc(spec.Extensions, isType[utls.PreSharedKeyExtension])
	if cfg.sessions != nil && offersPSKResumption(spec) {
		// RFC 8446 §4.2.11: pre_shared_key comes last.
		spec.Extensions = append(spec.Extensions, &utls.UtlsPreSharedKeyExtension{})
	}
}

func isType[T any](e utls.TLSExtension) bool {
	_, ok := e.(T)
	return ok
}

// offersPSKResumption reports whether the hello offers TLS 1.3 and the
// psk_dhe_ke mode, the one crypto/tls resumes with.
func offersPSKResumption(spec *utls.ClientHelloSpec) bool {
	var tls13, dhe bool
	for _, e := range spec.Extensions {
		switch e := e.(type) {
		case *utls.SupportedVersionsExtension:
			tls13 = slices.Contains(e.Versions, utls.VersionTLS13)
		case *utls.PSKKeyExchangeModesExtension:
			dhe = slices.Contains(e.Modes, utls.PskModeDHE)
		}
	}
	return tls13 && dhe
}

// sniName is the name to send as SNI: RFC 6066 §3 forbids IP literals.
func sniName(serverName string) string {
	if _, err := netip.ParseAddr(serverName); err == nil {
		return ""
	}
	return serverName
}
