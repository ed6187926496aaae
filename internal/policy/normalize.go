package policy

import "unicode/utf8"

// NormalizePath returns the form of a request path that URL rules match:
//
//   - percent-encoded unreserved characters (ALPHA, DIGIT, '-', '.', '_',
//     '~') are decoded, since their encoded and plain forms are the same
//     URI (RFC 3986 §2.3, §6.2.2.2); every other escape stays encoded with
//     its hex digits in upper case (§6.2.2.1), and the bytes that are not
//     URI characters but that clients send raw anyway (", <, >, ^, `, {,
//     |, } and UTF-8) are encoded, so both spellings compare equal;
//   - %2F and %5C separate segments like '/': nginx, Go's net/http and IIS
//     decode them before routing, and the origins that do not (Apache,
//     Tomcat, Spring) refuse them by default, so the separator reading is
//     the strictest one;
//   - ';' starts path parameters, dropped up to the next separator: Tomcat
//     and Jetty route "/admin;x/y" as "/admin/y";
//   - empty segments are merged ("//a" is "/a"): nginx merges them, and
//     many frameworks route on the merged path;
//   - dot-segments, "%2E" spellings included, are removed as RFC 3986
//     §5.2.4 says, after the decoding above, so "/a/%2e%2e/b" is "/b";
//     a trailing slash is kept.
//
// It refuses, with an error wrapping ErrBadRequest, what an origin could
// read differently from the edge: a path not starting with '/', a '%' not
// followed by two hex digits (so IIS's "%u0061" too), an encoded NUL,
// control characters, space, '\' (not a URI character, RFC 3986 §2;
// IIS reads it as '/', Apache as a letter, and WHATWG URL parsers turn it
// into '/' before sending, so only a hand-made request holds one), '?' or
// '#' (the caller splits the query off; a fragment is never sent), and
// bytes or escapes above 0x7F that are not valid UTF-8, such as the
// overlong "%C0%AE" for '.' and "%C0%AF" for '/' that old IIS and Tomcat
// decoded. Decoding is done once, as HTTP says; "%252E" stays "%252E".
//
// The result has no "/./", "/../" or "//", and normalising it again gives
// it back. A path that needs no change is returned without allocating.
func NormalizePath(p string) (string, error) {
	return normalizePath(p, false)
}

// normalizePath is NormalizePath; with refuseClimb a ".." that removes a
// segment is refused instead (see ParseRequest).
func normalizePath(p string, refuseClimb bool) (string, error) {
	if p == "" || p[0] != '/' {
		return "", errPathNotAbsolute
	}
	b := lazyBuf{s: p}
	b.append('/')
	seg := 1        // where the current segment starts in b
	params := false // inside a ';' parameter, dropped
	var u utf8Check
	for i := 1; i < len(p); i++ {
		c := p[i]
		encoded := false
		if c == '%' {
			if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
				return "", errBadEscape
			}
			c = byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			encoded = true
			i += 2
			if c == 0 {
				return "", errEncodedNUL
			}
		}
		if !u.add(c) {
			return "", errBadUTF8
		}
		if c == '/' || encoded && c == '\\' {
			var err error
			if seg, err = b.endSegment(seg, refuseClimb, true); err != nil {
				return "", err
			}
			params = false
			continue
		}
		if !encoded {
			switch {
			case c < 0x20 || c == 0x7f:
				return "", errControl
			case c == ' ' || c == '\\' || c == '?' || c == '#':
				return "", errPathByte
			case c == ';':
				params = true
			}
		}
		if params {
			continue
		}
		if unreserved(c) || !encoded && c < 0x80 && !needsEscape(c) {
			b.append(c)
		} else {
			b.appendEscape(c)
		}
	}
	if !u.done() {
		return "", errBadUTF8
	}
	if _, err := b.endSegment(seg, refuseClimb, false); err != nil {
		return "", err
	}
	return b.String(), nil
}

// endSegment finishes the segment that starts at seg: dropped when empty
// or ".", dropped with the one before it when "..", else followed by a
// '/' when more follows. It returns where the next segment starts.
func (b *lazyBuf) endSegment(seg int, refuseClimb, more bool) (int, error) {
	switch n := b.w - seg; {
	case n == 0:
	case n == 1 && b.at(seg) == '.':
		b.w = seg
	case n == 2 && b.at(seg) == '.' && b.at(seg+1) == '.':
		b.w = seg
		if b.w > 1 {
			if refuseClimb {
				return 0, errClimb
			}
			b.w--
			for b.at(b.w-1) != '/' {
				b.w--
			}
		}
	default:
		if more {
			b.append('/')
		}
	}
	return b.w, nil
}

// lazyBuf builds a string that often equals s, or a prefix of it, copying
// only once the output differs from s (as path.Clean does).
type lazyBuf struct {
	s   string
	buf []byte
	w   int
}

func (b *lazyBuf) at(i int) byte {
	if b.buf != nil {
		return b.buf[i]
	}
	return b.s[i]
}

func (b *lazyBuf) append(c byte) {
	if b.buf == nil {
		if b.w < len(b.s) && b.s[b.w] == c {
			b.w++
			return
		}
		b.buf = make([]byte, b.w, len(b.s)+8)
		copy(b.buf, b.s[:b.w])
	}
	b.buf = append(b.buf[:b.w], c)
	b.w++
}

func (b *lazyBuf) appendEscape(c byte) {
	const hex = "0123456789ABCDEF"
	b.append('%')
	b.append(hex[c>>4])
	b.append(hex[c&15])
}

func (b *lazyBuf) String() string {
	if b.buf == nil {
		return b.s[:b.w]
	}
	return string(b.buf[:b.w])
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unreserved reports RFC 3986 §2.3's unreserved characters.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// needsEscape reports the printable ASCII bytes that are not URI
// characters (RFC 3986 §2) and that the normalised path holds encoded.
func needsEscape(c byte) bool {
	switch c {
	case '"', '<', '>', '^', '`', '{', '|', '}':
		return true
	}
	return false
}

// utf8Check follows the bytes of a path, decoded, and reports a sequence
// above 0x7F that is not valid UTF-8 (overlong forms, surrogates, stray
// continuation bytes, a sequence cut short).
type utf8Check struct {
	seq  [utf8.UTFMax]byte
	n    int
	want int
}

func (u *utf8Check) add(c byte) bool {
	if u.want == 0 {
		switch {
		case c < 0x80:
			return true
		case c >= 0xc2 && c <= 0xdf:
			u.want = 2
		case c >= 0xe0 && c <= 0xef:
			u.want = 3
		case c >= 0xf0 && c <= 0xf4:
			u.want = 4
		default:
			return false
		}
		u.seq[0], u.n = c, 1
		return true
	}
	if c < 0x80 {
		return false
	}
	u.seq[u.n] = c
	u.n++
	if u.n < u.want {
		return true
	}
	u.want = 0
	return utf8.Valid(u.seq[:u.n])
}

func (u *utf8Check) done() bool { return u.want == 0 }
