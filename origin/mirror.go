package origin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/tlsmitm"
)

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
		// uTLS calls it on every path, full or resumed, once the version
		// and suite are known and before the client's key exchange or
		// Finished.
		VerifyConnection: floorCheck(conn, cfg.allowLegacy),
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
