package tlstest

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// Extension is one extension of a ClientHello.
type Extension struct {
	Type uint16
	Data []byte
}

// ClientHello is a ClientHello split into its fields (RFC 8446 §4.1.2), so
// that a test can take a real one and make it wrong in one place. Every
// field is the test's to change; Message, Body and Record write it out as
// it then stands, lengths recomputed.
type ClientHello struct {
	// RecordVersion is the legacy_record_version of the record the hello
	// came in; ParseClientHello, which sees no record, sets 0x0301, what
	// clients put on their first record (RFC 8446 §5.1).
	RecordVersion uint16
	LegacyVersion uint16
	Random        []byte
	SessionID     []byte
	CipherSuites  []byte      // the vector's content: two bytes a suite
	Compressions  []byte      // the vector's content: one byte a method
	Extensions    []Extension // nil: no extensions block at all
}

// ParseClientHelloRecord splits a record that holds exactly one whole
// ClientHello; anything else fails the test.
func ParseClientHelloRecord(tb testing.TB, rec []byte) *ClientHello {
	tb.Helper()
	if len(rec) < 9 || rec[0] != RecordHandshake || rec[5] != 1 {
		tb.Fatalf("not a ClientHello record")
	}
	recLen := int(binary.BigEndian.Uint16(rec[3:5]))
	hsLen := int(rec[6])<<16 | int(rec[7])<<8 | int(rec[8])
	if recLen != len(rec)-5 || hsLen != recLen-4 {
		tb.Fatalf("ClientHello record lengths inconsistent: rec %d hs %d total %d", recLen, hsLen, len(rec))
	}
	h := ParseClientHello(tb, rec[5:])
	h.RecordVersion = binary.BigEndian.Uint16(rec[1:3])
	return h
}

// ParseClientHello splits a ClientHello handshake message, 4-byte header
// included; a malformed one fails the test. The fields are copies.
func ParseClientHello(tb testing.TB, msg []byte) *ClientHello {
	tb.Helper()
	take := func(b *[]byte, n int) []byte {
		if len(*b) < n {
			tb.Fatalf("hello truncated")
		}
		v := (*b)[:n]
		*b = (*b)[n:]
		return bytes.Clone(v)
	}
	u16 := func(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
	if len(msg) < 4 || msg[0] != 1 {
		tb.Fatalf("not a ClientHello message: % x", msg[:min(len(msg), 4)])
	}
	b := msg[4:]
	if len(b) != int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) {
		tb.Fatal("message length does not match")
	}
	h := &ClientHello{RecordVersion: 0x0301}
	h.LegacyVersion = uint16(u16(take(&b, 2)))
	h.Random = take(&b, 32)
	h.SessionID = take(&b, int(take(&b, 1)[0]))
	h.CipherSuites = take(&b, u16(take(&b, 2)))
	h.Compressions = take(&b, int(take(&b, 1)[0]))
	if len(b) == 0 {
		return h
	}
	exts := take(&b, u16(take(&b, 2)))
	if len(b) != 0 {
		tb.Fatal("bytes after the extensions")
	}
	h.Extensions = []Extension{}
	for len(exts) > 0 {
		typ := uint16(u16(take(&exts, 2)))
		h.Extensions = append(h.Extensions, Extension{Type: typ, Data: take(&exts, u16(take(&exts, 2)))})
	}
	return h
}

// Clone is a deep copy of h.
func (h *ClientHello) Clone() *ClientHello {
	c := *h
	c.Random = bytes.Clone(h.Random)
	c.SessionID = bytes.Clone(h.SessionID)
	c.CipherSuites = bytes.Clone(h.CipherSuites)
	c.Compressions = bytes.Clone(h.Compressions)
	if h.Extensions != nil {
		c.Extensions = make([]Extension, len(h.Extensions))
		for i, e := range h.Extensions {
			c.Extensions[i] = Extension{Type: e.Type, Data: bytes.Clone(e.Data)}
		}
	}
	return &c
}

// Find is the index of the extension of type typ, or -1.
func (h *ClientHello) Find(typ uint16) int {
	return slices.IndexFunc(h.Extensions, func(e Extension) bool { return e.Type == typ })
}

// Without drops the extension of type typ; a hello without one fails the
// test.
func (h *ClientHello) Without(tb testing.TB, typ uint16) *ClientHello {
	tb.Helper()
	i := h.Find(typ)
	if i < 0 {
		tb.Fatalf("hello has no extension %d", typ)
	}
	h.Extensions = slices.Delete(h.Extensions, i, i+1)
	return h
}

// Set replaces the data of the extension of type typ, or appends the
// extension.
func (h *ClientHello) Set(typ uint16, data []byte) *ClientHello {
	if i := h.Find(typ); i >= 0 {
		h.Extensions[i].Data = data
	} else {
		h.Extensions = append(h.Extensions, Extension{Type: typ, Data: data})
	}
	return h
}

// ExtensionsOffset is where, in Body, the extensions block starts (its
// 2-byte length).
func (h *ClientHello) ExtensionsOffset() int {
	return 2 + len(h.Random) + 1 + len(h.SessionID) + 2 + len(h.CipherSuites) + 1 + len(h.Compressions)
}

// Body is the ClientHello without its handshake header.
func (h *ClientHello) Body() []byte {
	b := binary.BigEndian.AppendUint16(nil, h.LegacyVersion)
	b = append(b, h.Random...)
	b = append(append(b, byte(len(h.SessionID))), h.SessionID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.CipherSuites)))
	b = append(b, h.CipherSuites...)
	b = append(append(b, byte(len(h.Compressions))), h.Compressions...)
	if h.Extensions == nil {
		return b
	}
	var e []byte
	for _, x := range h.Extensions {
		e = binary.BigEndian.AppendUint16(e, x.Type)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.Data)))
		e = append(e, x.Data...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
	return append(b, e...)
}

// Message is the ClientHello handshake message, header included.
func (h *ClientHello) Message() []byte {
	body := h.Body()
	n := len(body)
	return append([]byte{1, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// Record is the ClientHello in one plaintext record of RecordVersion.
func (h *ClientHello) Record() []byte {
	return HandshakeRecord(h.RecordVersion, 1, h.Body())
}
