package h2bridge

// byteQueue holds DATA bytes waiting for the receiving side's windows.
// Bytes leave from the front; every byte it stops holding is zeroed, since
// they are decrypted traffic.
type byteQueue struct {
	buf []byte
	off int
}

func (q *byteQueue) len() int { return len(q.buf) - q.off }

func (q *byteQueue) push(p []byte) {
	if q.off > 0 && q.off+len(p) > cap(q.buf) {
		n := copy(q.buf, q.buf[q.off:])
		clear(q.buf[n:])
		q.buf, q.off = q.buf[:n], 0
	}
	if len(q.buf)+len(p) > cap(q.buf) {
		grown := make([]byte, len(q.buf), max(2*cap(q.buf), len(q.buf)+len(p), 512))
		copy(grown, q.buf)
		clear(q.buf)
		q.buf = grown
	}
	q.buf = append(q.buf, p...)
}

// front is the next n bytes at most; they stay valid until the next call.
func (q *byteQueue) front(n int) []byte {
	return q.buf[q.off : q.off+min(n, q.len())]
}

// drop forgets the first n bytes.
func (q *byteQueue) drop(n int) {
	clear(q.buf[q.off : q.off+n])
	q.off += n
	if q.off == len(q.buf) {
		q.buf, q.off = q.buf[:0], 0
	}
}

// wipe zeroes everything and lets the memory go.
func (q *byteQueue) wipe() {
	clear(q.buf[:cap(q.buf)])
	q.buf, q.off = nil, 0
}
