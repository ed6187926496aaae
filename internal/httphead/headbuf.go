package httphead

// headBuffer finds the end of a head in a stream fed in pieces. A head
// that arrives whole is handed back where it lies; only one cut across
// pieces is copied, within limit, and the copy is let go at the next call,
// so an idle connection keeps no buffer.
type headBuffer struct {
	buf    []byte
	resume int  // where the search for the head's end resumes in buf
	drop   bool // buf was handed out; free it on the next call
}

// take looks for a whole head at the start of data (after what is held).
// It returns the head (valid until the next call) and how much of data it
// used; a nil head with used == len(data) means more is needed. tooLarge
// is the error for a head over limit.
func (hb *headBuffer) take(data []byte, limit int, tooLarge error) (head []byte, used int, err error) {
	if hb.drop {
		hb.wipe()
	}
	if len(hb.buf) == 0 {
		end, resume, err := scanHead(data[:min(len(data), limit)], 0)
		switch {
		case err != nil:
			return nil, 0, err
		case end > 0:
			return data[:end], end, nil
		case len(data) >= limit:
			return nil, 0, tooLarge
		}
		hb.buf = append(make([]byte, 0, min(2*len(data)+64, limit)), data...)
		hb.resume = resume
		return nil, len(data), nil
	}
	held := len(hb.buf)
	hb.buf = append(hb.buf, data[:min(len(data), limit-held)]...)
	end, resume, err := scanHead(hb.buf, hb.resume)
	switch {
	case err != nil:
		return nil, 0, err
	case end > 0:
		hb.drop = true
		return hb.buf[:end], end - held, nil
	case len(hb.buf) >= limit:
		return nil, 0, tooLarge
	}
	hb.resume = resume
	return nil, len(data), nil
}

// wipe clears the bytes held (decrypted plaintext) and lets them go.
func (hb *headBuffer) wipe() {
	clear(hb.buf[:cap(hb.buf)])
	*hb = headBuffer{}
}

// EventKind says what a framer's Next found.
type EventKind uint8

// Events, in the order a message yields them: its head, its body in
// pieces, its end.
const (
	// EventNeedMore: all input used; call Next again with more.
	EventNeedMore EventKind = iota
	// EventHead: a whole head, in Bytes (and parsed).
	EventHead
	// EventBody: body bytes as sent (a chunked body's framing included).
	EventBody
	// EventEnd: the message is complete.
	EventEnd
	// EventSwitch (responses only): a final response after which the
	// stream is no longer HTTP/1.1 (a 101, a 2xx to CONNECT) or whose body
	// runs to the connection's end; every later byte is EventBody.
	EventSwitch
)
