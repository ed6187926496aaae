package tlsmitm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/lucid-edge/lucid/internal/secmem"
)

// Stateless session tickets (RFC 8446 §4.6.1): the server keeps nothing per
// session; a ticket is the session's state sealed with AES-256-GCM under a
// key shared by every loop of the process.
//
// Ticket layout: key id (16) | nonce (12) | AEAD(plaintext) with the key id
// as associated data. The plaintext is
//
//	version u16 | cipher suite u16 | created (Unix ms) u64 | lifetime (s) u32 |
//	age_add u32 | PSK <1..255> | SNI <0..255> | ALPN <0..255> |
//	session context <0..32> (SHA-256 of Conn.SetSessionContext's bytes)
const (
	ticketKeyIDLen  = 16
	ticketNonceLen  = 12
	ticketKeyLen    = 32
	ticketHeaderLen = ticketKeyIDLen + ticketNonceLen
	// maxTicketPlain bounds the plaintext: the fixed fields, a PSK, an SNI
	// and an ALPN protocol of at most 255 bytes each, and a context hash.
	maxTicketPlain = 20 + 4 + maxHashLen + 255 + 255 + sha256Len
	sha256Len      = 32
	maxTicketLen   = ticketHeaderLen + maxTicketPlain + aeadTagLen

	// DefaultTicketLifetime is the lifetime of a ticket when
	// Config.TicketLifetime is 0; maxTicketLifetime is RFC 8446 §4.6.1's cap.
	DefaultTicketLifetime = 24 * time.Hour
	maxTicketLifetime     = 7 * 24 * time.Hour
	// DefaultTicketRotation is the rotation interval NewTicketKeys uses for 0.
	DefaultTicketRotation = 12 * time.Hour
	// ticketAgeSkew is how far the client's idea of the ticket's age may
	// differ from ours (RFC 8446 §8.3), and how far a ticket may come from
	// our future.
	ticketAgeSkew = 10 * time.Second
)

// TicketKeys seals and opens session tickets. One TicketKeys is shared by
// all loops (and Configs) of a process and is safe for concurrent use. It
// holds a current key, which seals, and the previous one, which still
// opens; each rotation drops the previous key, so a ticket lives through at
// most two rotation intervals whatever its lifetime. A ticket under any
// other key (another process, an older key) opens to nothing: the
// connection gets a full handshake.
type TicketKeys struct {
	rotate time.Duration
	now    func() time.Time // tests move time

	mu      sync.RWMutex
	arena   *secmem.Arena // holds the raw keys; nil: the Go heap
	cur     *ticketKey
	prev    *ticketKey
	rotated time.Time
}

type ticketKey struct {
	id    [ticketKeyIDLen]byte // public: names the key in a ticket
	block []byte               // the AES-256 key, in the arena
	aead  cipher.AEAD          // its expanded schedule lives on the Go heap
}

// NewTicketKeys returns ticket keys rotated every rotate (0 means
// DefaultTicketRotation). Rotation happens lazily, on the first use after
// an interval has passed. The raw keys live in a small secmem arena, zeroed
// when a key is dropped; if the kernel refuses one, the Go heap.
func NewTicketKeys(rotate time.Duration) *TicketKeys {
	if rotate <= 0 {
		rotate = DefaultTicketRotation
	}
	tk := &TicketKeys{rotate: rotate, now: time.Now}
	if a, err := secmem.NewArena(secmem.Config{Size: 64 << 10}); err == nil {
		tk.arena = a
	}
	tk.mu.Lock()
	tk.cur = tk.newKey()
	tk.rotated = tk.now()
	tk.mu.Unlock()
	return tk
}

// newKey makes a fresh key. The caller holds mu for writing.
func (tk *TicketKeys) newKey() *ticketKey {
	k := &ticketKey{}
	if tk.arena != nil {
		if b, err := tk.arena.Alloc(ticketKeyLen); err == nil {
			k.block = b[:ticketKeyLen]
		}
	}
	if k.block == nil {
		k.block = make([]byte, ticketKeyLen)
	}
	rand.Read(k.block) // crypto/rand never fails (it crashes instead)
	rand.Read(k.id[:])
	block, err := aes.NewCipher(k.block)
	if err != nil {
		panic("tlsmitm: AES-256 key refused: " + err.Error())
	}
	k.aead, err = cipher.NewGCM(block)
	if err != nil {
		panic("tlsmitm: AES-GCM refused: " + err.Error())
	}
	return k
}

// dropKey zeroes and frees a key. The caller holds mu for writing.
func (tk *TicketKeys) dropKey(k *ticketKey) {
	if k == nil {
		return
	}
	if tk.arena == nil || tk.arena.Free(k.block[:cap(k.block)]) != nil {
		secmem.Wipe(k.block)
	}
	k.block, k.aead = nil, nil
}

// Rotate makes a new current key now; the current one becomes the
// previous, and the previous one is dropped.
func (tk *TicketKeys) Rotate() {
	tk.mu.Lock()
	tk.rotateLocked(tk.now())
	tk.mu.Unlock()
}

func (tk *TicketKeys) rotateLocked(now time.Time) {
	tk.dropKey(tk.prev)
	tk.prev = tk.cur
	tk.cur = tk.newKey()
	tk.rotated = now
}

