package certcache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// This file writes a leaf certificate's DER directly (RFC 5280 §4.1) and
// signs it once. crypto/x509.CreateCertificate would do the same work and
// then verify its own signature, which costs twice the signature itself:
// on an edge that mints on every new origin, that is the difference
// between a mint costing one signature and costing three. Leaves are
// checked instead where it matters: every test verifies them with
// crypto/x509, and every client verifies what it is served.

// leafFields is what varies from one leaf to the next.
type leafFields struct {
	serial              *big.Int
	issuer, subject     []byte // DER Names
	notBefore, notAfter time.Time
	spki                []byte // DER SubjectPublicKeyInfo
	keyEncipherment     bool
	subjectKeyID        []byte
	authorityKeyID      []byte
	dnsNames            []string
	ips                 []net.IP
	crlURL              string
}

// Object identifiers of RFC 5280 §4.2.1 and RFC 5758 §3.2.
var (
	oidKeyUsage         = encasn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = encasn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = encasn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID     = encasn1.ObjectIdentifier{2, 5, 29, 14}
	oidAuthorityKeyID   = encasn1.ObjectIdentifier{2, 5, 29, 35}
	oidSubjectAltName   = encasn1.ObjectIdentifier{2, 5, 29, 17}
	oidCRLDistribution  = encasn1.ObjectIdentifier{2, 5, 29, 31}
	oidServerAuth       = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidECDSAWithSHA256  = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384  = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512  = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA    = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidEd25519          = encasn1.ObjectIdentifier{1, 3, 101, 112}
)

// The extensions every leaf carries alike, encoded once.
var (
	extServerAuth = fixedExtension(oidExtKeyUsage, false, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidServerAuth) })
	})
	extNotCA = fixedExtension(oidBasicConstraints, true, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(*cryptobyte.Builder) {}) // cA defaults to FALSE
	})
)

// keyUsageBits is the KeyUsage BIT STRING with its unused bits declared,
// as DER requires (X.690 §11.2.2): digitalSignature alone is bit 0 (7
// unused bits); with keyEncipherment, bits 0 and 2 (5 unused).
func keyUsageBits(keyEncipherment bool) []byte {
	if keyEncipherment {
		return []byte{0x03, 0x02, 0x05, 0xa0}
	}
	return []byte{0x03, 0x02, 0x07, 0x80}
}

func fixedExtension(oid encasn1.ObjectIdentifier, critical bool, value func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	addExtension(&b, oid, critical, value)
	return b.BytesOrPanic()
}

func addExtension(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, critical bool, value func(*cryptobyte.Builder)) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(asn1.OCTET_STRING, value)
	})
}

// signatureAlgorithm picks how the issuer signs: its key decides (RFC 5758
// §3.2 for ECDSA, RFC 4055 for RSA, RFC 8410 for Ed25519).
func signatureAlgorithm(pub crypto.PublicKey) (oid encasn1.ObjectIdentifier, h crypto.Hash, params bool, err error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return oidECDSAWithSHA256, crypto.SHA256, false, nil
		case elliptic.P384():
			return oidECDSAWithSHA384, crypto.SHA384, false, nil
		case elliptic.P521():
			return oidECDSAWithSHA512, crypto.SHA512, false, nil
		}
	case *rsa.PublicKey:
		return oidSHA256WithRSA, crypto.SHA256, true, nil // PKCS #1 v1.5 takes a NULL parameter
	case ed25519.PublicKey:
		return oidEd25519, 0, false, nil
	}
	return nil, 0, false, fmt.Errorf("issuer key %T cannot sign certificates here", pub)
}

func addAlgorithm(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, params bool) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if params {
			b.AddASN1NULL()
		}
	})
}

// addTime writes UTCTime through 2049 and GeneralizedTime after, as RFC
// 5280 §4.1.2.5 requires.
func addTime(b *cryptobyte.Builder, t time.Time) {
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}

// signLeaf encodes the TBSCertificate, signs it with signer and returns the
// certificate's DER.
func signLeaf(f *leafFields, signer crypto.Signer) ([]byte, error) {
	algOID, h, params, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	var tbs cryptobyte.Builder
	tbs.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2) // v3
		})
		b.AddASN1BigInt(f.serial)
		addAlgorithm(b, algOID, params)
		b.AddBytes(f.issuer)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, f.notBefore)
			addTime(b, f.notAfter)
		})
		b.AddBytes(f.subject)
		b.AddBytes(f.spki)
		b.AddASN1(asn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { f.addExtensions(b) })
		})
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, fmt.Errorf("certcache: encoding leaf: %w", err)
	}
	var sig []byte
	if h == 0 {
		sig, err = signer.Sign(rand.Reader, tbsDER, crypto.Hash(0))
	} else {
		d := h.New()
		d.Write(tbsDER)
		sig, err = signer.Sign(rand.Reader, d.Sum(nil), h)
	}
	if err != nil {
		return nil, fmt.Errorf("certcache: sign leaf: %w", err)
	}
	if len(sig) == 0 {
		return nil, errors.New("certcache: sign leaf: the signer returned no signature")
	}
	var cert cryptobyte.Builder
	cert.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		addAlgorithm(b, algOID, params)
		b.AddASN1BitString(sig)
	})
	return cert.Bytes()
}

func (f *leafFields) addExtensions(b *cryptobyte.Builder) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidKeyUsage)
		b.AddASN1Boolean(true)
		b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) { b.AddBytes(keyUsageBits(f.keyEncipherment)) })
	})
	b.AddBytes(extServerAuth)
	b.AddBytes(extNotCA)
	addExtension(b, oidSubjectKeyID, false, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(f.subjectKeyID)
	})
	addExtension(b, oidAuthorityKeyID, false, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(f.authorityKeyID) })
		})
	})
	// RFC 5280 §4.2.1.6: with an empty subject the names are all there is,
	// and the extension must be critical.
	emptySubject := len(f.subject) == 2
	addExtension(b, oidSubjectAltName, emptySubject, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, name := range f.dnsNames {
				b.AddASN1(asn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
			}
			for _, ip := range f.ips {
				if v4 := ip.To4(); v4 != nil {
					ip = v4
				}
				b.AddASN1(asn1.Tag(7).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(ip) })
			}
		})
	})
	if f.crlURL != "" {
		// CRLDistributionPoints → DistributionPoint → [0] distributionPoint
		// → [0] fullName → [6] uniformResourceIdentifier.
		addExtension(b, oidCRLDistribution, false, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1(asn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.crlURL)) })
						})
					})
				})
			})
		})
	}
}
