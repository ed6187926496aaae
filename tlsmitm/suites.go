package tlsmitm

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// The TLS 1.3 cipher suites (RFC 8446 §B.4).
const (
	TLS_AES_128_GCM_SHA256       uint16 = 0x1301
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

// DefaultCipherSuites is the server's preference when Config.CipherSuites is
// nil. A client that lists ChaCha20 before every AES suite says it lacks AES
// hardware, and gets ChaCha20 (see chooseSuite).
var DefaultCipherSuites = []uint16{TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256}

// suite describes one cipher suite: its AEAD key length and its hash.
type suite struct {
	id      uint16
	keyLen  int
	hash    crypto.Hash
	newHash func() hash.Hash
	newAEAD func(key []byte) (cipher.AEAD, error)
}

const (
	aeadIVLen     = 12 // RFC 8446 §5.3: iv_length is 12 for every suite here
	aeadTagLen    = 16
	maxHashLen    = 48 // SHA-384
	maxAEADKeyLen = 32
)

var suites = [...]suite{
	{TLS_AES_128_GCM_SHA256, 16, crypto.SHA256, sha256.New, newGCM},
	{TLS_AES_256_GCM_SHA384, 32, crypto.SHA384, sha512.New384, newGCM},
	{TLS_CHACHA20_POLY1305_SHA256, 32, crypto.SHA256, sha256.New, chacha20poly1305.New},
}

func suiteByID(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// newGCM builds AES-GCM. The cipher's expanded key schedule lives on the Go
// heap (crypto/aes offers no other place); it lives as long as the traffic
// key it serves and is dropped at the next key change.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// chooseSuite picks the server's most preferred suite that the client offers,
// unless the client puts ChaCha20 first among the suites both support, which
// clients do when they lack AES hardware.
func chooseSuite(prefs []uint16, offered []uint16) *suite {
	for _, id := range offered {
		if id == TLS_CHACHA20_POLY1305_SHA256 && contains16(prefs, id) {
			return suiteByID(id)
		}
		if (id == TLS_AES_128_GCM_SHA256 || id == TLS_AES_256_GCM_SHA384) && contains16(prefs, id) {
			break
		}
	}
	for _, id := range prefs {
		if contains16(offered, id) {
			if s := suiteByID(id); s != nil {
				return s
			}
		}
	}
	return nil
}

func contains16(list []uint16, v uint16) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
