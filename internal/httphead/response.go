package httphead

import (
	"bytes"
	"errors"
)

// ResponseFramer frames an origin's responses (RFC 9112 §6.3) against the
// requests forwarded to it, which the caller reports in order (Sent): 1xx
// interim answers complete nothing, except a 101 to a request that asked
// to upgrade; HEAD, 204 and 304 answers carry no body; otherwise
// Content-Length or chunked coding frame the body, and a body with
// neither runs to the connection's end. A response that answers no
// request, a 101 nobody asked for, or a malformed one is a response desync
// (ErrDesync wrapped): the caller ends the connection.
type ResponseFramer struct {
	hb     headBuffer
	sent   []SentRequest // forwarded requests not yet answered, oldest first
	state  respState
	left   int64
	chunk  chunkReader
	status int
	size   int64
	err    error
}

// SentRequest is what the framer needs of a forwarded request.
type SentRequest struct {
	Head    bool // method HEAD: the answer has no body
	Connect bool // method CONNECT: a 2xx answer turns the stream into a tunnel
	Upgrade bool // it asked to switch protocols: only then may a 101 answer it
}

type respState uint8

const (
	respHead respState = iota
	respBody
	respChunked
	respSwitch // announce EventSwitch, then opaque
	respOpaque
)

// ResponseEvent is what ResponseFramer.Next found.
type ResponseEvent struct {
	Kind EventKind
	// Status is the status of EventHead (1xx included), EventEnd and
	// EventSwitch.
	Status int
	// Size is a final response's bytes, head and body (EventEnd), or as
	// far as it is framed (EventSwitch); interim answers are not counted.
	Size int64
	// Bytes is the head (EventHead) or body bytes (EventBody), valid until
	// the next call to Next.
	Bytes []byte
}

// maxResponseHead and maxResponseFields bound a response head.
const (
	maxResponseHead   = 64 << 10
	maxResponseFields = 1000
)

// ErrDesync is wrapped by every error of a ResponseFramer.
var ErrDesync = errors.New("httphead: response desync")

var errResponseTooLarge = &Error{Status: 502, Reason: "response head larger than 64 KiB"}

// desyncError is a response the framer cannot pair with a request.
type desyncError struct{ reason string }

func (e *desyncError) Error() string { return "httphead: response desync: " + e.reason }
func (e *desyncError) Unwrap() error { return ErrDesync }

// Sent tells the framer of the next request forwarded to the origin.
func (f *ResponseFramer) Sent(r SentRequest) { f.sent = append(f.sent, r) }

// Outstanding is how many forwarded requests wait for their final answer.
func (f *ResponseFramer) Outstanding() int { return len(f.sent) }

// Next frames what it can of data: it returns the next event and how many
// bytes of data it used. Call it again with the rest until EventNeedMore.
func (f *ResponseFramer) Next(data []byte) (ResponseEvent, int, error) {
	if f.err != nil {
		return ResponseEvent{}, 0, f.err
	}
	switch f.state {
	case respOpaque:
		if len(data) == 0 {
			return ResponseEvent{}, 0, nil
		}
		return ResponseEvent{Kind: EventBody, Bytes: data}, len(data), nil
	case respSwitch:
		f.state = respOpaque
		return ResponseEvent{Kind: EventSwitch, Status: f.status, Size: f.size}, 0, nil
	case respBody:
		if f.left == 0 {
			return f.finish(), 0, nil
		}
		if len(data) == 0 {
			return ResponseEvent{}, 0, nil
		}
		n := int(min(int64(len(data)), f.left))
		f.left -= int64(n)
		f.size += int64(n)
		return ResponseEvent{Kind: EventBody, Bytes: data[:n]}, n, nil
	case respChunked:
		if f.chunk.done() {
			return f.finish(), 0, nil
		}
		if len(data) == 0 {
			return ResponseEvent{}, 0, nil
		}
		n, err := f.chunk.feed(data)
		if err != nil {
			return f.fail(&desyncError{"malformed chunked body"})
		}
		f.size += int64(n)
		return ResponseEvent{Kind: EventBody, Bytes: data[:n]}, n, nil
	}
	if len(data) == 0 {
		return ResponseEvent{}, 0, nil
	}
	if len(f.sent) == 0 {
		return f.fail(&desyncError{"bytes from the origin with no request outstanding"})
	}
	head, used, err := f.hb.take(data, maxResponseHead, errResponseTooLarge)
	if err != nil {
		return f.fail(&desyncError{err.(*Error).Reason})
	}
	if head == nil {
		return ResponseEvent{}, used, nil
	}
	status, length, chunked, err := parseResponseHead(head)
	if err != nil {
		return f.fail(err)
	}
	if err := f.frame(status, length, chunked); err != nil {
		return f.fail(err)
	}
	if f.status != 0 {
		f.size = int64(len(head))
	}
	return ResponseEvent{Kind: EventHead, Status: status, Bytes: head}, used, nil
}

