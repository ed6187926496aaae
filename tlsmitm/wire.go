package tlsmitm

// reader is a cursor over bytes received from the network. Every read checks
// bounds and reports failure through ok, so a parser is a straight list of
// reads followed by one check; nothing here allocates.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) reader { return reader{b: b, ok: true} }

func (r *reader) empty() bool { return len(r.b) == 0 }

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.fail()
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) u24() int {
	if len(r.b) < 3 {
		r.fail()
		return 0
	}
	v := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// vec8, vec16 and vec24 read a length-prefixed vector (RFC 8446 §3.4).
func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }
func (r *reader) vec24() []byte { return r.bytes(r.u24()) }

func (r *reader) fail() {
	r.ok = false
	r.b = nil
}

// Writers append to a caller's slice. Lengths of vectors are back-patched:
// a vector is opened with a placeholder and closed once its body is written.

func putU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func putU24(b []byte, v int) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

// openVec appends a zero length of width bytes and returns where it starts.
func openVec(b []byte, width int) ([]byte, int) {
	start := len(b)
	for i := 0; i < width; i++ {
		b = append(b, 0)
	}
	return b, start
}

// closeVec writes the length of everything after the placeholder at start.
func closeVec(b []byte, start, width int) {
	n := len(b) - start - width
	for i := width - 1; i >= 0; i-- {
		b[start+i] = byte(n)
		n >>= 8
	}
}
