package h2bridge

import (
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// requestHead is what checkRequest makes of a request's header block.
type requestHead struct {
	Request
	connect bool  // a plain CONNECT (§8.5)
	length  int64 // content-length, -1 when absent
}

// checkRequest checks a request header block against RFC 9113 §8.2 and
// §8.3 (and RFC 8441 for :protocol, allowed when the origin enabled it).
// The reason a request is malformed never quotes a field's value.
func checkRequest(fields []hpack.HeaderField, connectProtocol bool) (requestHead, string) {
	h := requestHead{length: -1}
	var host string
	var seen struct{ method, scheme, authority, path, protocol, host bool }
	regular := false
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			if regular {
				return h, "pseudo-header after a regular field"
			}
			var dst *string
			var dup *bool
			switch f.Name {
			case ":method":
				dst, dup = &h.Method, &seen.method
			case ":scheme":
				dst, dup = &h.Scheme, &seen.scheme
			case ":authority":
				dst, dup = &h.Authority, &seen.authority
			case ":path":
				dst, dup = &h.Path, &seen.path
			case ":protocol":
				if !connectProtocol {
					return h, "unknown pseudo-header"
				}
				dst, dup = &h.Protocol, &seen.protocol
			default:
				return h, "unknown pseudo-header"
			}
			if *dup {
				return h, "duplicate " + f.Name
			}
			*dup = true
			if !validPseudoValue(f.Name, f.Value) {
				return h, "invalid " + f.Name
			}
			*dst = f.Value
			continue
		}
		regular = true
		if reason := checkField(f); reason != "" {
			return h, reason
		}
		switch f.Name {
		case "host":
			if seen.host {
				return h, "duplicate host"
			}
			seen.host, host = true, f.Value
		case "content-length":
			var reason string
			if h.length, reason = contentLength(h.length, f.Value); reason != "" {
				return h, reason
			}
		}
	}
	if !seen.method {
		return h, "missing :method"
	}
	if seen.host && !validPseudoValue(":authority", host) {
		return h, "invalid host"
	}
	if seen.authority && seen.host && !strings.EqualFold(host, h.Authority) {
		return h, "host disagrees with :authority"
	}
	if h.Method == "CONNECT" && !seen.protocol {
		if seen.scheme || seen.path {
			return h, "CONNECT with :scheme or :path"
		}
		if h.Authority == "" {
			return h, "CONNECT without :authority"
		}
		h.connect = true
		return h, ""
	}
	if seen.protocol && h.Method != "CONNECT" {
		return h, ":protocol without CONNECT"
	}
	if !seen.scheme {
		return h, "missing :scheme"
	}
	if h.Path == "" {
		return h, "missing or empty :path"
	}
	if h.Path == "*" {
		if h.Method != "OPTIONS" {
			return h, "* as :path of a request other than OPTIONS"
		}
	} else if h.Path[0] != '/' {
		return h, ":path does not start with /"
	}
	if h.Authority == "" {
		// http and https have a mandatory authority (§8.3.1).
		if host == "" {
			return h, "neither :authority nor host"
		}
		h.Authority = host
	}
	if strings.Contains(h.Authority, "@") {
		return h, "userinfo in :authority"
	}
	if seen.protocol && h.Authority == "" {
		return h, "extended CONNECT without :authority"
	}
	return h, ""
}

// checkResponse checks a response header block (§8.3.2): its status and
// content-length, or why it is malformed.
func checkResponse(fields []hpack.HeaderField) (status int, length int64, reason string) {
	length = -1
	regular, seen := false, false
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			switch {
			case regular:
				return 0, 0, "pseudo-header after a regular field"
			case f.Name != ":status":
				return 0, 0, "unknown pseudo-header"
			case seen:
				return 0, 0, "duplicate :status"
			}
			seen = true
			if len(f.Value) != 3 {
				return 0, 0, "invalid :status"
			}
			n, err := strconv.Atoi(f.Value)
			if err != nil || n < 100 || n > 599 {
				return 0, 0, "invalid :status"
			}
			if n == 101 {
				return 0, 0, "101 Switching Protocols (§8.6)"
			}
			status = n
			continue
		}
		regular = true
		if reason = checkField(f); reason != "" {
			return 0, 0, reason
		}
		if f.Name == "content-length" {
			if length, reason = contentLength(length, f.Value); reason != "" {
				return 0, 0, reason
			}
		}
	}
	if !seen {
		return 0, 0, "missing :status"
	}
	return status, length, ""
}

// checkTrailers checks a trailer block (§8.1): regular fields only.
func checkTrailers(fields []hpack.HeaderField) string {
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			return "pseudo-header in trailers"
		}
		if reason := checkField(f); reason != "" {
			return reason
		}
	}
	return ""
}

// checkField checks a regular field (§8.2.1, §8.2.2).
func checkField(f hpack.HeaderField) string {
	if f.Name == "" {
		return "empty field name"
	}
	for i := 0; i < len(f.Name); i++ {
		c := f.Name[i]
		if 'A' <= c && c <= 'Z' {
			return "uppercase field name"
		}
		if !isTchar(c) {
			return "invalid field name"
		}
	}
	v := f.Value
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "control character in a field value"
		}
	}
	if v != "" && (isWhitespace(v[0]) || isWhitespace(v[len(v)-1])) {
		return "whitespace around a field value"
	}
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return "connection-specific field " + f.Name
	case "te":
		if v != "trailers" {
			return "te other than trailers"
		}
	}
	return ""
}

// contentLength parses a content-length field; a second one must agree
// with the first (RFC 9110 §8.6).
func contentLength(prev int64, v string) (int64, string) {
	if v == "" || len(v) > 18 {
		return prev, "invalid content-length"
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return prev, "invalid content-length"
		}
		n = n*10 + int64(v[i]-'0')
	}
	if prev >= 0 && prev != n {
		return prev, "conflicting content-length"
	}
	return n, ""
}

// validPseudoValue keeps request pseudo-headers to what a request line
// could carry: visible ASCII, and for :method and :protocol a token.
func validPseudoValue(name, v string) bool {
	if v == "" {
		return name == ":authority" || name == ":path"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f {
			return false
		}
		if (name == ":method" || name == ":protocol") && !isTchar(c) {
			return false
		}
		if name == ":scheme" && !isSchemeChar(c) {
			return false
		}
	}
	return true
}

func isWhitespace(c byte) bool { return c == ' ' || c == '\t' }

// isTchar is RFC 9110 §5.6.2's tchar.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isSchemeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}
