package h2bridge

import "golang.org/x/net/http2"

// ConnError is a connection error (RFC 9113 §5.4.1): the side at fault has
// been sent GOAWAY with Code and Reason, the other side a GOAWAY too, and
// the caller flushes the output and closes both connections.
type ConnError struct {
	Side   string // "client" or "origin": who broke the protocol
	Code   http2.ErrCode
	Reason string
}

func (e *ConnError) Error() string {
	return "h2bridge: " + e.Side + ": " + e.Code.String() + ": " + e.Reason
}

// errClosed is what a bridge answers once Close has run.
var errClosed = &ConnError{Side: "edge", Code: http2.ErrCodeNo, Reason: "bridge closed"}

func (s *side) connError(code http2.ErrCode, reason string) error {
	return &ConnError{Side: s.name, Code: code, Reason: reason}
}
