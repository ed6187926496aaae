// Package httphead parses the head of an HTTP/1.x request (RFC 9112 §2-§6):
// the request line and the few header fields a proxy or a test responder
// must act on. It reads bytes straight from the network, allocates nothing
// and never reads past the blank line that ends the head.
package httphead

import (
	"bytes"
	"errors"
)

// MaxHead bounds a request head; a longer one is refused with 431.
const MaxHead = 16 << 10

// Head is a parsed request head. Its byte slices alias the input.
type Head struct {
	Method, Target []byte
	// Minor is the minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
	Minor int
	Host  []byte
	// Close is true when the client asked for the connection to end after
	// this response (Connection: close, or HTTP/1.0 without keep-alive).
	Close bool
	// ContentLength is the body length, -1 when absent.
	ContentLength int64
	Chunked       bool
	// ProxyAuthorization is the Proxy-Authorization value, nil when absent.
	ProxyAuthorization []byte
}

// Errors carry the status a server should answer with.
var (
	ErrIncomplete  = errors.New("httphead: incomplete head")
	ErrTooLarge    = &Error{Status: 431, Reason: "request head larger than 16 KiB"}
	errBadLine     = &Error{Status: 400, Reason: "malformed request line"}
	errBadVersion  = &Error{Status: 505, Reason: "HTTP version not supported"}
	errBadHeader   = &Error{Status: 400, Reason: "malformed header field"}
	errBadLength   = &Error{Status: 400, Reason: "invalid Content-Length"}
	errBothLengths = &Error{Status: 400, Reason: "both Content-Length and Transfer-Encoding"}
	errTwoAuths    = &Error{Status: 400, Reason: "more than one Proxy-Authorization field"}
)

// Error is a request the server must refuse, with the status to answer.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "httphead: " + e.Reason }

// Parse parses the head at the start of b. It returns the number of bytes
// the head occupies, or ErrIncomplete when b holds no complete head yet
// (ErrTooLarge once b passes MaxHead without one).
func Parse(b []byte) (Head, int, error) {
	h := Head{ContentLength: -1}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= MaxHead {
			return h, 0, ErrTooLarge
		}
		return h, 0, ErrIncomplete
	}
	if end+4 > MaxHead {
		return h, 0, ErrTooLarge
	}
	head := b[:end+2]
	nl := bytes.Index(head, []byte("\r\n"))
	if err := h.parseRequestLine(head[:nl]); err != nil {
		return h, 0, err
	}
	keepAlive := false
	for rest := head[nl+2:]; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\r\n"))
		line := rest[:i]
		rest = rest[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			// RFC 9112 §5.1: no whitespace between a field name and colon.
			return h, 0, errBadHeader
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			h.Host = value
		case bytes.EqualFold(name, []byte("Connection")):
			if hasToken(value, "close") {
				h.Close = true
			}
			if hasToken(value, "keep-alive") {
				keepAlive = true
			}
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (h.ContentLength >= 0 && h.ContentLength != n) {
				return h, 0, errBadLength
			}
			h.ContentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.Chunked = true // RFC 9112 §6.1: any coding here ends in chunked or is an error
		case bytes.EqualFold(name, []byte("Proxy-Authorization")):
			// Two credentials leave it to chance which one a hop checks.
			if h.ProxyAuthorization != nil {
				return h, 0, errTwoAuths
			}
			h.ProxyAuthorization = value
		}
	}
	if h.Chunked && h.ContentLength >= 0 {
		// RFC 9112 §6.1: a request smuggling vector; refuse it outright.
		return h, 0, errBothLengths
	}
	if h.Minor == 0 && !keepAlive {
		h.Close = true
	}
	return h, end + 4, nil
}

func (h *Head) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadLine
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return errBadLine
	}
	h.Method, h.Target = line[:sp1], line[sp1+1:sp1+1+sp2]
	version := line[sp1+2+sp2:]
	for _, c := range h.Method {
		if c < '!' || c > '~' {
			return errBadLine
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		h.Minor = 1
	case "HTTP/1.0":
		h.Minor = 0
	default:
		if bytes.HasPrefix(version, []byte("HTTP/")) {
			return errBadVersion
		}
		return errBadLine
	}
	return nil
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated field value holds token,
// compared without regard to case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var t []byte
		if i < 0 {
			t, v = v, nil
		} else {
			t, v = v[:i], v[i+1:]
		}
		if bytes.EqualFold(bytes.Trim(t, " \t"), []byte(token)) {
			return true
		}
	}
	return false
}
