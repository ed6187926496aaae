package h2bridge

import (
	"golang.org/x/net/http2"
)

// toward is the direction of st that sends to s.
func (b *Bridge) toward(s *side, st *stream) *flow {
	if s.isClient {
		return &st.resp
	}
	return &st.req
}

// onData takes DATA: counted against the windows the bridge granted the
// sender (§6.9), checked against content-length, then queued for the other
// side or, for a stream nothing reaches the origin of, dropped with its
// credit returned.
func (b *Bridge) onData(s *side, f frame) error {
	if f.stream == 0 {
		return s.connError(http2.ErrCodeProtocol, "DATA on stream 0")
	}
	data, ok := unpad(f, http2.FlagDataPadded)
	if !ok {
		return s.connError(http2.ErrCodeProtocol, "DATA padding longer than the frame")
	}
	n := int64(len(f.payload))
	if n > s.recvWindow {
		return s.connError(http2.ErrCodeFlowControl, "DATA beyond the connection window")
	}
	s.recvWindow -= n
	end := f.flags.Has(http2.FlagDataEndStream)
	if len(data) == 0 && !end && !s.emptyFrames.spend(b.now(), b.lim.window) {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "flood of empty frames")
	}
	st, idle := b.lookup(s, f.stream)
	if idle {
		return s.connError(http2.ErrCodeProtocol, "DATA on an idle stream")
	}
	if st == nil {
		s.creditOwed += n // a closed stream: its DATA still counted (§6.9)
		return nil
	}
	from := &st.req
	if !s.isClient {
		from = &st.resp
	}
	if n > from.recvWindow {
		return s.connError(http2.ErrCodeFlowControl, "DATA beyond the stream window")
	}
	from.recvWindow -= n
	if from.ended {
		s.creditOwed += n
		return b.streamError(s, st, http2.ErrCodeStreamClosed, s.name+": DATA after END_STREAM")
	}
	if !s.isClient && !st.respStarted {
		b.streamError(s, st, http2.ErrCodeProtocol, "malformed response: DATA before the response headers")
		s.creditOwed += n
		return nil
	}
	// Padding is never forwarded: its credit goes back at once.
	b.credit(s, from, n-int64(len(data)), end)
	from.received += int64(len(data))
	if s.isClient {
		st.log.BytesIn += int64(len(data))
	}
	if reason := bodyMismatch(st, s, from, end); reason != "" {
		s.creditOwed += int64(len(data))
		return b.streamError(s, st, http2.ErrCodeProtocol, reason)
	}
	if end {
		from.ended = true
	}
	if st.local || (s.isClient && st.stopRequest) {
		b.credit(s, from, int64(len(data)), end)
		b.maybeFinish(st)
		return nil
	}
	from.queue.push(data)
	b.buffered += len(data)
	from.endQueued = end
	b.pump(st, b.other(s))
	return nil
}

// bodyMismatch says how a body disagrees with its content-length or with
// a response that has no body (RFC 9113 §8.1.1), or "".
func bodyMismatch(st *stream, s *side, fl *flow, end bool) string {
	what := "malformed request: "
	if !s.isClient {
		what = "malformed response: "
		if st.bodyless && fl.received > 0 {
			return what + "DATA in a response without a body"
		}
	}
	if fl.length >= 0 && (fl.received > fl.length || end && fl.received != fl.length) {
		return what + "DATA disagrees with content-length"
	}
	return ""
}

func (b *Bridge) other(s *side) *side {
	if s.isClient {
		return b.origin
	}
	return b.client
}

// credit records n bytes of s's DATA that the bridge no longer holds, so
// that their window goes back to s (the stream's, unless s ended it).
func (b *Bridge) credit(s *side, from *flow, n int64, ended bool) {
	s.creditOwed += n
	if !ended && !from.ended {
		from.creditOwed += n
	}
}

// pump sends st's queued DATA (then its trailers or END_STREAM) to the
// side to, within to's connection and stream windows and frame size.
func (b *Bridge) pump(st *stream, to *side) {
	fl := b.toward(to, st)
	from := b.other(to)
	for fl.queue.len() > 0 {
		n := min(int64(fl.queue.len()), fl.sendWindow, to.sendWindow, int64(to.peerMaxFrame))
		if n <= 0 {
			return
		}
		chunk := fl.queue.front(int(n))
		var flags http2.Flags
		if int(n) == fl.queue.len() && fl.endQueued && !fl.hasTrailers {
			flags = http2.FlagDataEndStream
			fl.sentEnd = true
		}
		*to.out = appendFrame(*to.out, http2.FrameData, flags, st.id, chunk)
		fl.queue.drop(int(n))
		b.buffered -= int(n)
		fl.sendWindow -= n
		to.sendWindow -= n
		if to.isClient {
			st.log.BytesOut += n
		}
		if !st.local {
			b.credit(from, fl, n, false)
		}
	}
	if fl.endQueued && !fl.sentEnd {
		if fl.hasTrailers {
			to.writeHeaders(st.id, fl.trailers, true)
			fl.trailers = nil
		} else {
			*to.out = appendFrame(*to.out, http2.FrameData, http2.FlagDataEndStream, st.id, nil)
		}
		fl.sentEnd = true
	}
	if fl.sentEnd {
		b.maybeFinish(st)
	}
}

// pumpAll sends what every stream has queued for to, after its windows grew.
func (b *Bridge) pumpAll(to *side) {
	for _, st := range b.streams {
		fl := b.toward(to, st)
		if fl.queue.len() > 0 || (fl.endQueued && !fl.sentEnd) {
			if to.isClient || st.forwarded {
				b.pump(st, to)
			}
		}
	}
}

// returnCredit sends the WINDOW_UPDATEs owed, once a quarter of a window
// is owed: the sender then always has three quarters of the window left
// of what the bridge has passed on, so it never waits on the bridge.
func (b *Bridge) returnCredit() {
	for _, s := range [2]*side{b.client, b.origin} {
		if s.creditOwed >= s.grant/4 {
			*s.out = appendWindowUpdate(*s.out, 0, uint32(s.creditOwed))
			s.recvWindow += s.creditOwed
			s.creditOwed = 0
		}
	}
	for _, st := range b.streams {
		b.returnStreamCredit(b.client, st, &st.req)
		if st.forwarded {
			b.returnStreamCredit(b.origin, st, &st.resp)
		}
	}
}

func (b *Bridge) returnStreamCredit(s *side, st *stream, fl *flow) {
	if fl.ended {
		fl.creditOwed = 0
		return
	}
	if fl.creditOwed >= s.grant/4 {
		*s.out = appendWindowUpdate(*s.out, st.id, uint32(fl.creditOwed))
		fl.recvWindow += fl.creditOwed
		fl.creditOwed = 0
	}
}
