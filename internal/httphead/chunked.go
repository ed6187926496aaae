package httphead

// chunkReader follows a chunked body (RFC 9112 §7.1) byte by byte through
// its framing and in bulk through chunk data, so it needs no buffer: a
// chunk line or trailer cut across reads simply resumes. It accepts only
// what a sender may generate: hex sizes, extensions as ";" token
// ["=" (token / quoted-string)] with no whitespace (BWS must not be
// generated), CRLF only, trailers as strict field lines.
type chunkReader struct {
	state    chunkState
	size     int64 // the chunk's size, then its data still to pass
	digits   int
	line     int // bytes of the current chunk line
	trailers int // bytes of the trailer section
	fields   int
}

type chunkState uint8

const (
	chSize chunkState = iota
	chSizeMore
	chExt
	chExtName
	chExtValue
	chExtToken
	chExtQuoted
	chExtEscape
	chExtQuoteEnd
	chLineLF
	chData
	chDataCR
	chDataLF
	chTrailer
	chTrailerName
	chTrailerValue
	chTrailerLF
	chEndLF
	chDone
)

// Bounds on chunked framing: a size of at most 15 hex digits, a chunk line
// (size and extensions) of 4 KiB, trailers as a head is bounded.
const (
	maxChunkDigits = 15
	maxChunkLine   = 4 << 10
)

var errChunked = &Error{Status: 400, Reason: "malformed chunked body"}

func (r *chunkReader) done() bool { return r.state == chDone }

// feed consumes bytes of the body from b, up to its end; it returns how
// many, and an error at the first byte that breaks the framing.
func (r *chunkReader) feed(b []byte) (int, error) {
	i := 0
	for i < len(b) && r.state != chDone {
		if r.state == chData {
			n := min(int64(len(b)-i), r.size)
			r.size -= n
			i += int(n)
			if r.size == 0 {
				r.state = chDataCR
			}
			continue
		}
		if !r.step(b[i]) {
			return i, errChunked
		}
		i++
	}
	return i, nil
}

// step takes one framing byte; false when it breaks the framing.
func (r *chunkReader) step(c byte) bool {
	switch r.state {
	case chSize, chSizeMore, chExt, chExtName, chExtValue, chExtToken, chExtQuoted, chExtEscape, chExtQuoteEnd, chLineLF:
		if r.line++; r.line > maxChunkLine {
			return false
		}
	case chTrailer, chTrailerName, chTrailerValue, chTrailerLF, chEndLF:
		if r.trailers++; r.trailers > MaxHead {
			return false
		}
	}
	switch r.state {
	case chSize, chSizeMore:
		if d, ok := hexDigit(c); ok {
			if r.digits++; r.digits > maxChunkDigits {
				return false
			}
			r.size = r.size<<4 | int64(d)
			r.state = chSizeMore
			return true
		}
		if r.state == chSize {
			return false
		}
		return r.endOfPart(c)
	case chExt:
		r.state = chExtName
		return isTchar(c)
	case chExtName:
		if c == '=' {
			r.state = chExtValue
			return true
		}
		return isTchar(c) || r.endOfPart(c)
	case chExtValue:
		if c == '"' {
			r.state = chExtQuoted
			return true
		}
		r.state = chExtToken
		return isTchar(c)
	case chExtToken:
		return isTchar(c) || r.endOfPart(c)
	case chExtQuoted:
		switch c {
		case '"':
			r.state = chExtQuoteEnd
		case '\\':
			r.state = chExtEscape
		}
		return isFieldByte(c)
	case chExtEscape:
		r.state = chExtQuoted
		return isFieldByte(c)
	case chExtQuoteEnd:
		return r.endOfPart(c)
	case chLineLF:
		if c != '\n' {
			return false
		}
		r.line, r.digits = 0, 0
		if r.size == 0 {
			r.state = chTrailer
		} else {
			r.state = chData
		}
		return true
	case chDataCR:
		r.state = chDataLF
		return c == '\r'
	case chDataLF:
		r.state = chSize
		return c == '\n'
	case chTrailer:
		if c == '\r' {
			r.state = chEndLF
			return true
		}
		if r.fields++; r.fields > MaxFields {
			return false
		}
		r.state = chTrailerName
		return isTchar(c) // a leading SP or HTAB is obs-fold
	case chTrailerName:
		if c == ':' {
			r.state = chTrailerValue
			return true
		}
		return isTchar(c)
	case chTrailerValue:
		if c == '\r' {
			r.state = chTrailerLF
			return true
		}
		return isFieldByte(c)
	case chTrailerLF:
		r.state = chTrailer
		return c == '\n'
	case chEndLF:
		r.state = chDone
		return c == '\n'
	}
	return false
}

// endOfPart takes the byte after a size or an extension: another
// extension, or the CR that ends the line.
func (r *chunkReader) endOfPart(c byte) bool {
	switch c {
	case ';':
		r.state = chExt
		return true
	case '\r':
		r.state = chLineLF
		return true
	}
	return false
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
