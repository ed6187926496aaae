package httphead

import (
	"bytes"
	"encoding/base64"
	"net/netip"
)

// ProxyRequest is a request to a forward proxy: a CONNECT tunnel
// (authority-form, RFC 9110 §9.3.6) or a plain-HTTP request in absolute
// form (RFC 9112 §3.2.2). Its byte slices alias the input, like Head's;
// copy what must outlive the buffer.
type ProxyRequest struct {
	Head Head
	// Method is Head.Method: CONNECT, or the method to relay.
	Method []byte
	// Connect is true for a CONNECT tunnel.
	Connect bool
	// Host is the target: a DNS name as the client wrote it (case kept,
	// a trailing dot removed), a dotted-quad IPv4 literal, or an IPv6
	// literal without its brackets.
	Host []byte
	Port int
	// Path and Query are the absolute-form target's path ("/" when the URI
	// has none) and query (without '?', nil when absent); both are nil for
	// CONNECT. AppendTarget joins them into the origin-form target.
	Path, Query []byte
	// ProxyAuthorization is the raw Proxy-Authorization value, nil when
	// absent. It is a credential: never log it.
	ProxyAuthorization []byte
}

// Refusals of proxy requests. A request line in origin or asterisk form is
// addressed to the proxy itself, which serves no resources: 405, and the
// response should carry "Allow: CONNECT" (RFC 9110 §15.5.6).
var (
	errNotProxy      = &Error{Status: 405, Reason: "a proxy takes CONNECT host:port or an absolute http:// URI"}
	errConnectTarget = &Error{Status: 400, Reason: "CONNECT needs host:port"}
	errAuthorityForm = &Error{Status: 400, Reason: "host:port target without CONNECT"}
	errScheme        = &Error{Status: 400, Reason: "only http:// URIs are relayed; use CONNECT for https"}
	errUserinfo      = &Error{Status: 400, Reason: "credentials in the request URI"}
	errFragment      = &Error{Status: 400, Reason: "fragment in the request URI"}
	errBadHost       = &Error{Status: 400, Reason: "invalid host in the request target"}
	errBadPort       = &Error{Status: 400, Reason: "invalid port in the request target"}
)

var (
	methodConnect = []byte("CONNECT")
	schemeHTTP    = []byte("http://")
)

// ParseProxyRequest parses the request head at the start of b as a request
// to a forward proxy. Besides Parse's results and errors it refuses, with
// the status to answer, targets a proxy cannot act on: 405 for origin- and
// asterisk-form, 400 for a malformed host or port, another scheme than
// http, userinfo, or a CONNECT without authority-form.
func ParseProxyRequest(b []byte) (ProxyRequest, int, error) {
	h, n, err := Parse(b)
	if err != nil {
		return ProxyRequest{}, 0, err
	}
	r := ProxyRequest{Head: h, Method: h.Method, ProxyAuthorization: h.ProxyAuthorization}
	t := h.Target
	isConnect := bytes.Equal(h.Method, methodConnect)
	switch {
	case isConnect:
		r.Connect = true
		err = r.parseAuthority(t)
	case len(t) > 0 && (t[0] == '/' || string(t) == "*"):
		err = errNotProxy
	case bytes.Contains(t, []byte("://")):
		err = r.parseAbsolute(t)
	default:
		err = errAuthorityForm
	}
	if err != nil {
		return ProxyRequest{}, 0, err
	}
	return r, n, nil
}

// parseAuthority reads CONNECT's authority-form target: host ":" port,
// the port required (RFC 9112 §3.2.3).
func (r *ProxyRequest) parseAuthority(t []byte) error {
	host, port, ok := splitHostPort(t)
	if !ok || port == nil {
		return errConnectTarget
	}
	return r.setHostPort(host, port, 0)
}

// parseAbsolute reads "http://" authority path-abempty ["?" query].
func (r *ProxyRequest) parseAbsolute(t []byte) error {
	scheme, authority, rest, err := SplitAbsolute(t)
	if err != nil {
		return err
	}
	if !bytes.EqualFold(scheme, schemeHTTP[:4]) {
		return errScheme
	}
	host, port, ok := splitHostPort(authority)
	if !ok {
		return errBadHost
	}
	if err := r.setHostPort(host, port, 80); err != nil {
		return err
	}
	r.Path = rest
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		r.Path, r.Query = rest[:q], rest[q+1:]
	}
	return nil
}

// SplitAbsolute splits an absolute-form target (RFC 9112 §3.2.2),
// scheme "://" authority [path] ["?" query], into its scheme, its
// authority and the origin-form target it stands for ("/" when the path
// is empty). It refuses userinfo (RFC 9110 §4.2.4) and fragments.
func SplitAbsolute(t []byte) (scheme, authority, originForm []byte, err error) {
	sep := bytes.Index(t, []byte("://"))
	if sep <= 0 {
		return nil, nil, nil, errScheme
	}
	scheme, t = t[:sep], t[sep+3:]
	if bytes.IndexByte(t, '#') >= 0 {
		return nil, nil, nil, errFragment
	}
	end := bytes.IndexAny(t, "/?")
	if end < 0 {
		end = len(t)
	}
	authority, originForm = t[:end], t[end:]
	if bytes.IndexByte(authority, '@') >= 0 {
		return nil, nil, nil, errUserinfo
	}
	if len(originForm) == 0 || originForm[0] == '?' {
		// "http://h?q" is "/?q" at the origin.
		originForm = append(append(make([]byte, 0, len(originForm)+1), '/'), originForm...)
	}
	return scheme, authority, originForm, nil
}