// frame sets how the body of a response with this head is delimited
// (RFC 9112 §6.3), against the request it answers.
func (f *ResponseFramer) frame(status int, length int64, chunked bool) error {
	req := f.sent[0]
	f.status = status
	switch {
	case status == 101:
		if !req.Upgrade {
			return &desyncError{"101 to a request that asked no upgrade"}
		}
		f.state = respSwitch
	case status < 200:
		f.status = 0 // an interim answer; the final one follows
		return nil
	case req.Connect && status < 300:
		f.state = respSwitch
	case req.Head || status == 204 || status == 304:
		f.state, f.left = respBody, 0
	case chunked:
		f.state, f.chunk = respChunked, chunkReader{}
	case length >= 0:
		f.state, f.left = respBody, length
	default:
		f.state = respSwitch // delimited by the connection's end
	}
	return nil
}

// finish completes the oldest request's final response.
func (f *ResponseFramer) finish() ResponseEvent {
	ev := ResponseEvent{Kind: EventEnd, Status: f.status, Size: f.size}
	f.pop()
	f.state, f.status, f.size, f.left = respHead, 0, 0, 0
	return ev
}

func (f *ResponseFramer) pop() {
	f.sent = f.sent[1:]
	if len(f.sent) == 0 {
		f.sent = nil // an idle connection keeps no bookkeeping
	}
}

func (f *ResponseFramer) fail(err error) (ResponseEvent, int, error) {
	f.err = err
	f.hb.wipe()
	return ResponseEvent{}, 0, err
}

// parseResponseHead reads the status and body framing of a response head,
// as strictly as a request head.
func parseResponseHead(h []byte) (status int, length int64, chunked bool, err error) {
	length = -1
	nl := bytes.IndexByte(h, '\n')
	line := h[:nl-1]
	// RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason]; the SP before an
	// empty reason is often left off, and that reads one way only.
	if len(line) < 12 || (string(line[:9]) != "HTTP/1.1 " && string(line[:9]) != "HTTP/1.0 ") || (len(line) > 12 && line[12] != ' ') {
		return 0, 0, false, &desyncError{"malformed status line"}
	}
	for _, c := range line[9:12] {
		if !isDigit(c) {
			return 0, 0, false, &desyncError{"malformed status line"}
		}
		status = status*10 + int(c-'0')
	}
	for _, c := range line[min(len(line), 13):] {
		if !isFieldByte(c) {
			return 0, 0, false, &desyncError{"malformed status line"}
		}
	}
	if status < 100 || status > 599 {
		return 0, 0, false, &desyncError{"status out of range"}
	}
	var coding codingList
	lengthSeen := false
	fl := fieldLines{rest: h[nl+1 : len(h)-2], max: maxResponseFields}
	for {
		name, value, ok, ferr := fl.next()
		if ferr != nil {
			return 0, 0, false, &desyncError{ferr.(*Error).Reason}
		}
		if !ok {
			break
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (lengthSeen && n != length) {
				return 0, 0, false, &desyncError{"invalid Content-Length"}
			}
			lengthSeen, length = true, n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !coding.add(value) {
				return 0, 0, false, &desyncError{"malformed Transfer-Encoding"}
			}
		}
	}
	if coding.seen {
		if lengthSeen {
			return 0, 0, false, &desyncError{"both Content-Length and Transfer-Encoding"}
		}
		if coding.chunked > 1 || (coding.chunked == 1 && !coding.last) {
			return 0, 0, false, &desyncError{"chunked applied twice or not last"}
		}
		// Not chunked at all: the body runs to the connection's end.
		return status, -1, coding.last, nil
	}
	return status, length, false, nil
}

// Wipe clears the plaintext the framer holds (a head cut across pieces);
// the framer is done with after it.
func (f *ResponseFramer) Wipe() { f.hb.wipe() }
