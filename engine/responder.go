package engine

import (
	"strconv"

	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// responderBody is what `edge terminate` answers to every request.
const responderBody = "hello from lucid\n"

var (
	responseKeepAlive = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(responderBody)) + "\r\n\r\n" + responderBody)
	responseClose = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(responderBody)) + "\r\nConnection: close\r\n\r\n" + responderBody)
)

// spiller writes out a full output buffer and hands back an empty one.
type spiller interface{ spill(out []byte) []byte }

// responder answers HTTP/1.x requests arriving as decrypted bytes: every
// request gets 200 and a short body; the head is bounded, a body is
// skipped, a malformed request gets its 4xx/5xx and ends the connection.
type responder struct {
	buf      []byte // a request head that arrived in pieces
	bodyLeft int64  // bytes of a request body still to skip
}

// feed takes decrypted bytes and appends the responses, sealed, to out,
// passing out through spill between responses so a burst of pipelined
// requests is written out in bounded pieces. It reports whether the
// connection should end after them.
func (r *responder) feed(data []byte, tc *tlsmitm.Conn, out []byte, sink spiller) ([]byte, bool) {
	for len(data) > 0 {
		out = sink.spill(out)
		if r.bodyLeft > 0 {
			n := min(int64(len(data)), r.bodyLeft)
			r.bodyLeft -= n
			data = data[n:]
			continue
		}
		src := data
		if len(r.buf) > 0 {
			r.buf = append(r.buf, data...)
			src = r.buf
		}
		head, n, err := httphead.Parse(src)
		if err == httphead.ErrIncomplete {
			if len(r.buf) == 0 {
				r.buf = append(r.buf, data...)
			}
			return out, false
		}
		if err != nil {
			r.buf = nil
			return r.refuse(err, tc, out), true
		}
		httpRequests.Inc()
		// The rest of the input follows the head; with a buffered head, it
		// is what the buffer held past it.
		if len(r.buf) > 0 {
			data = append([]byte(nil), r.buf[n:]...)
			r.buf = r.buf[:0]
		} else {
			data = data[n:]
		}
		if head.Chunked {
			return r.refuse(&httphead.Error{Status: 501, Reason: "chunked request bodies are not supported here"}, tc, out), true
		}
		if head.ContentLength > 0 {
			r.bodyLeft = head.ContentLength
		}
		resp := responseKeepAlive
		if head.Close {
			resp = responseClose
		}
		out, _ = tc.Seal(out, resp)
		if head.Close {
			return out, true
		}
	}
	return out, false
}

func (r *responder) refuse(err error, tc *tlsmitm.Conn, out []byte) []byte {
	status, reason := 400, err.Error()
	if he, ok := err.(*httphead.Error); ok {
		status, reason = he.Status, he.Reason
	}
	body := reason + "\n"
	resp := "HTTP/1.1 " + strconv.Itoa(status) + " " + statusText(status) + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	out, _ = tc.Seal(out, []byte(resp))
	return out
}

func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}
