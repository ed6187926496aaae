package policy

import (
	"errors"
	"net/netip"
	"strings"
)

// Request is one HTTP request as policy judges it, whatever protocol it
// came in on (HTTP/1.1, an HTTP/2 stream, a plain http:// request). It is
// the request model later stages (content scanning, data-loss rules) grow
// from: what they need of a request is added here, not read from the wire.
type Request struct {
	Method string
	Scheme string // "https" or "http"
	// Host is the host the request names (Host, :authority or the
	// absolute-form target), normalised: ASCII lower case, no trailing
	// dot, an IP literal in its canonical form without brackets.
	Host string
	// Port is the port the request names, the scheme's when it names none.
	Port int
	// Path is the normalised path policy matches (NormalizePath), "*" for
	// OPTIONS *; Query is the raw query without '?', "" when absent.
	Path  string
	Query string
	// RawTarget is the request target exactly as sent, for the log.
	RawTarget string
}

// ErrBadRequest is wrapped by ParseRequest's errors: the request cannot be
// judged, so it is refused with 400.
var ErrBadRequest = errors.New("policy: request cannot be judged")

// badRequest is one reason ParseRequest gives; its values are constants,
// so refusing a request allocates nothing.
type badRequest string

func (e badRequest) Error() string { return ErrBadRequest.Error() + ": " + string(e) }
func (e badRequest) Unwrap() error { return ErrBadRequest }

// Why a request cannot be judged.
const (
	errNoHost          badRequest = "no host"
	errBadHost         badRequest = "the host is not a DNS name or an IP address"
	errUserinfo        badRequest = "user information in the authority"
	errBadPort         badRequest = "the port is not a number in 1-65535"
	errHostMismatch    badRequest = "the absolute-form target names another host than the Host field"
	errSchemeMismatch  badRequest = "the absolute-form target's scheme is not the connection's"
	errTargetForm      badRequest = "the target is not in origin or absolute form"
	errQueryByte       badRequest = "a control character, space or '#' in the query"
	errPathNotAbsolute badRequest = "the path does not start with '/'"
	errBadEscape       badRequest = "a '%' not followed by two hex digits"
	errEncodedNUL      badRequest = "an encoded NUL in the path"
	errControl         badRequest = "a control character in the path"
	errPathByte        badRequest = "a space, '\\', '?' or '#' in the path"
	errBadUTF8         badRequest = "bytes above 0x7F in the path that are not UTF-8 (overlong forms included)"
	errClimb           badRequest = "a \"..\" segment that removes a segment"
)

