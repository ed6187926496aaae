package tlsmitm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"
	"time"
)

// fuzzNow is the fuzz targets' clock: tickets are issued and checked at
// this instant, whenever an input runs.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fuzzTicketKeys are the fuzz targets' ticket keys: the same in every
// process, and never rotated (their clock stands still at fuzzNow), so that
// an input carrying a ticket sealed under them, a seed or a crasher written
// to testdata/fuzz, opens the same way whenever it is replayed.
var fuzzTicketKeys = func() *TicketKeys {
	tk := NewTicketKeys(time.Hour)
	tk.now = func() time.Time { return fuzzNow }
	tk.rotated = fuzzNow
	k := tk.cur
	for i := range k.block {
		k.block[i] = byte(i)
	}
	copy(k.id[:], "lucid fuzz key 1")
	block, err := aes.NewCipher(k.block)
	if err != nil {
		panic(err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		panic(err)
	}
	return tk
}()

// FuzzTicketOpen feeds arbitrary bytes to the ticket opener and, through
// the key, to the plaintext parser: neither may panic, and a ticket that
// opens must parse to what re-encodes to the same bytes.
func FuzzTicketOpen(f *testing.F) {
	st := ticketState{version: versionTLS13, suite: TLS_AES_128_GCM_SHA256, created: 1700000000000, lifetime: 86400,
		ageAdd: 7, psk: bytes.Repeat([]byte{1}, 32), sni: []byte("localhost"), alpn: []byte("h2"),
		ctx: bytes.Repeat([]byte{2}, sha256Len)}
	plain := appendTicketState(nil, &st)
	ticket, _ := fuzzTicketKeys.seal(append(make([]byte, ticketHeaderLen), plain...), 0)
	f.Add(ticket, false)
	f.Add(plain, true)
	f.Add([]byte{}, false)
	f.Add(make([]byte, ticketHeaderLen+aeadTagLen), false)
	f.Fuzz(func(t *testing.T, data []byte, asPlaintext bool) {
		p := data
		if !asPlaintext {
			var ok bool
			if p, ok = fuzzTicketKeys.open(nil, data); !ok {
				return
			}
		}
		got, ok := parseTicketState(p)
		if !ok {
			return
		}
		if again := appendTicketState(nil, &got); !bytes.Equal(again, p) {
			t.Fatalf("ticket state does not round-trip: %x -> %x", p, again)
		}
	})
}

// FuzzPreSharedKey parses arbitrary pre_shared_key extension bodies.
func FuzzPreSharedKey(f *testing.F) {
	f.Add([]byte{0, 7, 0, 1, 'x', 0, 0, 0, 0, 0, 33, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ch ClientHello
		if ch.parsePreSharedKey(data) != nil {
			return
		}
		if len(ch.PSKIdentities) == 0 || len(ch.PSKIdentities) != len(ch.PSKBinders) {
			t.Fatalf("%d identities, %d binders", len(ch.PSKIdentities), len(ch.PSKBinders))
		}
		if ch.pskBindersLen < 2 || ch.pskBindersLen > len(data) {
			t.Fatalf("binders length %d of %d bytes", ch.pskBindersLen, len(data))
		}
		// The binders are the tail of the extension, as Truncate needs.
		tail := data[len(data)-ch.pskBindersLen:]
		if int(tail[0])<<8|int(tail[1]) != ch.pskBindersLen-2 {
			t.Fatalf("binders list does not end the extension")
		}
	})
}
