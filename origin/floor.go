package origin

import (
	"errors"
	"fmt"
	"net"
	"strings"

	utls "github.com/refraction-networking/utls"
)

// The upstream TLS floor (DESIGN.md, data path step 5). The mirrored hello
// stays the client's, old versions and weak suites included, so the origin
// sees the client's fingerprint; the floor is on what the origin picks. An
// origin that picks a version below TLS 1.2, or a TLS 1.2 suite that is
// not an ECDHE suite with an AEAD (RSA key exchange has no forward
// secrecy; CBC with HMAC-SHA1 and RC4 are the broken record protections of
// RFC 7457 §2), is refused before the client sends anything but its hello,
// unless the caller allows legacy TLS for this host.

// ErrTLSFloor is wrapped by every FloorError.
var ErrTLSFloor = errors.New("origin: the origin's TLS is below the floor")

// FloorError is a handshake the origin took below the floor: the version
// and suite it chose, and why they are refused.
type FloorError struct {
	Version uint16
	Suite   uint16
	Reason  string
}

func (e *FloorError) Error() string {
	return fmt.Sprintf("origin: the origin chose %s with %s, below the edge's TLS floor: %s",
		utls.VersionName(e.Version), utls.CipherSuiteName(e.Suite), e.Reason)
}

func (e *FloorError) Unwrap() error { return ErrTLSFloor }

// floorSuites are the TLS 1.2 suites above the floor: ECDHE with an AEAD.
var floorSuites = map[uint16]bool{
	utls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       true,
	utls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       true,
	utls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         true,
	utls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         true,
	utls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: true,
	utls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   true,
}

// checkFloor returns a *FloorError when version or suite is below the
// floor, nil otherwise. Every TLS 1.3 suite is an AEAD with an (EC)DHE
// key exchange: uTLS resumes only in psk_dhe_ke mode (RFC 8446 §4.2.9).
func checkFloor(version, suite uint16) error {
	if version >= utls.VersionTLS13 {
		return nil
	}
	var reasons []string
	if version < utls.VersionTLS12 {
		reasons = append(reasons, utls.VersionName(version)+" is older than TLS 1.2")
	}
	if !floorSuites[suite] {
		reasons = append(reasons, suiteWeakness(suite))
	}
	if len(reasons) == 0 {
		return nil
	}
	return &FloorError{Version: version, Suite: suite, Reason: strings.Join(reasons, "; ")}
}

// suiteWeakness says why a suite outside floorSuites is refused.
func suiteWeakness(suite uint16) string {
	name := utls.CipherSuiteName(suite)
	switch {
	case strings.HasPrefix(name, "TLS_RSA_WITH_"):
		return "RSA key exchange, without forward secrecy"
	case strings.Contains(name, "_RC4_"):
		return "RC4 encryption"
	case strings.HasSuffix(name, "_CBC_SHA"):
		return "CBC encryption with HMAC-SHA1"
	case strings.Contains(name, "_CBC_"):
		return "CBC encryption"
	}
	return "not an ECDHE suite with AEAD encryption"
}

// TLS alert insufficient_security (RFC 5246 §7.2.2, RFC 8446 §6.2), fatal.
const (
	recordAlert                uint8 = 21
	alertLevelFatal            uint8 = 2
	alertInsufficientSecurity  uint8 = 71
	alertRecordLen                   = 2
	insufficientSecurityRecord       = recordHeaderLen + alertRecordLen
)

// refuseBelowFloor tells the origin why the handshake ends: a fatal
// insufficient_security alert, in the clear, written to the socket under
// uTLS. uTLS would send bad_certificate instead, and only into its
// handshake buffer, which is never flushed once the handshake fails.
// Below TLS 1.3 the client has sent nothing but its hello when the floor
// is checked (after the origin's Certificate, or its Finished when
// resuming, before ChangeCipherSpec), so a plaintext alert is what the
// origin expects; at TLS 1.3 nothing is ever refused.
func refuseBelowFloor(socket net.Conn, version uint16) {
	if version >= utls.VersionTLS13 {
		return
	}
	rec := [insufficientSecurityRecord]byte{
		recordAlert, byte(version >> 8), byte(version), 0, alertRecordLen,
		alertLevelFatal, alertInsufficientSecurity,
	}
	// The handshake fails either way; an origin that does not read the
	// alert loses nothing it needs.
	socket.Write(rec[:])
}

// floorCheck is the uTLS VerifyConnection callback that enforces the floor
// during the handshake, and refuses the origin on socket; with allowLegacy
// it lets everything through.
func floorCheck(socket net.Conn, allowLegacy bool) func(utls.ConnectionState) error {
	return func(cs utls.ConnectionState) error {
		if allowLegacy {
			return nil
		}
		err := checkFloor(cs.Version, cs.CipherSuite)
		if err != nil {
			refuseBelowFloor(socket, cs.Version)
		}
		return err
	}
}
