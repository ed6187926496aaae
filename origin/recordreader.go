package origin

import "net"

// The TLS record header (RFC 8446 §5.1): content type, legacy version,
// length.
const (
	recordHeaderLen       = 5
	recordHandshake uint8 = 22
)

// recordReader hands uTLS the origin's stream no further than the end of
// the TLS record it is reading. uTLS buffers whatever a read returns, so
// with a plain connection a read that ends inside Session.Conn.Read may
// leave whole records in uTLS's buffer, invisible from outside. Here a
// read from the socket takes what is there, as before, and what lies past
// the current record waits in extra, visible (Session.Buffered), until
// uTLS asks for it: a short Session.Conn.Read with nothing in extra means
// all the origin sent so far has been taken, and the socket tells when it
// sends again.
//
// Only the goroutine that reads Session.Conn touches a recordReader.
type recordReader struct {
	net.Conn
	hdr   [recordHeaderLen]byte
	nhdr  int    // header bytes of the current record seen so far
	body  int    // body bytes of the current record still to come
	extra []byte // read past the current record; extra[off:] is still to hand out
	off   int
}

func (r *recordReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.off < len(r.extra) {
		n := r.frame(p[:copy(p, r.extra[r.off:])])
		r.off += n
		if r.off == len(r.extra) {
			// Keep the array while the origin streams; buffered lets it go.
			r.extra, r.off = r.extra[:0], 0
		}
		return n, nil
	}
	n, err := r.Conn.Read(p)
	k := r.frame(p[:n])
	if k < n {
		r.extra = append(r.extra[:0], p[k:n]...)
	}
	return k, err
}

// frame follows the record framing over b, the next bytes of the stream,
// and returns how many of them belong to the current record.
func (r *recordReader) frame(b []byte) int {
	i := 0
	for i < len(b) {
		if r.nhdr < recordHeaderLen {
			k := copy(r.hdr[r.nhdr:], b[i:])
			r.nhdr += k
			i += k
			if r.nhdr < recordHeaderLen {
				continue
			}
			r.body = int(r.hdr[3])<<8 | int(r.hdr[4])
		}
		k := min(r.body, len(b)-i)
		r.body -= k
		i += k
		if r.body == 0 {
			r.nhdr = 0
			return i
		}
	}
	return i
}

// buffered is how many bytes were read from the socket and not yet handed
// to uTLS; when there are none, the spare array goes too (the caller asks
// as the connection turns idle). Only the goroutine reading Session.Conn
// may call it.
func (r *recordReader) buffered() int {
	n := len(r.extra) - r.off
	if n == 0 {
		r.extra, r.off = nil, 0
	}
	return n
}
