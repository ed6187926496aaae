// Package httphead parses and frames HTTP/1.x (RFC 9112) as an inspecting
// proxy must: strictly, so that no message can be read two ways. Parse
// reads a request head; RequestFramer and ResponseFramer follow a whole
// stream of requests or responses, bodies included, fed in arbitrary
// pieces. Nothing here touches a socket, and bad input gets a precise
// *Error, never an unbounded buffer.
package httphead

import (
	"bytes"
	"errors"
)

// MaxHead bounds a request head; a longer one is refused with 431.
const MaxHead = 16 << 10

// MaxFields bounds the header fields of a head (and of a chunked body's
// trailers).
const MaxFields = 100

// Head is a parsed request head. Its byte slices alias the input.
type Head struct {
	Method, Target []byte
	// Minor is the minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
	Minor int
	// Host is the Host field's value; nil when absent (HTTP/1.0 only).
	Host []byte
	// Close is true when the client asked for the connection to end after
	// this response (Connection: close, or HTTP/1.0 without keep-alive).
	Close bool
	// ContentLength is the body length, -1 when absent.
	ContentLength int64
	// Chunked is true when the body is chunked (Transfer-Encoding ending
	// in chunked).
	Chunked bool
	// Upgrade is true when an HTTP/1.1 request asks to switch protocols
	// (an Upgrade field, RFC 9110 §7.8); only then may a 101 answer it.
	Upgrade bool
	// UpgradeUnjudged is true when an Upgrade field names a protocol other
	// than websocket (in any HTTP version). After a 101 the edge relays
	// the connection unparsed, which is right only for a protocol it need
	// not judge request by request: WebSocket (RFC 6455). An upgrade to
	// h2c (deprecated, RFC 9113 §3.1) would carry HTTP requests no one
	// judges, and another protocol is one the edge cannot inspect; such a
	// request is refused (ErrUpgradeUnjudged).
	UpgradeUnjudged bool
	// Expect100 is true for Expect: 100-continue: the client may hold its
	// body back until an interim 100 (RFC 9110 §10.1.1).
	Expect100 bool
	// ProxyAuthorization is the Proxy-Authorization value, nil when absent.
	ProxyAuthorization []byte
}

// Errors carry the status a server should answer with.
var (
	ErrIncomplete     = errors.New("httphead: incomplete head")
	ErrTooLarge       = &Error{Status: 431, Reason: "request head larger than 16 KiB"}
	errTooManyFields  = &Error{Status: 431, Reason: "more than 100 header fields"}
	errBadLine        = &Error{Status: 400, Reason: "malformed request line"}
	errBadVersion     = &Error{Status: 505, Reason: "HTTP version not supported"}
	errBareLF         = &Error{Status: 400, Reason: "line ended by a bare LF (RFC 9112 §2.2)"}
	errObsFold        = &Error{Status: 400, Reason: "obsolete line folding (RFC 9112 §5.2)"}
	errBadHeader      = &Error{Status: 400, Reason: "malformed header field"}
	errFieldName      = &Error{Status: 400, Reason: "forbidden byte in a header field name"}
	errFieldValue     = &Error{Status: 400, Reason: "forbidden byte in a header field value"}
	errSpaceColon     = &Error{Status: 400, Reason: "whitespace before a header field's colon (RFC 9112 §5.1)"}
	errBadLength      = &Error{Status: 400, Reason: "invalid Content-Length"}
	errBothLengths    = &Error{Status: 400, Reason: "both Content-Length and Transfer-Encoding"}
	errBadCoding      = &Error{Status: 400, Reason: "Transfer-Encoding does not end in chunked, once (RFC 9112 §6.1)"}
	errCoding10       = &Error{Status: 400, Reason: "Transfer-Encoding in an HTTP/1.0 request"}
	errNoHost         = &Error{Status: 400, Reason: "HTTP/1.1 request without Host (RFC 9112 §3.2)"}
	errTwoHosts       = &Error{Status: 400, Reason: "more than one Host field"}
	errTwoAuths       = &Error{Status: 400, Reason: "more than one Proxy-Authorization field"}
	errLeadingNewline = &Error{Status: 400, Reason: "empty line before the request line"}
)

// ErrUpgradeUnjudged refuses a request whose Head.UpgradeUnjudged is set.
var ErrUpgradeUnjudged = &Error{Status: 400, Reason: "an Upgrade to a protocol other than websocket (h2c and others cannot be inspected)"}

// Error is a request the server must refuse, with the status to answer.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "httphead: " + e.Reason }

