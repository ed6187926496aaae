package tlsmitm

// The upstream side of an inspected connection (DESIGN.md, data path step
// 5): a uTLS client handshake with the origin whose ClientHello is rebuilt
// from the client's own, so the origin sees the client's fingerprint, and an
// explicit verification of the origin's chain whose result goes back to the
// caller instead of failing the handshake.
//
// DialUpstream blocks on the network: call it off the event loop, and hand
// the result back to the loop (STYLE.md, gnet). It is safe for concurrent
// use; so is a SessionCache from utls.NewLRUClientSessionCache.

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
)

// ErrUpstreamHandshake wraps every error DialUpstream returns.
var ErrUpstreamHandshake = errors.New("tlsmitm: upstream TLS handshake failed")

// extEncryptThenMAC is encrypt_then_mac (RFC 7366), sent by OpenSSL-based
// clients.
const extEncryptThenMAC uint16 = 22

// UpstreamConfig describes the origin handshake of one inspected connection.
type UpstreamConfig struct {
	// ServerName is the SNI to send, normally the client's, and the name
	// the certificate is verified for. An IP literal is verified but not
	// sent (RFC 6066 §3); empty sends no SNI and verifies the certificate
	// for the IP address of conn's remote end.
	ServerName string
	// ClientHelloRaw is the client's ClientHello handshake message, 4-byte
	// header included (ClientHello.Raw). DialUpstream does not keep it.
	ClientHelloRaw []byte
	// Roots verifies the origin's chain; nil means the system roots. A
	// caller with configured roots passes the system roots plus its own.
	Roots *x509.CertPool
	// NextProtos overrides the ALPN offer: nil keeps the client's; an empty
	// non-nil list sends no ALPN.
	NextProtos []string
	// Timeout bounds the handshake; zero leaves it to ctx.
	Timeout time.Duration
	// SessionCache, when set, enables upstream resumption. DialUpstream
	// keys its entries by the origin's address and the SNI, so a ticket is
	// only ever offered to the address that issued it. Share one bounded
	// cache (utls.NewLRUClientSessionCache) across connections.
	//
	// TLS 1.2 resumes whenever the client offers session_ticket. TLS 1.3
	// needs a pre_shared_key extension, which a client sends only with a
	// ticket it holds; a ticket the client holds is Lucid's own, useless to
	// the origin, so the client's extension is never forwarded. When the
	// client offers psk_key_exchange_modes, DialUpstream appends a
	// pre_shared_key extension that is sent only when the cache holds a
	// ticket: the origin then sees the client's hello with the one extension
	// the client itself sends on a return visit. A client that offers no
	// psk_key_exchange_modes never resumes.
	SessionCache utls.ClientSessionCache
	// VerifyCache, when set, skips verifying a chain that verified for the
	// same name recently (see VerifyCache); it must belong to Roots.
	VerifyCache *VerifyCache
}

// UpstreamResult is an established connection to the origin.
type UpstreamResult struct {
	// Conn carries the relayed traffic; the caller closes it.
	Conn *utls.UConn
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
	// VerifyErr is nil when the chain verifies for ServerName (or the IP
	// address) against Roots; otherwise it says why not (an
	// x509.CertificateInvalidError, x509.HostnameError or
	// x509.UnknownAuthorityError inside). The handshake completed either
	// way, so the caller can block with a clear page or pass the failure on.
	VerifyErr error
}