// ParseAuthority reads host [":" port] from a Host field or a target's
// authority, with the checks ParseProxyRequest makes on its targets; an
// absent or empty port is def. host is returned as validHost leaves it
// (no brackets, no trailing dot).
func ParseAuthority(a []byte, def int) (host []byte, port int, err error) {
	h, p, ok := splitHostPort(a)
	if !ok {
		return nil, 0, errBadHost
	}
	var r ProxyRequest
	if err := r.setHostPort(h, p, def); err != nil {
		return nil, 0, err
	}
	return r.Host, r.Port, nil
}

// AppendTarget appends the origin-form target (path and query) that a
// relayed absolute-form request is forwarded with.
func (r *ProxyRequest) AppendTarget(dst []byte) []byte {
	dst = append(dst, r.Path...)
	if r.Query != nil {
		dst = append(dst, '?')
		dst = append(dst, r.Query...)
	}
	return dst
}

// splitHostPort splits an authority into host and port; port is nil when
// absent. An IPv6 literal keeps its brackets here.
func splitHostPort(a []byte) (host, port []byte, ok bool) {
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 {
			return nil, nil, false
		}
		host, a = a[:end+1], a[end+1:]
		if len(a) == 0 {
			return host, nil, true
		}
		if a[0] != ':' {
			return nil, nil, false
		}
		return host, a[1:], true
	}
	i := bytes.IndexByte(a, ':')
	if i < 0 {
		return a, nil, true
	}
	return a[:i], a[i+1:], true
}

// setHostPort validates and stores host and port; an absent or empty port
// takes def, and def 0 means a port is required.
func (r *ProxyRequest) setHostPort(host, port []byte, def int) error {
	switch {
	case len(port) > 0:
		p, ok := parsePort(port)
		if !ok {
			return errBadPort
		}
		r.Port = p
	case def == 0:
		return errBadPort
	default:
		r.Port = def
	}
	h, ok := validHost(host)
	if !ok {
		return errBadHost
	}
	r.Host = h
	return nil
}

func parsePort(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 1 && n <= 65535
}

// validHost checks a host from a request target and returns it without
// IPv6 brackets or a trailing dot. Names are LDH labels (plus '_', which
// real names carry) of at most 63 bytes, 253 in all. A name whose last
// label is numeric must be a dotted-quad IPv4 address: resolvers read
// "127.1" or "0x7f.1" as addresses, and policy must see the same address
// the dialer will reach.
func validHost(h []byte) ([]byte, bool) {
	if len(h) > 0 && h[0] == '[' {
		if len(h) < 2 || h[len(h)-1] != ']' {
			return nil, false
		}
		inner := h[1 : len(h)-1]
		if bytes.IndexByte(inner, '%') >= 0 {
			return nil, false // zones name the proxy's own interfaces
		}
		a, err := netip.ParseAddr(string(inner))
		return inner, err == nil && a.Is6()
	}
	if len(h) > 1 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	if len(h) == 0 || len(h) > 253 {
		return nil, false
	}
	label := 0
	for _, c := range h {
		switch {
		case c == '.':
			if label == 0 {
				return nil, false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return nil, false
		}
		label++
		if label > 63 {
			return nil, false
		}
	}
	if label == 0 {
		return nil, false
	}
	if numericLabel(h[bytes.LastIndexByte(h, '.')+1:]) {
		return h, isDottedQuad(h)
	}
	return h, true
}

// numericLabel reports whether a label reads as a number to an IPv4
// parser in the inet_aton tradition (decimal, octal or 0x hex).
func numericLabel(l []byte) bool {
	if len(l) > 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		l = l[2:]
		for _, c := range l {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	for _, c := range l {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isDottedQuad reports whether h is four decimal octets without leading
// zeros, the only IPv4 form accepted.
func isDottedQuad(h []byte) bool {
	parts := 0
	for len(h) > 0 {
		i := bytes.IndexByte(h, '.')
		var p []byte
		if i < 0 {
			p, h = h, nil
		} else {
			p, h = h[:i], h[i+1:]
		}
		if len(p) == 0 || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return false
		}
		parts++
	}
	return parts == 4
}

// maxBasicAuth bounds the base64 credentials ParseBasicAuth decodes.
const maxBasicAuth = 1024

// ParseBasicAuth reads a Proxy-Authorization (or Authorization) value in
// the Basic scheme (RFC 7617): "Basic " base64(user ":" pass). It refuses
// credentials with control characters and ones longer than 1 KiB encoded.
func ParseBasicAuth(v []byte) (user, pass string, ok bool) {
	const scheme = "Basic"
	if len(v) <= len(scheme) || !bytes.EqualFold(v[:len(scheme)], []byte(scheme)) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return "", "", false
	}
	enc := bytes.Trim(v[len(scheme):], " \t")
	if len(enc) == 0 || len(enc) > maxBasicAuth {
		return "", "", false
	}
	var buf [maxBasicAuth * 3 / 4]byte
	defer clear(buf[:]) // the password is not left on the stack
	n, err := base64.StdEncoding.Decode(buf[:], enc)
	if err != nil {
		return "", "", false
	}
	dec := buf[:n]
	colon := bytes.IndexByte(dec, ':')
	if colon < 0 {
		return "", "", false
	}
	for _, c := range dec {
		if c < ' ' || c == 0x7f {
			return "", "", false
		}
	}
	s := string(dec) // one allocation for both halves
	return s[:colon], s[colon+1:], true
}
