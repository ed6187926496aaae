package certcache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

const (
	// DefaultMaxValidity is the longest a minted leaf lives when
	// Issuer.MaxValidity is zero.
	DefaultMaxValidity = 7 * 24 * time.Hour

	// MaxSANs is the most subject alternative names (of every kind) an
	// origin certificate may carry; a leaf carries at most one more, the SNI.
	MaxSANs = 1000

	// MaxOriginSubject is the largest origin subject (DER) a leaf copies.
	MaxOriginSubject = 4 << 10

	// MaxOriginDER is the largest origin certificate ParseOrigin accepts.
	MaxOriginDER = 64 << 10

	// mintBackdate is how far before now a leaf for a currently valid origin
	// starts, so that clients whose clocks run a little slow accept it.
	mintBackdate = time.Hour

	maxDNSNameLen  = 253
	maxDNSLabelLen = 63
)

var (
	// ErrBadOrigin is wrapped by every error that comes from the origin's
	// certificate itself: it does not parse, is too large, carries names a
	// leaf must not repeat, or leaves no validity window to copy.
	ErrBadOrigin = errors.New("certcache: origin certificate cannot be mirrored")

	// ErrBadSNI is wrapped by the error for an SNI that is neither a valid
	// host name nor an IP literal.
	ErrBadSNI = errors.New("certcache: invalid SNI")
)

// Issuer is an organisation's intermediate CA as an edge holds it. It is
// read-only once built, and MintLeaf may use one Issuer from many goroutines
// at once if Signer allows concurrent Sign calls (in-memory keys do).
type Issuer struct {
	Cert        *x509.Certificate // the organisation's intermediate
	Chain       [][]byte          // DER chain to send after the leaf: intermediate first (then more if any)
	Signer      crypto.Signer     // the intermediate's key (possibly remote)
	CRLURL      string            // CRL distribution point put into every leaf
	MaxValidity time.Duration     // 0 -> DefaultMaxValidity
}

// ParseOrigin parses an origin's leaf certificate (DER) as received in its
// TLS handshake. It refuses anything over MaxOriginDER before parsing, so the
// work it does is bounded.
func ParseOrigin(der []byte) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: empty certificate", ErrBadOrigin)
	}
	if len(der) > MaxOriginDER {
		return nil, fmt.Errorf("%w: certificate of %d bytes, the limit is %d", ErrBadOrigin, len(der), MaxOriginDER)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOrigin, err)
	}
	return cert, nil
}

// MintLeaf builds and signs a leaf for an origin: the DER of a certificate
// for leafPub, signed by iss, that repeats the origin's subject, its DNS and
// IP subject alternative names, and its validity clamped as described below.
//
// sni may be a host name or an IP literal: the name the client asked for, or
// for a client that sent no SNI the origin's IP address. It is added as a DNS
// or IP name unless the origin already lists it; it may be "" when the
// origin's names are enough.
//
// Nothing else is copied from the origin: not its key, nor any extension
// (SCTs, OCSP must-staple, name constraints, AIA, policies, ...), nor URI or
// email names. The leaf has key usage digitalSignature (and keyEncipherment
// for an RSA key), extended key usage serverAuth, CA:false, a random 128-bit
// serial, the intermediate's key identifier as its authority key identifier,
// its own subject key identifier, and iss.CRLURL as its CRL distribution
// point if set.
//
// Validity: the leaf never outlives the origin's certificate, the
// intermediate or now-1h+MaxValidity, never starts before the origin's
// certificate or the intermediate, and lasts at most MaxValidity (the last
// MaxValidity before its end). A currently valid origin thus gets
// [now-1h, now-1h+MaxValidity], the hour covering slow client clocks. An
// expired or not-yet-valid origin still gets a leaf, expired or not yet valid
// like the origin, so the client sees what the origin's certificate says;
// whether to trust the origin is decided before minting. An empty window is
// an error.
//
// Hostile origins are refused with an error wrapping ErrBadOrigin before any
// signing: more than MaxSANs names, a subject over MaxOriginSubject, a DNS
// name that is not a valid host name (or wildcard) of at most 253 bytes.
func MintLeaf(iss *Issuer, origin *x509.Certificate, sni string, leafPub crypto.PublicKey, now time.Time) ([]byte, error) {
	der, _, err := mintLeaf(iss, origin, originNames(sni), leafPub, now)
	return der, err
}

