package httphead

import "bytes"

// ResponseReader follows a stream of HTTP/1.x responses (RFC 9112 §6)
// well enough to say where each one ends and what its status was,
// without keeping the bodies: Content-Length and chunked bodies are
// counted through, 1xx answers are skipped, HEAD answers and 204/304 carry
// no body. A response it cannot frame (no length, or malformed) makes the
// rest of the stream opaque.
//
// Feed it bytes in order; it calls Done once per final response.
type ResponseReader struct {
	// IsHead reports whether the request a response answers was HEAD; it
	// is asked once per final response.
	IsHead func() bool
	// Done receives a final response's status and its size (head and body).
	Done func(status int, size int64)

	state  respState
	head   []byte
	status int
	size   int64
	left   int64 // body or chunk bytes still to pass
	line   []byte
	opaque bool
}

type respState uint8

const (
	respHead respState = iota
	respBody
	respChunkSize
	respChunkData
	respChunkCRLF
	respTrailers
)

// maxResponseHead bounds a response head, as MaxHead bounds a request's.
const maxResponseHead = 64 << 10

// Opaque reports whether the stream could no longer be framed.
func (r *ResponseReader) Opaque() bool { return r.opaque }

// Feed passes the next bytes of the stream.
func (r *ResponseReader) Feed(b []byte) {
	for len(b) > 0 && !r.opaque {
		switch r.state {
		case respHead:
			b = r.feedHead(b)
		case respBody:
			n := min(int64(len(b)), r.left)
			r.left -= n
			r.size += n
			b = b[n:]
			if r.left == 0 {
				r.finish()
			}
		case respChunkSize, respTrailers:
			b = r.feedLine(b)
		case respChunkData:
			n := min(int64(len(b)), r.left)
			r.left -= n
			r.size += n
			b = b[n:]
			if r.left == 0 {
				r.state = respChunkCRLF
				r.left = 2
			}
		case respChunkCRLF:
			n := min(int64(len(b)), r.left)
			r.left -= n
			r.size += n
			b = b[n:]
			if r.left == 0 {
				r.state = respChunkSize
			}
		}
	}
}

func (r *ResponseReader) feedHead(b []byte) []byte {
	// A head that arrives whole is parsed where it lies; only one cut
	// across reads is copied, and the copy is let go once parsed, so an
	// idle connection keeps no buffer here.
	start := len(r.head)
	src := b
	if start > 0 {
		r.head = append(r.head, b...)
		src = r.head
	}
	end := bytes.Index(src, []byte("\r\n\r\n"))
	if end < 0 {
		if start == 0 {
			r.head = append(r.head, b...)
		}
		if len(r.head) > maxResponseHead {
			r.opaque = true
		}
		return nil
	}
	headLen := end + 4
	used := headLen - start
	status, length, chunked, ok := parseResponseHead(src[:headLen])
	r.head = nil
	if !ok {
		r.opaque = true
		return nil
	}
	r.size += int64(headLen)
	if status >= 100 && status < 200 {
		if status == 101 {
			r.Done(status, r.size) // a switch: what follows is another protocol
			r.opaque = true
			return nil
		}
		r.size = 0 // an interim answer; the final one follows
		return b[used:]
	}
	r.status = status
	// Asked for every final response, so answers stay paired with requests.
	head := r.IsHead != nil && r.IsHead()
	noBody := head || status == 204 || status == 304
	switch {
	case noBody:
		r.finish()
	case chunked:
		r.state = respChunkSize
	case length >= 0:
		r.left = length
		r.state = respBody
		if length == 0 {
			r.finish()
		}
	default:
		// Delimited by the connection's end: nothing after it to frame.
		r.Done(status, r.size)
		r.opaque = true
	}
	return b[used:]
}

// feedLine collects a chunk-size line or a trailer line.
func (r *ResponseReader) feedLine(b []byte) []byte {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		r.line = append(r.line, b...)
		r.size += int64(len(b))
		if len(r.line) > 4096 {
			r.opaque = true
		}
		return nil
	}
	r.line = append(r.line, b[:i+1]...)
	r.size += int64(i + 1)
	line := bytes.TrimRight(r.line, "\r\n")
	r.line = r.line[:0]
	if r.state == respTrailers {
		if len(line) == 0 {
			r.finish()
		}
		return b[i+1:]
	}
	if semi := bytes.IndexByte(line, ';'); semi >= 0 {
		line = line[:semi] // chunk extensions
	}
	n, ok := parseHex(bytes.TrimSpace(line))
	if !ok {
		r.opaque = true
		return nil
	}
	if n == 0 {
		r.state = respTrailers
	} else {
		r.left = n
		r.state = respChunkData
	}
	return b[i+1:]
}

func (r *ResponseReader) finish() {
	r.Done(r.status, r.size)
	r.state, r.size, r.status, r.left = respHead, 0, 0, 0
}

// parseResponseHead reads the status and body framing of a response head.
func parseResponseHead(h []byte) (status int, length int64, chunked, ok bool) {
	length = -1
	nl := bytes.Index(h, []byte("\r\n"))
	line := h[:nl]
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, 0, false, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, false, false
		}
		status = status*10 + int(c-'0')
	}
	// RFC 9110 §15: three digits, 100 to 599, then a space or nothing.
	if status < 100 || status > 599 || (len(line) > 12 && line[12] != ' ') {
		return 0, 0, false, false
	}
	for rest := h[nl+2:]; len(rest) > 2; {
		i := bytes.Index(rest, []byte("\r\n"))
		field := rest[:i]
		rest = rest[i+2:]
		colon := bytes.IndexByte(field, ':')
		if colon <= 0 {
			return 0, 0, false, false
		}
		name, value := field[:colon], bytes.TrimSpace(field[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok {
				return 0, 0, false, false
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = hasToken(value, "chunked")
		}
	}
	return status, length, chunked, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n*16 + int64(d)
	}
	return n, true
}
