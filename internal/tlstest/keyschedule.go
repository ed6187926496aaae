package tlstest

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"hash"
)

// SuiteHash is the hash and AEAD key length of a TLS 1.3 cipher suite, or
// nil and 0 for a suite it does not know.
func SuiteHash(suite uint16) (func() hash.Hash, int) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		return sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return sha256.New, 32
	}
	return nil, 0
}

// ExpandLabel is HKDF-Expand-Label(secret, label, "", n) of RFC 8446 §7.1,
// from crypto/hkdf. It panics if n is more than HKDF can give (255 hash
// lengths), a mistake in the test.
func ExpandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := []byte{byte(n >> 8), byte(n), byte(len(full))}
	info = append(info, full...)
	info = append(info, 0) // an empty context
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}
