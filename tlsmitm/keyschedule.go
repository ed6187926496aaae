package tlsmitm

import (
	"crypto/subtle"
	"hash"
)

// kdf runs HKDF (RFC 5869) and the TLS 1.3 labels on top of it (RFC 8446
// §7.1) with one reusable hash, so a handshake's dozen derivations allocate
// nothing. HMAC is written out (RFC 2104) because crypto/hmac allocates a
// fresh state for every key.
//
// Every byte derived from a secret lives in the keyMaterial it points to,
// which the connection places in zeroing memory (Config.Memory).
type kdf struct {
	*keyMaterial
	h     hash.Hash
	size  int                         // hash output length
	block int                         // hash block length
	label [2 + 1 + 255 + 1 + 255]byte // an HkdfLabel: public
	one   [1]byte
}

// keyMaterial is every secret of one connection's handshake and traffic
// keys, in one block without pointers so that it can live outside the Go
// heap. Scratch values sit here rather than on the stack because they pass
// through interfaces (hash.Hash, io.Reader) that would move a stack copy
// to the heap.
type keyMaterial struct {
	// The schedule of RFC 8446 §7.1.
	secret   [maxHashLen]byte // early → handshake → master secret
	clientHS [maxHashLen]byte
	serverHS [maxHashLen]byte
	clientAP [maxHashLen]byte
	serverAP [maxHashLen]byte
	// HMAC and HKDF working space.
	pad     [128]byte
	inner   [maxHashLen]byte
	out     [maxHashLen]byte
	aeadKey [maxAEADKeyLen]byte
	finKey  [maxHashLen]byte
	finWant [maxHashLen]byte
	// The (EC)DHE shared secret and the randomness of our key share.
	shared [maxSharedSecret]byte
	seed   [64]byte
	// Resumption (resume.go): a ticket's PSK, the binder key, and the
	// client Finished we expect, hashed to issue a ticket.
	psk       [maxHashLen]byte
	binderKey [maxHashLen]byte
	cfMsg     [4 + maxHashLen]byte
}

// init readies the kdf for a hash. A connection has already placed its
// keyMaterial; a kdf without one (a test's) gets one on the Go heap.
func (k *kdf) init(h hash.Hash) {
	if k.keyMaterial == nil {
		k.keyMaterial = new(keyMaterial)
	}
	k.h = h
	k.size = h.Size()
	k.block = h.BlockSize()
}

// hmac writes HMAC(key, parts...) into dst[:k.size].
func (k *kdf) hmac(dst, key []byte, parts ...[]byte) {
	if len(key) > k.block {
		// Only ever hit by a caller's odd key; secrets here are one hash long.
		k.h.Reset()
		k.h.Write(key)
		key = k.h.Sum(k.inner[:0])
	}
	for i := 0; i < k.block; i++ {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		k.pad[i] = b ^ 0x36
	}
	k.h.Reset()
	k.h.Write(k.pad[:k.block])
	for _, p := range parts {
		k.h.Write(p)
	}
	k.h.Sum(k.inner[:0])
	for i := 0; i < k.block; i++ {
		k.pad[i] ^= 0x36 ^ 0x5c
	}
	k.h.Reset()
	k.h.Write(k.pad[:k.block])
	k.h.Write(k.inner[:k.size])
	k.h.Sum(dst[:0])
	// The hash state now derives from the key; overwrite it.
	k.h.Reset()
	clear(k.pad[:])
	clear(k.inner[:])
}

// extract is HKDF-Extract(salt, ikm): HMAC keyed by the salt.
func (k *kdf) extract(dst, salt, ikm []byte) { k.hmac(dst, salt, ikm) }

// expandLabel is HKDF-Expand-Label(secret, label, context, len(dst))
// (RFC 8446 §7.1). Every output here is at most one hash long, so one HMAC
// block of HKDF-Expand is all it takes.
func (k *kdf) expandLabel(dst, secret []byte, label string, context []byte) {
	if len(dst) > k.size {
		panic("tlsmitm: expandLabel asked for more than one hash of output")
	}
	l := k.label[:0]
	l = putU16(l, uint16(len(dst)))
	l = append(l, byte(6+len(label)))
	l = append(l, "tls13 "...)
	l = append(l, label...)
	l = append(l, byte(len(context)))
	l = append(l, context...)
	k.one[0] = 1
	k.hmac(k.out[:], secret, l, k.one[:])
	copy(dst, k.out[:len(dst)])
	clear(k.out[:])
}

// emptyHash writes Hash("") to dst, the context of Derive-Secret(., "derived", "").
func (k *kdf) emptyHash(dst []byte) {
	k.h.Reset()
	k.h.Sum(dst[:0])
}

// schedule holds the secrets of RFC 8446 §7.1 for one connection. Each
// secret is overwritten as soon as the next stage no longer needs it.
type schedule struct {
	kdf
	scratch    [maxHashLen]byte // hashes of public messages
	transcript [maxHashLen]byte
	zeros      [maxHashLen]byte
	pskEarly   bool // secret holds the early secret of a PSK (pskEarlySecret)
}

// handshakeSecrets runs the schedule from the (EC)DHE secret to the
// handshake traffic secrets, given Transcript-Hash(ClientHello..ServerHello).
// Without a PSK the early secret is HKDF-Extract(0, 0); with one,
// pskEarlySecret has put it in place.
func (s *schedule) handshakeSecrets(shared, helloHash []byte) {
	n := s.size
	if !s.pskEarly {
		s.extract(s.secret[:n], s.zeros[:n], s.zeros[:n]) // Early Secret
	}
	s.emptyHash(s.scratch[:n])
	s.expandLabel(s.secret[:n], s.secret[:n], "derived", s.scratch[:n])
	s.extract(s.secret[:n], s.secret[:n], shared) // Handshake Secret
	s.expandLabel(s.clientHS[:n], s.secret[:n], "c hs traffic", helloHash)
	s.expandLabel(s.serverHS[:n], s.secret[:n], "s hs traffic", helloHash)
}

// masterSecrets derives the application traffic secrets, given
// Transcript-Hash(ClientHello..server Finished).
func (s *schedule) masterSecrets(finishedHash []byte) {
	n := s.size
	s.emptyHash(s.scratch[:n])
	s.expandLabel(s.secret[:n], s.secret[:n], "derived", s.scratch[:n])
	s.extract(s.secret[:n], s.secret[:n], s.zeros[:n]) // Master Secret
	s.expandLabel(s.clientAP[:n], s.secret[:n], "c ap traffic", finishedHash)
	s.expandLabel(s.serverAP[:n], s.secret[:n], "s ap traffic", finishedHash)
}

// finished writes verify_data for a Finished message (RFC 8446 §4.4.4):
// HMAC(finished_key, transcript hash), finished_key derived from base.
func (s *schedule) finished(dst, base, transcriptHash []byte) {
	n := s.size
	s.expandLabel(s.finKey[:n], base, "finished", nil)
	s.hmac(dst, s.finKey[:n], transcriptHash)
	clear(s.finKey[:])
}

// verifyFinished checks a peer's verify_data in constant time.
func (s *schedule) verifyFinished(got, base, transcriptHash []byte) bool {
	n := s.size
	s.finished(s.finWant[:], base, transcriptHash)
	ok := len(got) == n && subtle.ConstantTimeCompare(got, s.finWant[:n]) == 1
	clear(s.finWant[:])
	return ok
}

// nextTrafficSecret is the KeyUpdate step of RFC 8446 §7.2.
func (s *schedule) nextTrafficSecret(secret []byte) {
	s.expandLabel(secret, secret, "traffic upd", nil)
}
