package bench

import (
	"errors"
	"net"
	"os"
)

// Error kinds of a Result.
const (
	errDial    = "dial"    // TCP connect to the proxy or server failed
	errConnect = "connect" // the proxy refused or mangled the CONNECT
	errTLS     = "tls"     // the handshake failed (including verification)
	errHTTP    = "http"    // writing the request or reading the response failed
	errStatus  = "status"  // the response was not 2xx
	errTimeout = "timeout" // a connection outlived Options.Timeout
)

// kindError is a failed request with the kind it is counted under.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.kind + ": " + e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// message is err's text without the kind it is counted under.
func message(err error) string {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.err.Error()
	}
	return err.Error()
}

// classify returns the kind err counts under: a timeout wherever it struck
// counts as one.
func classify(err error) string {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errTimeout
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return errHTTP
}
