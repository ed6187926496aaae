package tlstest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// TrafficKey protects the records of one direction of a TLS 1.3
// connection under one traffic secret (RFC 8446 §5.2, §7.3). Not safe for
// concurrent use: each record moves its sequence number on.
type TrafficKey struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
}

// NewTrafficKey derives the key and IV of a traffic secret for suite.
func NewTrafficKey(suite uint16, secret []byte) (*TrafficKey, error) {
	h, keyLen := SuiteHash(suite)
	if h == nil {
		return nil, fmt.Errorf("unknown suite %#04x", suite)
	}
	if secret == nil {
		return nil, errors.New("missing traffic secret")
	}
	key := ExpandLabel(h, secret, "key", keyLen)
	iv := ExpandLabel(h, secret, "iv", 12)
	var aead cipher.AEAD
	var err error
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		b, err = aes.NewCipher(key)
		if err == nil {
			aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return nil, err
	}
	return &TrafficKey{aead: aead, iv: iv}, nil
}

// nonce is the IV xored with the sequence number (RFC 8446 §5.3).
func (k *TrafficKey) nonce() []byte {
	n := bytes.Clone(k.iv)
	for i := 0; i < 8; i++ {
		n[len(n)-1-i] ^= byte(k.seq >> (8 * i))
	}
	return n
}

// Open decrypts one protected record and returns its inner content type
// and content, padding removed; only on success does the sequence number
// move on.
func (k *TrafficKey) Open(r Record) (typ byte, content []byte, err error) {
	hdr := []byte{r.Type, byte(r.Version >> 8), byte(r.Version), byte(len(r.Body) >> 8), byte(len(r.Body))}
	pt, err := k.aead.Open(nil, k.nonce(), r.Body, hdr)
	if err != nil {
		return 0, nil, err
	}
	k.seq++
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("inner plaintext has no content type")
	}
	return pt[i], pt[:i], nil
}

// Seal builds one protected record carrying content of inner type typ,
// without padding.
func (k *TrafficKey) Seal(typ byte, content []byte) []byte {
	inner := append(bytes.Clone(content), typ)
	n := len(inner) + k.aead.Overhead()
	hdr := []byte{RecordApplicationData, 3, 3, byte(n >> 8), byte(n)}
	out := k.aead.Seal(hdr, k.nonce(), inner, hdr)
	k.seq++
	return out
}
