package origin

import (
	"bytes"
	"slices"
	"testing"
)

// Extension types the tests build or look for (RFC 8446 §4.2, RFC 6066).
const (
	extServerName      uint16 = 0
	extSupportedGroups uint16 = 10
	extPadding         uint16 = 21 // RFC 7685
	extSessionTicket   uint16 = 35 // RFC 5077
	extPreSharedKey    uint16 = 41
	extKeyShare        uint16 = 51
)

// rawHello is a ClientHello split into its fields by a parser independent
// of tlsmitm's, so hellos the origin cannot take can be built from real
// ones.
type rawHello struct {
	version      []byte
	random       []byte
	sessionID    []byte
	suites       []byte
	compressions []byte
	exts         []rawExt
}

type rawExt struct {
	typ  uint16
	data []byte
}

// splitHello splits msg, a ClientHello message with its 4-byte header and
// an extensions block.
func splitHello(t testing.TB, msg []byte) *rawHello {
	t.Helper()
	take := func(b *[]byte, n int) []byte {
		if len(*b) < n {
			t.Fatalf("hello truncated")
		}
		v := (*b)[:n]
		*b = (*b)[n:]
		return bytes.Clone(v)
	}
	u16 := func(b []byte) int { return int(b[0])<<8 | int(b[1]) }
	if len(msg) < 4 || msg[0] != 1 {
		t.Fatal("not a ClientHello message")
	}
	b := msg[4:]
	if len(b) != int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) {
		t.Fatal("message length does not match")
	}
	h := &rawHello{}
	h.version = take(&b, 2)
	h.random = take(&b, 32)
	h.sessionID = take(&b, int(take(&b, 1)[0]))
	h.suites = take(&b, u16(take(&b, 2)))
	h.compressions = take(&b, int(take(&b, 1)[0]))
	exts := take(&b, u16(take(&b, 2)))
	if len(b) != 0 {
		t.Fatal("bytes after the extensions")
	}
	for len(exts) > 0 {
		typ := u16(take(&exts, 2))
		h.exts = append(h.exts, rawExt{uint16(typ), take(&exts, u16(take(&exts, 2)))})
	}
	return h
}

// bytes serializes the hello, header included.
func (h *rawHello) bytes() []byte {
	var exts []byte
	for _, e := range h.exts {
		exts = append(putU16(putU16(exts, e.typ), uint16(len(e.data))), e.data...)
	}
	body := slices.Concat(h.version, h.random,
		[]byte{byte(len(h.sessionID))}, h.sessionID,
		putU16(nil, uint16(len(h.suites))), h.suites,
		[]byte{byte(len(h.compressions))}, h.compressions,
		putU16(nil, uint16(len(exts))), exts)
	return append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func (h *rawHello) find(typ uint16) int {
	return slices.IndexFunc(h.exts, func(e rawExt) bool { return e.typ == typ })
}

// without drops the extension of type typ.
func (h *rawHello) without(t testing.TB, typ uint16) *rawHello {
	t.Helper()
	i := h.find(typ)
	if i < 0 {
		t.Fatalf("hello has no extension %d", typ)
	}
	h.exts = slices.Delete(h.exts, i, i+1)
	return h
}

// set replaces the data of extension typ, or appends the extension.
func (h *rawHello) set(typ uint16, data []byte) *rawHello {
	if i := h.find(typ); i >= 0 {
		h.exts[i].data = data
	} else {
		h.exts = append(h.exts, rawExt{typ, data})
	}
	return h
}

func putU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func u16List(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = putU16(b, v)
	}
	return append(putU16(nil, uint16(len(b))), b...)
}
