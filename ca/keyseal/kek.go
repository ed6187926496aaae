package keyseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/argon2"
)

const (
	keySize = 32 // AES-256, for both the KEK and data keys
	// overhead is what cipher.NewGCMWithRandomNonce adds to a plaintext:
	// a 12-byte random nonce in front and a 16-byte tag behind.
	overhead      = 12 + 16
	sealedDEKSize = keySize + overhead
	verifierPlain = "lucid vault verifier v1"
	verifierSize  = len(verifierPlain) + overhead
	keyAADPrefix  = "lucid key v1|"
	dekAADPrefix  = "lucid dek v1|"
	verifierAAD   = "lucid verifier v1"
)

var (
	errEmptyKeyID    = errors.New("keyseal: empty key ID")
	errEmptyPassword = errors.New("keyseal: empty password")
)

// KEK is the key-encryption key derived from the CA password. All methods
// are safe for concurrent use, Close included: an operation racing Close
// either completes or returns ErrClosed.
type KEK struct {
	mu     sync.RWMutex
	key    [keySize]byte // the only copy; Close zeroes it
	closed bool
	params Params
}

// DeriveKEK derives the key-encryption key from password with Argon2id.
// It takes as long and as much memory as p says (about 0.1 s and 64 MiB with
// DefaultParams); p is range-checked first, as ParseParams does. The caller
// owns password and should zero it once the KEK exists.
func DeriveKEK(password []byte, p Params) (*KEK, error) {
	if len(password) == 0 {
		return nil, errEmptyPassword
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("keyseal: KDF %s: %w", p, err)
	}
	k := &KEK{params: p}
	derived := argon2.IDKey(password, p.Salt[:], p.Time, p.MemoryKiB, p.Threads, keySize)
	copy(k.key[:], derived)
	clear(derived)
	return k, nil
}

// Params returns the parameters the KEK was derived with; their String form
// is what a DataKey's KDF and the Vault record.
func (k *KEK) Params() Params { return k.params }

// Close zeroes the key. Later calls to the other methods return ErrClosed.
func (k *KEK) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.key[:])
	k.closed = true
}

// Seal seals keyDER, a PKCS #8 private key, for storage as key keyID. Each
// call draws a fresh data key, so sealing the same key twice gives unrelated
// records. It returns the key's ciphertext and its sealed data key.
func (k *KEK) Seal(keyID string, keyDER []byte) (ciphertext, sealedDataKey []byte, err error) {
	if keyID == "" {
		return nil, nil, errEmptyKeyID
	}
	if len(keyDER) == 0 {
		return nil, nil, fmt.Errorf("keyseal: seal key %s: empty key", keyID)
	}
	var dek [keySize]byte
	defer clear(dek[:])
	if _, err := rand.Read(dek[:]); err != nil {
		return nil, nil, fmt.Errorf("keyseal: seal key %s: data key: %w", keyID, err)
	}
	// A data key seals exactly one message, so its nonce can never repeat.
	// KEK nonces are random: 96 bits leave collisions negligible for the
	// number of keys a CA seals in its life.
	keyAEAD, err := newAEAD(&dek)
	if err != nil {
		return nil, nil, fmt.Errorf("keyseal: seal key %s: %w", keyID, err)
	}
	ciphertext = keyAEAD.Seal(nil, nil, keyDER, []byte(keyAADPrefix+keyID))

	kekAEAD, err := k.aead()
	if err != nil {
		return nil, nil, fmt.Errorf("keyseal: seal key %s: %w", keyID, err)
	}
	sealedDataKey = kekAEAD.Seal(nil, nil, dek[:], []byte(dekAADPrefix+keyID))
	return ciphertext, sealedDataKey, nil
}

// Open returns the PKCS #8 private key that Seal sealed as keyID. The caller
// owns the result and should zero it once the key is parsed.
//
// ErrWrongPassword means the data key does not open: a KEK from another
// password, or a data key of another key ID. ErrCorrupt means a record is
// malformed or the data key opens but the ciphertext does not.
func (k *KEK) Open(keyID string, ciphertext, sealedDataKey []byte) ([]byte, error) {
	if keyID == "" {
		return nil, errEmptyKeyID
	}
	if len(sealedDataKey) != sealedDEKSize {
		return nil, fmt.Errorf("%w: data key of key %s is %d bytes, want %d", ErrCorrupt, keyID, len(sealedDataKey), sealedDEKSize)
	}
	if len(ciphertext) <= overhead {
		return nil, fmt.Errorf("%w: ciphertext of key %s is %d bytes, too short", ErrCorrupt, keyID, len(ciphertext))
	}
	kekAEAD, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("keyseal: open key %s: %w", keyID, err)
	}
	// Open into the array so the data key has no copy on the heap.
	var dek [keySize]byte
	defer clear(dek[:])
	if _, err := kekAEAD.Open(dek[:0], nil, sealedDataKey, []byte(dekAADPrefix+keyID)); err != nil {
		return nil, fmt.Errorf("%w: data key of key %s does not open", ErrWrongPassword, keyID)
	}
	keyAEAD, err := newAEAD(&dek)
	if err != nil {
		return nil, fmt.Errorf("keyseal: open key %s: %w", keyID, err)
	}
	keyDER, err := keyAEAD.Open(nil, nil, ciphertext, []byte(keyAADPrefix+keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext of key %s does not open under its data key", ErrCorrupt, keyID)
	}
	return keyDER, nil
}

// NewVerifier returns a known value sealed under the KEK, for the Vault:
// CheckVerifier on it succeeds only with a KEK from the same password and
// parameters.
func (k *KEK) NewVerifier() ([]byte, error) {
	aead, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("keyseal: verifier: %w", err)
	}
	return aead.Seal(nil, nil, []byte(verifierPlain), []byte(verifierAAD)), nil
}

// CheckVerifier returns nil if v was made by NewVerifier under this KEK's
// password and parameters, ErrWrongPassword if not, and ErrCorrupt if v is
// malformed.
//
// Nothing secret is compared byte by byte: the GCM tag check is constant
// time, and the known value, compared after it for completeness, is public.
func (k *KEK) CheckVerifier(v []byte) error {
	if len(v) != verifierSize {
		return fmt.Errorf("%w: verifier is %d bytes, want %d", ErrCorrupt, len(v), verifierSize)
	}
	aead, err := k.aead()
	if err != nil {
		return fmt.Errorf("keyseal: verifier: %w", err)
	}
	plain, err := aead.Open(nil, nil, v, []byte(verifierAAD))
	if err != nil || subtle.ConstantTimeCompare(plain, []byte(verifierPlain)) != 1 {
		return fmt.Errorf("%w: the vault verifier does not open", ErrWrongPassword)
	}
	return nil
}

// aead returns AES-256-GCM under the KEK. The cipher holds an expanded copy
// of the key that Close cannot reach; callers drop it after one operation.
func (k *KEK) aead() (cipher.AEAD, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, ErrClosed
	}
	return newAEAD(&k.key)
}

// newAEAD returns AES-256-GCM that draws a random 12-byte nonce per Seal and
// prepends it to the ciphertext: nonce || ciphertext || tag.
func newAEAD(key *[keySize]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}
