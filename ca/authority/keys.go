package authority

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/internal/secmem"
)

// Key algorithms for intermediates.
const (
	AlgECDSAP256 = "ecdsa-p256"
	AlgRSA2048   = "rsa-2048"
)

// newSealedKey generates a key pair, seals the private key at once and
// stores it. Only the public key leaves this function.
func (a *Authority) newSealedKey(ctx context.Context, orgID, alg string) (keyID string, pub crypto.PublicKey, err error) {
	var signer crypto.Signer
	switch alg {
	case "", AlgECDSAP256:
		alg = AlgECDSAP256
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return "", nil, errorf(400, "unknown key algorithm %q: use %q or %q", alg, AlgECDSAP256, AlgRSA2048)
	}
	if err != nil {
		return "", nil, fmt.Errorf("authority: generating a key: %w", err)
	}
	defer secmem.WipePrivateKey(signer)
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return "", nil, err
	}
	defer keyseal.Wipe(der)
	keyID = randomID()
	ct, sealedDEK, err := a.cfg.KEK.Seal(keyID, der)
	if err != nil {
		return "", nil, fmt.Errorf("authority: sealing a key: %w", err)
	}
	err = a.cfg.Store.PutKey(ctx,
		store.SealedKey{ID: keyID, OrgID: orgID, Algorithm: alg, Ciphertext: ct, CreatedAt: a.cfg.Now().UTC()},
		store.DataKey{KeyID: keyID, Sealed: sealedDEK, KDF: a.cfg.KEK.Params().String()})
	if err != nil {
		return "", nil, fmt.Errorf("authority: storing a key: %w", err)
	}
	return keyID, signer.Public(), nil
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("authority: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
