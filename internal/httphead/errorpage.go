package httphead

import (
	"errors"
	"strconv"
)

// ErrorResponse is the edge's own answer to a request it does not pass on
// (a refused CONNECT, a blocked URL, an origin it could not reach): the
// status, message as a one-line plain-text body, and Connection: close,
// since the edge ends the connection after it. Each of extra is a whole
// header line ending in CRLF (Proxy-Authenticate for a 407).
func ErrorResponse(status int, message string, extra ...string) []byte {
	body := message + "\n"
	b := make([]byte, 0, 128+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, StatusText(status)...)
	b = append(b, "\r\n"...)
	for _, h := range extra {
		b = append(b, h...)
	}
	b = append(b, "Content-Type: text/plain\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	return append(b, body...)
}

// ErrorStatus is the status and reason to answer a request with that
// failed to parse with err: an *Error's own, or 400 and err's text.
func ErrorStatus(err error) (int, string) {
	var he *Error
	if errors.As(err, &he) {
		return he.Status, he.Reason
	}
	return 400, err.Error()
}

// StatusText is the reason phrase of the statuses the edge answers with
// itself.
func StatusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}
