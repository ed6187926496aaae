package terminate

import (
	"strconv"

	"github.com/lucid-edge/lucid/engine"
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

// spiller writes out a full output buffer and hands back an empty one
// (engine.Conn.Spill).
type spiller interface{ Spill(out []byte) []byte }

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
		out = sink.Spill(out)
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
		engine.HTTPRequests.Inc()
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
	out, _ = tc.Seal(out, refusal(err))
	return out
}

// refusal is the answer to a request that failed with err.
func refusal(err error) []byte {
	status, reason := httphead.ErrorStatus(err)
	return httphead.ErrorResponse(status, reason)
}
