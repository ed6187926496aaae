package tlsmitm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"io"
)

// Signature schemes (RFC 8446 §4.2.3) this server can sign with.
const (
	ecdsaP256SHA256  uint16 = 0x0403
	ecdsaP384SHA384  uint16 = 0x0503
	rsaPSSRSAESHA256 uint16 = 0x0804
	rsaPSSRSAESHA384 uint16 = 0x0805
	rsaPSSRSAESHA512 uint16 = 0x0806
	schemeEd25519    uint16 = 0x0807
)

// chooseScheme picks the first scheme the client lists that the key can
// produce. RSA keys sign with PSS only: TLS 1.3 forbids PKCS#1 v1.5 in
// CertificateVerify (§4.2.3).
func chooseScheme(key crypto.Signer, offered []uint16) (uint16, bool) {
	for _, s := range offered {
		if keyCanSign(key, s) {
			return s, true
		}
	}
	return 0, false
}

func keyCanSign(key crypto.Signer, scheme uint16) bool {
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		return (scheme == ecdsaP256SHA256 && pub.Curve == elliptic.P256()) ||
			(scheme == ecdsaP384SHA384 && pub.Curve == elliptic.P384())
	case *rsa.PublicKey:
		return scheme == rsaPSSRSAESHA256 || scheme == rsaPSSRSAESHA384 || scheme == rsaPSSRSAESHA512
	case ed25519.PublicKey:
		return scheme == schemeEd25519
	}
	return false
}

// signatureContext builds the content CertificateVerify covers (§4.4.3):
// 64 spaces, the context string, a zero byte, then the transcript hash.
func signatureContext(dst []byte, transcriptHash []byte) []byte {
	for i := 0; i < 64; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, "TLS 1.3, server CertificateVerify\x00"...)
	return append(dst, transcriptHash...)
}

// sign signs content with scheme; digest is scratch space for the hash.
func sign(key crypto.Signer, scheme uint16, rand io.Reader, content []byte, digest *[64]byte) ([]byte, error) {
	if scheme == schemeEd25519 {
		return key.Sign(rand, content, crypto.Hash(0)) // Ed25519 signs the message itself
	}
	h := schemeHash(scheme)
	d := h.New()
	d.Write(content)
	sum := d.Sum(digest[:0])
	if scheme == rsaPSSRSAESHA256 || scheme == rsaPSSRSAESHA384 || scheme == rsaPSSRSAESHA512 {
		// RFC 8446 §4.2.3: the PSS salt is as long as the digest.
		return key.Sign(rand, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	}
	return key.Sign(rand, sum, h)
}

func schemeHash(scheme uint16) crypto.Hash {
	switch scheme {
	case ecdsaP384SHA384, rsaPSSRSAESHA384:
		return crypto.SHA384
	case rsaPSSRSAESHA512:
		return crypto.SHA512
	}
	return crypto.SHA256
}
