package tlsmitm

import (
	"crypto/cipher"
	"encoding/binary"
	"slices"
)

// Record content types (RFC 8446 §5.1).
const (
	recordChangeCipherSpec uint8 = 20
	recordAlert            uint8 = 21
	recordHandshake        uint8 = 22
	recordApplicationData  uint8 = 23
)

const (
	recordHeaderLen = 5
	// maxPlaintext is 2^14, the most content one record may carry (§5.1).
	maxPlaintext = 1 << 14
	// maxCiphertext is 2^14 + 256, the most a protected record may hold (§5.2).
	maxCiphertext = maxPlaintext + 256
	// maxHandshakeMessage bounds one reassembled handshake message. Real
	// ClientHellos, post-quantum shares included, stay under 4 KiB.
	maxHandshakeMessage = 1 << 16
)

// protection is one direction's record protection (RFC 8446 §5.2, §5.3):
// an AEAD, its static IV, and the record sequence number.
type protection struct {
	aead  cipher.AEAD
	iv    [aeadIVLen]byte
	nonce [aeadIVLen]byte
	seq   uint64
	ad    [recordHeaderLen]byte
}

// setKeys installs traffic keys derived from a traffic secret (§7.3) and
// resets the sequence number.
func (p *protection) setKeys(k *kdf, s *suite, secret []byte) error {
	key := k.aeadKey[:s.keyLen]
	k.expandLabel(key, secret, "key", nil)
	k.expandLabel(p.iv[:], secret, "iv", nil)
	aead, err := s.newAEAD(key)
	clear(key)
	if err != nil {
		return err
	}
	p.aead = aead
	p.seq = 0
	return nil
}

func (p *protection) active() bool { return p.aead != nil }

// nextNonce forms the per-record nonce: the IV XORed with the sequence
// number (§5.3), and advances the sequence number.
func (p *protection) nextNonce() []byte {
	p.nonce = p.iv
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], p.seq)
	for i := 0; i < 8; i++ {
		p.nonce[aeadIVLen-8+i] ^= seq[i]
	}
	p.seq++
	return p.nonce[:]
}

// open decrypts the protected record rec (header included) in place and
// returns the inner content type and content (§5.2, §5.4).
func (p *protection) open(rec []byte) (uint8, []byte, *AlertError) {
	copy(p.ad[:], rec[:recordHeaderLen])
	payload := rec[recordHeaderLen:]
	if len(payload) < aeadTagLen {
		return 0, nil, alertf(AlertBadRecordMAC, "protected record is shorter than its tag")
	}
	plain, err := p.aead.Open(payload[:0], p.nextNonce(), payload, p.ad[:])
	if err != nil {
		return 0, nil, alertf(AlertBadRecordMAC, "record failed authentication")
	}
	if len(plain) > maxPlaintext+1 {
		return 0, nil, alertf(AlertRecordOverflow, "decrypted record is longer than 2^14 + 1 bytes")
	}
	// The content type is the last non-zero byte; the zeros after it are
	// padding (§5.4).
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, alertf(AlertUnexpectedMessage, "protected record holds only padding")
	}
	return plain[i], plain[:i], nil
}

// seal appends one protected record carrying content of type typ to out.
func (p *protection) seal(out []byte, typ uint8, content []byte) []byte {
	n := len(content) + 1 + aeadTagLen
	out = slices.Grow(out, recordHeaderLen+n)
	start := len(out)
	out = append(out, recordApplicationData, 0x03, 0x03, byte(n>>8), byte(n))
	copy(p.ad[:], out[start:])
	body := len(out)
	out = append(out, content...)
	out = append(out, typ)
	return p.aead.Seal(out[:body], p.nextNonce(), out[body:], p.ad[:])
}

// appendPlainRecord appends an unprotected record (used before keys exist).
func appendPlainRecord(out []byte, typ uint8, content []byte) []byte {
	out = append(out, typ, 0x03, 0x03, byte(len(content)>>8), byte(len(content)))
	return append(out, content...)
}

func (p *protection) wipe() {
	p.aead = nil
	clear(p.iv[:])
	clear(p.nonce[:])
}