// Close drops both keys and unmaps their memory. Tickets no longer seal or
// open afterwards.
func (tk *TicketKeys) Close() error {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.dropKey(tk.prev)
	tk.dropKey(tk.cur)
	tk.prev, tk.cur = nil, nil
	if tk.arena == nil {
		return nil
	}
	err := tk.arena.Close()
	tk.arena = nil
	return err
}

// rotateIfDue makes any rotation that is due. Keys are used under the
// read lock only, as a rotation frees the key it drops.
func (tk *TicketKeys) rotateIfDue() {
	now := tk.now()
	tk.mu.RLock()
	due := tk.cur != nil && now.Sub(tk.rotated) >= tk.rotate
	tk.mu.RUnlock()
	if !due {
		return
	}
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.cur != nil {
		if elapsed := now.Sub(tk.rotated); elapsed >= 2*tk.rotate {
			// Both keys are too old: neither may open a ticket any more.
			tk.rotateLocked(now)
			tk.rotateLocked(now)
		} else if elapsed >= tk.rotate {
			tk.rotateLocked(now)
		}
	}
}

// seal encrypts, in place, the ticket in b[start:]: ticketHeaderLen bytes
// reserved for the key id and nonce, then the plaintext. It returns b with
// the sealed ticket in place of the plaintext, which no copy survives.
func (tk *TicketKeys) seal(b []byte, start int) ([]byte, bool) {
	tk.rotateIfDue()
	tk.mu.RLock()
	defer tk.mu.RUnlock()
	cur := tk.cur
	if cur == nil {
		return b, false
	}
	b = slices.Grow(b, aeadTagLen)
	hdr := b[start : start+ticketHeaderLen]
	copy(hdr, cur.id[:])
	rand.Read(hdr[ticketKeyIDLen:])
	plain := b[start+ticketHeaderLen:]
	sealed := cur.aead.Seal(plain[:0], hdr[ticketKeyIDLen:], plain, hdr[:ticketKeyIDLen])
	return b[:start+ticketHeaderLen+len(sealed)], true
}

// open decrypts a ticket into dst (appending); false for a ticket under no
// key we hold, or that does not authenticate.
func (tk *TicketKeys) open(dst, ticket []byte) ([]byte, bool) {
	if len(ticket) < ticketHeaderLen+aeadTagLen || len(ticket) > maxTicketLen {
		return dst, false
	}
	tk.rotateIfDue()
	tk.mu.RLock()
	defer tk.mu.RUnlock()
	cur, prev := tk.cur, tk.prev
	var k *ticketKey
	switch id := ticket[:ticketKeyIDLen]; {
	case cur != nil && string(id) == string(cur.id[:]):
		k = cur
	case prev != nil && string(id) == string(prev.id[:]):
		k = prev
	default:
		return dst, false
	}
	plain, err := k.aead.Open(dst, ticket[ticketKeyIDLen:ticketHeaderLen], ticket[ticketHeaderLen:], ticket[:ticketKeyIDLen])
	if err != nil {
		return dst, false
	}
	return plain, true
}

// ticketState is the content of an opened ticket. psk, sni, alpn and ctx
// alias the plaintext.
type ticketState struct {
	version  uint16
	suite    uint16
	created  int64 // Unix milliseconds
	lifetime uint32
	ageAdd   uint32
	psk      []byte
	sni      []byte
	alpn     []byte
	ctx      []byte
}

func appendTicketState(b []byte, t *ticketState) []byte {
	b = putU16(b, t.version)
	b = putU16(b, t.suite)
	b = binary.BigEndian.AppendUint64(b, uint64(t.created))
	b = binary.BigEndian.AppendUint32(b, t.lifetime)
	b = binary.BigEndian.AppendUint32(b, t.ageAdd)
	b = append(b, byte(len(t.psk)))
	b = append(b, t.psk...)
	b = append(b, byte(len(t.sni)))
	b = append(b, t.sni...)
	b = append(b, byte(len(t.alpn)))
	b = append(b, t.alpn...)
	b = append(b, byte(len(t.ctx)))
	return append(b, t.ctx...)
}

// parseTicketState reads an opened ticket's plaintext.
func parseTicketState(b []byte) (ticketState, bool) {
	var t ticketState
	r := newReader(b)
	t.version = r.u16()
	t.suite = r.u16()
	hi, lo := r.bytes(4), r.bytes(4)
	age := r.bytes(4)
	add := r.bytes(4)
	t.psk = r.vec8()
	t.sni = r.vec8()
	t.alpn = r.vec8()
	t.ctx = r.vec8()
	if !r.ok || !r.empty() || len(t.psk) == 0 || (len(t.ctx) != 0 && len(t.ctx) != sha256Len) {
		return ticketState{}, false
	}
	t.created = int64(uint64(binary.BigEndian.Uint32(hi))<<32 | uint64(binary.BigEndian.Uint32(lo)))
	t.lifetime = binary.BigEndian.Uint32(age)
	t.ageAdd = binary.BigEndian.Uint32(add)
	return t, true
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) ticketLifetime() time.Duration {
	switch {
	case c.TicketLifetime <= 0:
		return DefaultTicketLifetime
	case c.TicketLifetime > maxTicketLifetime:
		return maxTicketLifetime
	}
	return max(c.TicketLifetime.Truncate(time.Second), time.Second)
}
