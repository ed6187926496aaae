// Package keyseal seals private keys for storage: each key under its own
// random data key with AES-256-GCM, each data key under a key-encryption key
// derived from the CA password with Argon2id. The password and the
// key-encryption key exist only in this process's memory.
//
// A stored key is two records (store.SealedKey.Ciphertext and
// store.DataKey.Sealed):
//
//	ciphertext    = nonce(12) || AES-256-GCM(DEK, PKCS #8 DER, aad = "lucid key v1|" + keyID)
//	sealedDataKey = nonce(12) || AES-256-GCM(KEK, DEK,         aad = "lucid dek v1|" + keyID)
//
// The key ID in both associated data strings binds each record to its key:
// a ciphertext or data key copied into another key's row does not open.
// Destroying the data key destroys the key, whatever copies of the
// ciphertext exist (crypto-shredding, see package store).
//
// The password itself is never stored. The vault verifier, a known value
// sealed under the key-encryption key, lets the CA tell a wrong password
// from a corrupt record at start-up.
//
// Keys handled here are plain Go memory: the KEK lives in one array that
// Close zeroes, and data keys are zeroed after each use. Go cannot wipe the
// AES key schedule inside a cipher.Block nor copies the garbage collector
// made, so this narrows exposure rather than guaranteeing erasure.
package keyseal

import (
	"errors"

	"github.com/lucid-edge/lucid/internal/secmem"
)

// Errors a caller can act on. Returned errors wrap them with context (the
// key ID, the step that failed) and never include key material.
var (
	// ErrWrongPassword means the key-encryption key does not open a data
	// key or the vault verifier: the password is wrong, or the record was
	// made under another password, belongs to another key ID, or was
	// altered. AES-GCM cannot tell these apart.
	ErrWrongPassword = errors.New("keyseal: wrong password")
	// ErrCorrupt means a record is malformed, or its data key opened but
	// the key ciphertext did not: the ciphertext was altered or belongs to
	// another key.
	ErrCorrupt = errors.New("keyseal: corrupt record")
	// ErrClosed is returned by a KEK after Close.
	ErrClosed = errors.New("keyseal: key-encryption key is closed")
)

// Wipe zeroes key bytes the caller is done with, such as the PKCS #8 DER
// that Open returns.
func Wipe(b []byte) { secmem.Wipe(b) }
