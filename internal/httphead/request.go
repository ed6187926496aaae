package httphead

// RequestFramer frames the requests a client sends on one connection
// (RFC 9112 §6.3), fed its decrypted stream in pieces of any size: for each
// request, its whole head (which the caller judges before forwarding any
// of it), then its body as framed by Content-Length or chunked coding,
// then its end; pipelined requests follow one another. The first byte it
// cannot frame unambiguously is an *Error, and so is every call after it.
type RequestFramer struct {
	hb    headBuffer
	state reqState
	left  int64 // Content-Length body bytes still to pass
	chunk chunkReader
	err   error
}

type reqState uint8

const (
	reqHead reqState = iota
	reqBody
	reqChunked
)

// RequestEvent is what RequestFramer.Next found.
type RequestEvent struct {
	Kind EventKind
	// Head is the parsed head of EventHead; its slices alias Bytes.
	Head Head
	// Bytes is the head (EventHead) or body bytes (EventBody), valid until
	// the next call to Next.
	Bytes []byte
}

// Next frames what it can of data: it returns the next event and how many
// bytes of data it used. Call it again with the rest until EventNeedMore.
func (f *RequestFramer) Next(data []byte) (RequestEvent, int, error) {
	if f.err != nil {
		return RequestEvent{}, 0, f.err
	}
	switch f.state {
	case reqBody:
		if f.left == 0 {
			f.state = reqHead
			return RequestEvent{Kind: EventEnd}, 0, nil
		}
		if len(data) == 0 {
			return RequestEvent{}, 0, nil
		}
		n := int(min(int64(len(data)), f.left))
		f.left -= int64(n)
		return RequestEvent{Kind: EventBody, Bytes: data[:n]}, n, nil
	case reqChunked:
		if f.chunk.done() {
			f.state = reqHead
			return RequestEvent{Kind: EventEnd}, 0, nil
		}
		if len(data) == 0 {
			return RequestEvent{}, 0, nil
		}
		n, err := f.chunk.feed(data)
		if err != nil {
			return f.fail(err)
		}
		return RequestEvent{Kind: EventBody, Bytes: data[:n]}, n, nil
	}
	if len(data) == 0 {
		return RequestEvent{}, 0, nil
	}
	head, used, err := f.hb.take(data, MaxHead, ErrTooLarge)
	if err != nil {
		return f.fail(err)
	}
	if head == nil {
		return RequestEvent{}, used, nil
	}
	h := Head{ContentLength: -1}
	if err := h.parse(head); err != nil {
		return f.fail(err)
	}
	switch {
	case h.Chunked:
		f.state, f.chunk = reqChunked, chunkReader{}
	default:
		// RFC 9112 §6.3: a request without either has no body.
		f.state, f.left = reqBody, max(h.ContentLength, 0)
	}
	return RequestEvent{Kind: EventHead, Head: h, Bytes: head}, used, nil
}

func (f *RequestFramer) fail(err error) (RequestEvent, int, error) {
	f.err = err
	f.hb.wipe()
	return RequestEvent{}, 0, err
}

// Wipe clears the plaintext the framer holds (a head cut across pieces);
// the framer is done with after it.
func (f *RequestFramer) Wipe() { f.hb.wipe() }