// Parse parses the head at the start of b. It returns the number of bytes
// the head occupies, or ErrIncomplete when b holds no complete head yet
// (ErrTooLarge once b passes MaxHead without one). A line ended by a bare
// LF is refused as soon as it is seen.
func Parse(b []byte) (Head, int, error) {
	h := Head{ContentLength: -1}
	end, _, err := scanHead(b[:min(len(b), MaxHead)], 0)
	switch {
	case err != nil:
		return h, 0, err
	case end == 0 && len(b) >= MaxHead:
		return h, 0, ErrTooLarge
	case end == 0:
		return h, 0, ErrIncomplete
	}
	if err := h.parse(b[:end]); err != nil {
		return Head{ContentLength: -1}, 0, err
	}
	return h, end, nil
}

// scanHead looks for the empty line that ends a head, from the line that
// starts at from. It returns the head's length, or 0 and the start of the
// unfinished line to resume from.
func scanHead(b []byte, from int) (end, resume int, err error) {
	for line := from; ; {
		i := bytes.IndexByte(b[line:], '\n')
		if i < 0 {
			return 0, line, nil
		}
		lf := line + i
		if lf == 0 || b[lf-1] != '\r' {
			return 0, 0, errBareLF
		}
		if lf-line == 1 {
			return lf + 1, 0, nil
		}
		line = lf + 1
	}
}

// parse reads a whole head, from the request line to the empty line.
func (h *Head) parse(head []byte) error {
	nl := bytes.IndexByte(head, '\n')
	if nl == 1 {
		return errLeadingNewline
	}
	if err := h.parseRequestLine(head[:nl-1]); err != nil {
		return err
	}
	var (
		keepAlive, upgrade, hostSeen, lengthSeen bool
		coding                                   codingList
	)
	fl := fieldLines{rest: head[nl+1 : len(head)-2]}
	for {
		name, value, ok, err := fl.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			if hostSeen {
				return errTwoHosts
			}
			hostSeen, h.Host = true, value
		case bytes.EqualFold(name, []byte("Connection")):
			h.Close = h.Close || hasToken(value, "close")
			keepAlive = keepAlive || hasToken(value, "keep-alive")
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (lengthSeen && h.ContentLength != n) {
				return errBadLength
			}
			lengthSeen, h.ContentLength = true, n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !coding.add(value) {
				return errBadCoding
			}
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = true
			h.UpgradeUnjudged = h.UpgradeUnjudged || !onlyToken(value, "websocket")
		case bytes.EqualFold(name, []byte("Expect")):
			h.Expect100 = bytes.EqualFold(value, []byte("100-continue"))
		case bytes.EqualFold(name, []byte("Proxy-Authorization")):
			// Two credentials leave it to chance which one a hop checks.
			if h.ProxyAuthorization != nil {
				return errTwoAuths
			}
			h.ProxyAuthorization = value
		}
	}
	if coding.seen {
		switch {
		case lengthSeen:
			// RFC 9112 §6.1: the request smuggling vector; refused outright.
			return errBothLengths
		case h.Minor == 0:
			// RFC 9112 §6.1: HTTP/1.0 has no chunked coding to frame by.
			return errCoding10
		case !coding.chunkedLast():
			return errBadCoding
		}
		h.Chunked = true
	}
	if h.Minor == 1 && !hostSeen {
		return errNoHost
	}
	if h.Minor == 0 && !keepAlive {
		h.Close = true
	}
	// RFC 9110 §7.8: an Upgrade in HTTP/1.0 is ignored.
	h.Upgrade = upgrade && h.Minor == 1
	return nil
}

// parseRequestLine reads method SP request-target SP HTTP-version, with
// single spaces (RFC 9112 §3).
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
		if !isTchar(c) {
			return errBadLine
		}
	}
	for _, c := range h.Target {
		if c <= ' ' || c >= 0x7f {
			return errBadLine
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		h.Minor = 1
	case "HTTP/1.0":
		h.Minor = 0
	default:
		if isHTTPVersion(version) {
			return errBadVersion
		}
		return errBadLine
	}
	return nil
}

// isHTTPVersion reports whether v reads "HTTP/" DIGIT "." DIGIT.
func isHTTPVersion(v []byte) bool {
	return len(v) == 8 && bytes.HasPrefix(v, []byte("HTTP/")) && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseLength reads a Content-Length value: digits only, so a list
// ("5, 6", even "5, 5") is refused.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated field value holds token,
// compared without regard to case.
// onlyToken reports whether every element of the list v is token, in any
// case; an empty list is not.
func onlyToken(v []byte, token string) bool {
	seen := false
	for len(v) > 0 {
		t := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		t = bytes.Trim(t, " \t")
		if len(t) == 0 {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		if !bytes.EqualFold(t, []byte(token)) {
			return false
		}
		seen = true
	}
	return seen
}

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
