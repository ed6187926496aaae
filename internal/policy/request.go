package policy

import (
	"errors"
	"strconv"
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
	// dot, an IPv6 literal without brackets.
	Host string
	Port int
	// Path is the normalised path policy matches (NormalizePath); Query is
	// the raw query without '?', "" when absent.
	Path  string
	Query string
	// RawTarget is the request target exactly as sent, for the log.
	RawTarget string
}

// ErrBadRequest is wrapped by ParseRequest's errors: the request cannot be
// judged, so it is refused with 400.
var ErrBadRequest = errors.New("policy: request cannot be judged")

// ParseRequest builds the Request policy judges from what the client sent:
// authority is the Host field or :authority ("host[:port]", may be empty
// when target is absolute-form), target the request target in origin or
// absolute form, defaultPort the scheme's port.
func ParseRequest(method, scheme, authority, target string, defaultPort int) (Request, error) {
	r := Request{Method: method, Scheme: scheme, RawTarget: target, Port: defaultPort}
	host, port, ok := strings.Cut(authority, ":")
	if ok {
		n, err := strconv.Atoi(port)
		if err != nil {
			return r, ErrBadRequest
		}
		r.Port = n
	}
	r.Host = strings.TrimSuffix(strings.ToLower(host), ".")
	r.Path, r.Query, _ = strings.Cut(target, "?")
	return r, nil
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

// Judge decides one request inside a connection policy let through: the
// request's host and port under the org's host rules, then its URL rules.
func (p *Policy) Judge(org string, r *Request) Decision {
	return p.Decide(org, r.Host, r.Port)
}