// MintFunc is what a Cache runs on a miss for this origin: a leaf for the
// loop's leaf key, followed by the issuer's chain. The leaf is MintLeaf's,
// except for its names: sni (a host name or an IP literal, as for
// MintLeaf), then those of allowed that the origin's certificate covers,
// and nothing else (allowedNames). allowed is what policy lets the leaf
// name besides sni; the origin's own names are never copied otherwise.
// MintFunc keeps allowed: the caller must not change it afterwards.
func (iss *Issuer) MintFunc(origin *x509.Certificate, sni string, allowed []string) MintFunc {
	return func(pub crypto.PublicKey) ([][]byte, time.Time, error) {
		der, notAfter, err := mintLeaf(iss, origin, allowedNames(sni, allowed), pub, time.Now())
		if err != nil {
			return nil, time.Time{}, err
		}
		chain := make([][]byte, 0, 1+len(iss.Chain))
		return append(append(chain, der), iss.Chain...), notAfter, nil
	}
}

// leafNames chooses a leaf's DNS and IP names from the origin's
// certificate, or says why there are none it may carry.
type leafNames func(origin *x509.Certificate) ([]string, []net.IP, error)

func mintLeaf(iss *Issuer, origin *x509.Certificate, names leafNames, leafPub crypto.PublicKey, now time.Time) ([]byte, time.Time, error) {
	fail := func(err error) ([]byte, time.Time, error) { return nil, time.Time{}, err }
	maxValidity, err := iss.check()
	if err != nil {
		return fail(err)
	}
	if origin == nil {
		return fail(errors.New("certcache: no origin certificate"))
	}
	leafKeyBytes, err := mintPublicKeyBytes(leafPub)
	if err != nil {
		return fail(fmt.Errorf("certcache: leaf key: %w", err))
	}
	subject, err := mintSubject(origin)
	if err != nil {
		return fail(err)
	}
	dnsNames, ips, err := names(origin)
	if err != nil {
		return fail(err)
	}
	notBefore, notAfter, err := mintValidity(origin, iss.Cert, maxValidity, now)
	if err != nil {
		return fail(err)
	}
	authorityKeyID, err := iss.keyID()
	if err != nil {
		return fail(err)
	}
	serial, err := mintSerial()
	if err != nil {
		return fail(err)
	}

	spki, err := x509.MarshalPKIXPublicKey(leafPub)
	if err != nil {
		return fail(fmt.Errorf("certcache: leaf key: %w", err))
	}
	_, isRSA := leafPub.(*rsa.PublicKey)
	der, err := signLeaf(&leafFields{
		serial:    serial,
		issuer:    iss.Cert.RawSubject,
		subject:   subject,
		notBefore: notBefore,
		notAfter:  notAfter,
		spki:      spki,
		// A TLS 1.2 RSA key exchange encrypts the premaster secret to an
		// RSA leaf's key.
		keyEncipherment: isRSA,
		subjectKeyID:    mintKeyID(leafKeyBytes),
		// Always the intermediate's identifier, also when the leaf's subject
		// equals the intermediate's (an origin can choose that).
		authorityKeyID: authorityKeyID,
		dnsNames:       dnsNames,
		ips:            ips,
		crlURL:         iss.CRLURL,
	}, iss.Signer)
	if err != nil {
		return fail(err)
	}
	return der, notAfter, nil
}