// DialUpstream runs the TLS handshake with the origin over conn, a fresh
// connection to it. The ClientHello mirrors cfg.ClientHelloRaw, minus what
// cannot be forwarded (see mirroredSpec); if the client's hello cannot be
// mirrored, a modern preset is sent instead and the result says so.
//
// It returns an error, wrapping ErrUpstreamHandshake, only when the
// handshake itself fails (origin closed or reset the connection, protocol
// error, timeout); conn is closed then. A certificate that does not verify
// is not an error: see UpstreamResult.VerifyErr.
func DialUpstream(ctx context.Context, conn net.Conn, cfg UpstreamConfig) (*UpstreamResult, error) {
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	verifyName := cfg.ServerName
	if verifyName == "" {
		verifyName = remoteIP(conn)
	}
	ch, parseErr := ParseClientHello(cfg.ClientHelloRaw)

	rec := &recordReader{Conn: conn}
	res := &UpstreamResult{Mirrored: true, Socket: conn, Buffered: rec.buffered}
	uconn, err := mirroredConn(rec, &cfg, ch, parseErr)
	if err != nil {
		res.Mirrored, res.MirrorErr = false, err
		uconn, err = presetConn(rec, &cfg, ch)
	}
	if err == nil {
		err = handshake(ctx, uconn)
	}
	if err != nil {
		conn.Close()
		origin := remoteAddr(conn)
		if cfg.ServerName != "" {
			origin = cfg.ServerName + " at " + origin
		}
		return nil, fmt.Errorf("%w with %s: %w", ErrUpstreamHandshake, origin, err)
	}

	cs := uconn.ConnectionState()
	res.Conn = uconn
	res.NegotiatedProtocol = cs.NegotiatedProtocol
	res.Version = cs.Version
	res.CipherSuite = cs.CipherSuite
	res.DidResume = cs.DidResume
	res.PeerCertificates = cs.PeerCertificates
	res.VerifyErr = verifyOrigin(cs.PeerCertificates, verifyName, cfg.Roots, cfg.VerifyCache)
	forgetHandshake(uconn)
	return res, nil
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

// handshake runs the uTLS handshake. uTLS guards some of its internal
// states with panics (uAssert); a hello that reaches one must cost only this
// connection, never the edge.
func handshake(ctx context.Context, uconn *utls.UConn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("uTLS panicked: %v", r)
		}
	}()
	return uconn.HandshakeContext(ctx)
}

// mirroredConn prepares a uTLS connection whose ClientHello is built from
// the client's. Nothing is written to conn yet, so on error the caller can
// start over with a preset.
func mirroredConn(conn net.Conn, cfg *UpstreamConfig, ch *ClientHello, parseErr error) (uconn *utls.UConn, err error) {
	defer func() {
		if r := recover(); r != nil {
			uconn, err = nil, fmt.Errorf("uTLS panicked building the hello: %v", r)
		}
	}()
	if parseErr != nil {
		return nil, fmt.Errorf("client hello does not parse: %w", parseErr)
	}
	spec, err := mirroredSpec(ch)
	if err != nil {
		return nil, err
	}
	adjustSpec(spec, cfg, cfg.NextProtos)
	return applySpec(conn, cfg, spec)
}

// presetConn prepares a uTLS connection with utls.HelloChrome_Auto, keeping
// the client's ALPN offer so the protocol the origin picks is one the
// client speaks.
func presetConn(conn net.Conn, cfg *UpstreamConfig, ch *ClientHello) (*utls.UConn, error) {
	spec, err := utls.UTLSIdToSpec(utls.HelloChrome_Auto)
	if err != nil {
		return nil, err
	}
	alpn := cfg.NextProtos
	if alpn == nil && ch != nil {
		alpn = ch.ALPNProtocols
	}
	if alpn == nil {
		alpn = []string{} // the client's offer is unknown: offer none
	}
	adjustSpec(&spec, cfg, alpn)
	return applySpec(conn, cfg, &spec)
}