// ParseRequest builds the Request policy judges from what the client sent:
// authority is the Host field or :authority ("host[:port]", may be empty
// when target is absolute-form), target the request target in origin or
// absolute form (or "*" for OPTIONS), defaultPort the scheme's port.
//
// An absolute-form target ("https://host[:port]/path?q", RFC 9112 §3.2.2)
// names the host itself; it must have the connection's scheme, and it must
// agree with a non-empty authority, since an origin may read either. The
// path is normalised by NormalizePath, with one more refusal: a ".." that
// removes a segment ("/x/../admin", "/admin/%2e%2e/x", "/a/..;/b"). Clients
// resolve dot-segments before sending (RFC 3986 §5.2), so only hand-made
// requests hold one, and origins that route on the raw path (Node's
// routers, some gateways) serve the segment it climbs over while others
// serve the segment after it: the edge cannot tell which, so it refuses.
// A ".." at the root removes nothing and is dropped, as everywhere.
//
// On error the Request has no Path, and Judge blocks it.
func ParseRequest(method, scheme, authority, target string, defaultPort int) (Request, error) {
	r := Request{Method: method, Scheme: scheme, RawTarget: target}
	rest, named := target, ""
	switch {
	case target == "*" && method == "OPTIONS":
		rest = "" // RFC 9112 §3.2.4: the server as a whole, no path
	case strings.HasPrefix(target, "/"):
	default:
		var err error
		if named, rest, err = absoluteForm(scheme, target); err != nil {
			return r, err
		}
	}
	host, port, err := requestHost(authority, named, defaultPort)
	if err != nil {
		return r, err
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && strings.ContainsFunc(query, func(c rune) bool { return c <= ' ' || c == 0x7f || c == '#' }) {
		return r, errQueryByte
	}
	switch {
	case rest == "":
		path = "*"
	case path == "":
		path = "/" // "https://host?q" asks for the root (RFC 9112 §3.2.1)
	default:
		if path, err = normalizePath(path, true); err != nil {
			return r, err
		}
	}
	r.Host, r.Port, r.Path, r.Query = host, port, path, query
	return r, nil
}

// absoluteForm splits an absolute-form target into the authority it names
// and the rest (path and query), checking its scheme against the
// connection's.
func absoluteForm(scheme, target string) (authority, rest string, err error) {
	s, rest, ok := strings.Cut(target, "://")
	if !ok || !strings.EqualFold(s, "http") && !strings.EqualFold(s, "https") {
		return "", "", errTargetForm
	}
	if !strings.EqualFold(s, scheme) {
		return "", "", errSchemeMismatch
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return "", "", errNoHost
	}
	authority, rest = rest[:end], rest[end:]
	if rest == "" {
		rest = "/"
	}
	return authority, rest, nil
}

// requestHost reads the host and port a request names: the Host field's
// (authority), or the absolute-form target's (named), which must then
// agree with a Host field that is present.
func requestHost(authority, named string, defaultPort int) (string, int, error) {
	if named == "" {
		named, authority = authority, ""
	}
	if named == "" {
		return "", 0, errNoHost
	}
	host, port, err := parseAuthority(named, defaultPort)
	if err != nil || authority == "" {
		return host, port, err
	}
	h, p, err := parseAuthority(authority, defaultPort)
	if err != nil {
		return "", 0, err
	}
	if h != host || p != port {
		return "", 0, errHostMismatch
	}
	return host, port, nil
}

// parseAuthority reads "host[:port]" (RFC 3986 §3.2.2-3): a DNS name in
// any case with or without a trailing dot, an IPv4 address, or an IPv6
// address in brackets. It returns the host as Request.Host holds it and
// the port, defaultPort when absent or empty.
func parseAuthority(a string, defaultPort int) (string, int, error) {
	if strings.IndexByte(a, '@') >= 0 {
		return "", 0, errUserinfo
	}
	var host, port string
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", 0, errBadHost
		}
		host, port = a[1:end], a[end+1:]
		if port != "" && port[0] != ':' {
			return "", 0, errBadHost
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", 0, errBadHost // IPv4 in brackets, zones, IPvFuture
		}
		host = addr.Unmap().String()
	} else {
		colon := strings.IndexByte(a, ':')
		if colon >= 0 && strings.IndexByte(a[colon+1:], ':') >= 0 {
			return "", 0, errBadHost // an IPv6 address needs brackets
		}
		host = a
		if colon >= 0 {
			host, port = a[:colon], a[colon:]
		}
		var err error
		if host, err = normalizeHost(host); err != nil {
			return "", 0, err
		}
	}
	n, err := parsePort(strings.TrimPrefix(port, ":"))
	if n == 0 {
		n = defaultPort
	}
	return host, n, err
}

// normalizeHost checks a DNS name or IPv4 address and returns it in lower
// case without a trailing dot. A name whose last label starts with a digit
// is refused: no top-level domain does, and resolvers read such names
// ("0x7f000001", "127.1") as IPv4 addresses that IP rules would not see.
func normalizeHost(h string) (string, error) {
	if a, ok := parseIP(h); ok && a.Is4() {
		return h, nil
	}
	name, err := checkName(h)
	if err != nil {
		return "", errBadHost
	}
	if c := name[strings.LastIndexByte(name, '.')+1]; c >= '0' && c <= '9' {
		return "", errBadHost
	}
	return name, nil
}

// parsePort reads a port number; "" is no port (RFC 3986 §3.2.3).
func parsePort(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errBadPort
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return 0, errBadPort
		}
	}
	if n == 0 {
		return 0, errBadPort
	}
	return n, nil
}

// Stricter returns the stricter of two decisions: block over inspect over
// bypass. A connection's later names (the SNI, each request's host) can
// only make its decision stricter.
func Stricter(a, b Decision) Decision {
	if strictness(b.Action) > strictness(a.Action) {
		return b
	}
	return a
}

func strictness(a Action) int {
	switch a {
	case Block:
		return 2
	case Inspect:
		return 1
	}
	return 0
}
