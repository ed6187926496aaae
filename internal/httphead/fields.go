package httphead

import (
	"bytes"
	"strings"
)

// fieldLines walks a head's field lines (each ending in CRLF, the empty
// line that ends the head left off) and refuses what RFC 9112 §5 does not
// allow, so that no two readers can see different fields: obs-fold, a
// name that is not a token, whitespace before the colon, and CR, LF, NUL
// or another control byte in a value.
type fieldLines struct {
	rest  []byte
	count int
	max   int // the most fields allowed; 0 means MaxFields
}

func (f *fieldLines) next() (name, value []byte, ok bool, err error) {
	if len(f.rest) == 0 {
		return nil, nil, false, nil
	}
	limit := f.max
	if limit == 0 {
		limit = MaxFields
	}
	if f.count++; f.count > limit {
		return nil, nil, false, errTooManyFields
	}
	i := bytes.IndexByte(f.rest, '\n')
	line := f.rest[:i-1]
	f.rest = f.rest[i+1:]
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, false, errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, nil, false, errBadHeader
	}
	name = line[:colon]
	if len(name) == 0 {
		return nil, nil, false, errFieldName
	}
	for _, c := range name {
		if !isTchar(c) {
			if c == ' ' || c == '\t' {
				return nil, nil, false, errSpaceColon
			}
			return nil, nil, false, errFieldName
		}
	}
	value = bytes.Trim(line[colon+1:], " \t")
	if value == nil {
		value = line[colon+1 : colon+1] // empty, but present: Host is told from no Host
	}
	for _, c := range value {
		if !isFieldByte(c) {
			return nil, nil, false, errFieldValue
		}
	}
	return name, value, true, nil
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isFieldByte reports whether c may appear in a field value: visible
// ASCII, SP, HTAB and obs-text (RFC 9110 §5.5); never a control byte.
func isFieldByte(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) }

// codingList gathers the transfer codings of every Transfer-Encoding
// field, in order (RFC 9112 §6.1).
type codingList struct {
	seen    bool
	chunked int  // how many times chunked was named
	last    bool // the last coding so far is chunked
}

// add takes one field value; false when it is not a list of tokens
// (empty elements included: a reader that skips them and one that does
// not would disagree about which coding comes last).
func (l *codingList) add(v []byte) bool {
	l.seen = true
	for {
		i := bytes.IndexByte(v, ',')
		t := v
		if i >= 0 {
			t = v[:i]
		}
		t = bytes.Trim(t, " \t")
		if len(t) == 0 {
			return false
		}
		for _, c := range t {
			if !isTchar(c) {
				return false
			}
		}
		l.last = bytes.EqualFold(t, []byte("chunked"))
		if l.last {
			l.chunked++
		}
		if i < 0 {
			return true
		}
		v = v[i+1:]
	}
}

// chunkedLast reports whether chunked is the final coding, applied once.
func (l *codingList) chunkedLast() bool { return l.last && l.chunked == 1 }