// applySpec builds the ClientHello now rather than in the handshake, so any
// error in it can still fall back to the preset.
func applySpec(conn net.Conn, cfg *UpstreamConfig, spec *utls.ClientHelloSpec) (*utls.UConn, error) {
	tc := &utls.Config{
		ServerName: sniName(cfg.ServerName),
		// The chain is verified after the handshake (verifyOrigin), so the
		// caller gets both the certificate and the reason it fails.
		InsecureSkipVerify: true,
		// The pre_shared_key extension added for resumption is left out
		// when the cache holds no ticket.
		OmitEmptyPsk: true,
	}
	if cfg.SessionCache != nil {
		tc.ClientSessionCache = originSessionCache{cfg.SessionCache, remoteAddr(conn)}
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
//     own instead (see UpstreamConfig.SessionCache);
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
func mirroredSpec(ch *ClientHello) (*utls.ClientHelloSpec, error) {
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
func adjustSpec(spec *utls.ClientHelloSpec, cfg *UpstreamConfig, alpn []string) {
	name := sniName(cfg.ServerName)
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
	if cfg.SessionCache != nil && offersPSKResumption(spec) {
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

// verifyOrigin verifies the origin's chain for name, a DNS name or an IP
// address, with the intermediates the origin sent.
func verifyOrigin(certs []*x509.Certificate, name string, roots *x509.CertPool, cache *VerifyCache) error {
	if len(certs) == 0 {
		return errors.New("tlsmitm: origin sent no certificate")
	}
	if name == "" {
		return errors.New("tlsmitm: no server name or IP address to verify the origin certificate for")
	}
	var key [32]byte
	if cache != nil {
		key = verifyCacheKey(certs, name)
		if cache.known(key) {
			return nil
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Intermediates: intermediates, Roots: roots})
	if err != nil {
		return fmt.Errorf("tlsmitm: origin certificate for %s: %w", name, err)
	}
	if cache != nil {
		cache.add(key, chains[0])
	}
	return nil
}

func remoteAddr(conn net.Conn) string {
	if a := conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// remoteIP is the IP address of conn's remote end, "" if it has none.
func remoteIP(conn net.Conn) string {
	addr, err := netip.ParseAddrPort(remoteAddr(conn))
	if err != nil {
		return ""
	}
	return addr.Addr().Unmap().WithZone("").String()
}

// originSessionCache files the tickets of one origin address under that
// address: in transparent mode the SNI is whatever the client says, and a
// ticket for a name must not travel to another address claiming it.
type originSessionCache struct {
	cache  utls.ClientSessionCache
	origin string
}

func (c originSessionCache) Get(key string) (*utls.ClientSessionState, bool) {
	return c.cache.Get(c.origin + " " + key)
}

func (c originSessionCache) Put(key string, cs *utls.ClientSessionState) {
	c.cache.Put(c.origin+" "+key, cs)
}

// recordReader hands uTLS the origin's stream no further than the end of
// the TLS record it is reading. uTLS buffers whatever a read returns, so
// with a plain connection a read that ends inside Conn.Read may leave
// whole records in uTLS's buffer, invisible from outside. Here a read from
// the socket takes what is there, as before, and what lies past the
// current record waits in extra, visible (UpstreamResult.Buffered), until
// uTLS asks for it: a short Conn.Read with nothing in extra means all the
// origin sent so far has been taken, and the socket tells when it sends
// again.
type recordReader struct {
	net.Conn
	hdr   [recordHeaderLen]byte
	nhdr  int    // header bytes of the current record seen so far
	body  int    // body bytes of the current record still to come
	extra []byte // read past the current record; extra[off:] is still to hand out
	off   int
}

func (r *recordReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.off < len(r.extra) {
		n := r.frame(p[:copy(p, r.extra[r.off:])])
		r.off += n
		if r.off == len(r.extra) {
			// Keep the array while the origin streams; buffered lets it go.
			r.extra, r.off = r.extra[:0], 0
		}
		return n, nil
	}
	n, err := r.Conn.Read(p)
	k := r.frame(p[:n])
	if k < n {
		r.extra = append(r.extra[:0], p[k:n]...)
	}
	return k, err
}

// frame follows the record framing over b, the next bytes of the stream,
// and returns how many of them belong to the current record.
func (r *recordReader) frame(b []byte) int {
	i := 0
	for i < len(b) {
		if r.nhdr < recordHeaderLen {
			k := copy(r.hdr[r.nhdr:], b[i:])
			r.nhdr += k
			i += k
			if r.nhdr < recordHeaderLen {
				continue
			}
			r.body = int(r.hdr[3])<<8 | int(r.hdr[4])
		}
		k := min(r.body, len(b)-i)
		r.body -= k
		i += k
		if r.body == 0 {
			r.nhdr = 0
			return i
		}
	}
	return i
}

// buffered is how many bytes were read from the socket and not yet handed
// to uTLS; when there are none, the spare array goes too (the caller asks
// as the connection turns idle). Only the goroutine reading Conn may call
// it.
func (r *recordReader) buffered() int {
	n := len(r.extra) - r.off
	if n == 0 {
		r.extra, r.off = nil, 0
	}
	return n
}