// check reports whether iss can sign, and its maximum leaf validity.
func (iss *Issuer) check() (time.Duration, error) {
	switch {
	case iss == nil:
		return 0, errors.New("certcache: no issuer")
	case iss.Cert == nil:
		return 0, errors.New("certcache: issuer has no certificate")
	case iss.Signer == nil:
		return 0, errors.New("certcache: issuer has no signer")
	case !iss.Cert.IsCA:
		return 0, errors.New("certcache: issuer certificate is not a CA")
	case !samePublicKey(iss.Signer.Public(), iss.Cert.PublicKey):
		// Compared by key, not by verifying each signature: that check is
		// what makes x509.CreateCertificate cost three signatures.
		return 0, errors.New("certcache: issuer signer doesn't match the intermediate's public key")
	case len(iss.Cert.RawSubject) == 0:
		return 0, errors.New("certcache: issuer certificate was not parsed from DER")
	case !isIA5(iss.CRLURL):
		return 0, fmt.Errorf("certcache: CRL URL %q is not plain ASCII", iss.CRLURL)
	case iss.MaxValidity < 0:
		return 0, fmt.Errorf("certcache: negative issuer MaxValidity %v", iss.MaxValidity)
	case iss.MaxValidity == 0:
		return DefaultMaxValidity, nil
	}
	return iss.MaxValidity, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// isIA5 reports whether s fits an IA5String: 7-bit ASCII.
func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// keyID returns the intermediate's key identifier, computed as crypto/x509
// does for a CA that has none.
func (iss *Issuer) keyID() ([]byte, error) {
	if len(iss.Cert.SubjectKeyId) > 0 {
		return iss.Cert.SubjectKeyId, nil
	}
	b, err := mintPublicKeyBytes(iss.Cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("certcache: issuer key: %w", err)
	}
	return mintKeyID(b), nil
}

// mintKeyID is RFC 7093 section 2 method 1 (what crypto/x509 uses since
// Go 1.25): the leftmost 160 bits of the SHA-256 of the subjectPublicKey
// BIT STRING's value.
func mintKeyID(publicKeyBytes []byte) []byte {
	h := sha256.Sum256(publicKeyBytes)
	return h[:20]
}

// mintPublicKeyBytes returns the value of the subjectPublicKey BIT STRING
// that a certificate for pub carries, and refuses key types a leaf may not
// have.
func mintPublicKeyBytes(pub crypto.PublicKey) ([]byte, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub == nil {
			return nil, errors.New("nil ECDSA key")
		}
		return pub.Bytes()
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil || pub.N.Sign() <= 0 || pub.E <= 0 {
			return nil, errors.New("invalid RSA key")
		}
		return x509.MarshalPKCS1PublicKey(pub), nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(pub))
		}
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want ECDSA, RSA or Ed25519)", pub)
}

// mintSubject returns the origin's subject as DER.
func mintSubject(origin *x509.Certificate) ([]byte, error) {
	subject := origin.RawSubject
	if len(subject) == 0 {
		// A certificate built in memory rather than parsed.
		var err error
		if subject, err = asn1.Marshal(origin.Subject.ToRDNSequence()); err != nil {
			return nil, fmt.Errorf("%w: subject: %w", ErrBadOrigin, err)
		}
	}
	if len(subject) > MaxOriginSubject {
		return nil, fmt.Errorf("%w: subject of %d bytes, the limit is %d", ErrBadOrigin, len(subject), MaxOriginSubject)
	}
	return subject, nil
}

// mintValidity clamps the origin's validity as MintLeaf documents, to whole
// seconds (what the certificate encodes) inside the bounds.
func mintValidity(origin, intermediate *x509.Certificate, maxValidity time.Duration, now time.Time) (notBefore, notAfter time.Time, err error) {
	// A very short MaxValidity must still cover now.
	backdate := min(mintBackdate, maxValidity/2)
	notAfter = mintEarliest(origin.NotAfter, intermediate.NotAfter, now.Add(maxValidity-backdate))
	notBefore = mintLatest(origin.NotBefore, intermediate.NotBefore, notAfter.Add(-maxValidity))

	notAfter = notAfter.Truncate(time.Second)
	if t := notBefore.Truncate(time.Second); !t.Equal(notBefore) {
		notBefore = t.Add(time.Second)
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: no validity left after clamping (origin %s to %s, intermediate %s to %s, now %s, max %v)",
			ErrBadOrigin,
			origin.NotBefore.UTC().Format(time.RFC3339), origin.NotAfter.UTC().Format(time.RFC3339),
			intermediate.NotBefore.UTC().Format(time.RFC3339), intermediate.NotAfter.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), maxValidity)
	}
	return notBefore.UTC(), notAfter.UTC(), nil
}

func mintEarliest(a, b, c time.Time) time.Time {
	if b.Before(a) {
		a = b
	}
	if c.Before(a) {
		a = c
	}
	return a
}

func mintLatest(a, b, c time.Time) time.Time {
	if b.After(a) {
		a = b
	}
	if c.After(a) {
		a = c
	}
	return a
}

// mintSerial returns 128 bits from crypto/rand as a positive serial.
func mintSerial() (*big.Int, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("certcache: serial: %w", err)
	}
	serial := new(big.Int).SetBytes(b[:])
	if serial.Sign() == 0 {
		// RFC 5280 section 4.1.2.2 wants a positive serial; odds 2^-128.
		serial.SetInt64(1)
	}
	return serial, nil
}
