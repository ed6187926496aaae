package tlsmitm

import (
	"crypto/ecdh"
	"io"
	"strconv"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/hybrid"
)

// Group is a TLS named group (RFC 8446 §4.2.7).
type Group uint16

// The groups this server can agree a key with.
const (
	GroupP256           Group = 0x0017
	GroupP384           Group = 0x0018
	GroupX25519         Group = 0x001d
	GroupX25519MLKEM768 Group = 0x11ec // draft-ietf-tls-ecdhe-mlkem
)

// DefaultGroups is the server's preference when Config.Groups is nil:
// the post-quantum hybrid first, then the fastest classical group.
var DefaultGroups = []Group{GroupX25519MLKEM768, GroupX25519, GroupP256, GroupP384}

func (g Group) String() string {
	switch g {
	case GroupP256:
		return "P-256"
	case GroupP384:
		return "P-384"
	case GroupX25519:
		return "X25519"
	case GroupX25519MLKEM768:
		return "X25519MLKEM768"
	}
	return "group(" + strconv.Itoa(int(g)) + ")"
}

func (g Group) supported() bool {
	switch g {
	case GroupP256, GroupP384, GroupX25519, GroupX25519MLKEM768:
		return true
	}
	return false
}

// maxSharedSecret bounds the output of every group: ML-KEM-768's 32 bytes
// plus X25519's 32, or P-384's 48.
const maxSharedSecret = 64

// serverShare answers a client's key share: it writes the server's key share
// (public key or KEM ciphertext) to pub and the shared secret to secret, and
// returns their lengths. A malformed client share is illegal_parameter
// (RFC 8446 §4.2.8).
//
// seed is scratch space for randomness, wiped before return.
func serverShare(g Group, clientShare []byte, rand io.Reader, pub []byte, secret *[maxSharedSecret]byte, seed *[64]byte) (pubLen, secretLen int, err *AlertError) {
	defer clear(seed[:])
	switch g {
	case GroupX25519:
		return x25519Share(clientShare, rand, pub, secret, seed)
	case GroupX25519MLKEM768:
		return hybridShare(hybrid.X25519MLKEM768(), clientShare, rand, pub, secret, seed)
	case GroupP256:
		return ecdhShare(ecdh.P256(), clientShare, rand, pub, secret)
	case GroupP384:
		return ecdhShare(ecdh.P384(), clientShare, rand, pub, secret)
	}
	return 0, 0, alertf(AlertInternalError, "group "+g.String()+" is not implemented")
}

func x25519Share(clientShare []byte, rand io.Reader, pub []byte, secret *[maxSharedSecret]byte, seed *[64]byte) (int, int, *AlertError) {
	if len(clientShare) != x25519.Size {
		return 0, 0, alertf(AlertIllegalParameter, "X25519 key share is not 32 bytes")
	}
	var priv, peer, public, shared x25519.Key
	defer clear(priv[:])
	if _, err := io.ReadFull(rand, seed[:x25519.Size]); err != nil {
		return 0, 0, alertf(AlertInternalError, "reading randomness failed")
	}
	copy(priv[:], seed[:x25519.Size])
	copy(peer[:], clientShare)
	x25519.KeyGen(&public, &priv)
	// Shared refuses low-order points, whose result would be all zeros
	// (RFC 7748 §6.1, RFC 8446 §7.4.2).
	if !x25519.Shared(&shared, &priv, &peer) {
		return 0, 0, alertf(AlertIllegalParameter, "X25519 key share is a low-order point")
	}
	copy(pub, public[:])
	copy(secret[:], shared[:])
	clear(shared[:])
	return x25519.Size, x25519.Size, nil
}

// hybridShare encapsulates to the client's ML-KEM-768 + X25519 public key.
// The scheme orders ML-KEM first, as draft-ietf-tls-ecdhe-mlkem requires for
// X25519MLKEM768.
func hybridShare(s kem.Scheme, clientShare []byte, rand io.Reader, pub []byte, secret *[maxSharedSecret]byte, seed *[64]byte) (int, int, *AlertError) {
	if len(clientShare) != s.PublicKeySize() {
		return 0, 0, alertf(AlertIllegalParameter, "X25519MLKEM768 key share has the wrong length")
	}
	pk, err := s.UnmarshalBinaryPublicKey(clientShare)
	if err != nil {
		return 0, 0, alertf(AlertIllegalParameter, "X25519MLKEM768 key share is invalid")
	}
	seedLen := s.EncapsulationSeedSize()
	if _, err := io.ReadFull(rand, seed[:seedLen]); err != nil {
		return 0, 0, alertf(AlertInternalError, "reading randomness failed")
	}
	ct, ss, err := s.EncapsulateDeterministically(pk, seed[:seedLen])
	if err != nil {
		// circl reports a low-order X25519 half here.
		return 0, 0, alertf(AlertIllegalParameter, "X25519MLKEM768 key share is invalid")
	}
	copy(pub, ct)
	copy(secret[:], ss)
	clear(ss) // circl returns the secret in a fresh Go slice; do not let it linger
	return len(ct), len(ss), nil
}

func ecdhShare(curve ecdh.Curve, clientShare []byte, rand io.Reader, pub []byte, secret *[maxSharedSecret]byte) (int, int, *AlertError) {
	peer, err := curve.NewPublicKey(clientShare)
	if err != nil {
		// NewPublicKey accepts only an uncompressed point on the curve
		// (RFC 8446 §4.2.8.2).
		return 0, 0, alertf(AlertIllegalParameter, "ECDHE key share is not a valid point")
	}
	priv, err := curve.GenerateKey(rand)
	if err != nil {
		return 0, 0, alertf(AlertInternalError, "generating an ECDHE key failed")
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		return 0, 0, alertf(AlertIllegalParameter, "ECDHE key share gives no shared secret")
	}
	// crypto/ecdh keeps the private scalar and the shared secret on the Go
	// heap; both die with this call.
	p := priv.PublicKey().Bytes()
	copy(pub, p)
	copy(secret[:], shared)
	clear(shared)
	return len(p), len(shared), nil
}

// maxServerShare bounds the server's key share: the ML-KEM-768 ciphertext
// (1088 bytes) plus an X25519 public key.
const maxServerShare = 1088 + 32
