package h2bridge

import (
	"encoding/binary"
	"errors"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func (b *Bridge) onHeaders(s *side, f frame) error {
	if f.stream == 0 {
		return s.connError(http2.ErrCodeProtocol, "HEADERS on stream 0")
	}
	frag, ok := unpad(f, http2.FlagHeadersPadded)
	if !ok {
		return s.connError(http2.ErrCodeProtocol, "HEADERS padding longer than the frame")
	}
	selfDep := false
	if f.flags.Has(http2.FlagHeadersPriority) {
		if len(frag) < 5 {
			return s.connError(http2.ErrCodeFrameSize, "HEADERS priority fields missing")
		}
		selfDep = binary.BigEndian.Uint32(frag)&maxWindow == f.stream
		frag = frag[5:]
	}
	s.block = headerBlock{
		active:    true,
		stream:    f.stream,
		endStream: f.flags.Has(http2.FlagHeadersEndStream),
		selfDep:   selfDep,
		fields:    s.block.fields[:0],
	}
	s.dec.SetEmitEnabled(true)
	return b.blockFragment(s, frag, f.flags.Has(http2.FlagHeadersEndHeaders))
}

func (b *Bridge) onContinuation(s *side, f frame) error {
	if !s.block.active {
		return s.connError(http2.ErrCodeProtocol, "CONTINUATION without HEADERS")
	}
	if s.block.frames++; s.block.frames > b.lim.continuations {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "CONTINUATION flood: more than "+strconv.Itoa(b.lim.continuations)+" frames in a header block")
	}
	return b.blockFragment(s, f.payload, f.flags.Has(http2.FlagContinuationEndHeaders))
}

// blockFragment decodes a fragment as it arrives, so that the bounds on
// the compressed and the decoded size hold before the block is complete;
// every block is decoded, even one for a stream the bridge ignores, since
// HPACK state is shared by the connection (§4.3).
func (b *Bridge) blockFragment(s *side, frag []byte, end bool) error {
	blk := &s.block
	if len(frag) == 0 && !end && !s.emptyFrames.spend(b.now(), b.lim.window) {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "flood of empty frames")
	}
	limit := int(b.cfg.MaxHeaderListSize)
	if blk.compressed += len(frag); blk.compressed > limit {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "header block over "+strconv.Itoa(limit)+" bytes")
	}
	if _, err := s.dec.Write(frag); err != nil {
		if errors.Is(err, hpack.ErrStringLength) {
			return s.connError(http2.ErrCodeEnhanceYourCalm, "header field over "+strconv.Itoa(limit)+" bytes")
		}
		return s.connError(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	if blk.overLimit {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "header list over "+strconv.Itoa(limit)+" bytes decoded")
	}
	if !end {
		return nil
	}
	if err := s.dec.Close(); err != nil {
		return s.connError(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	blk.active = false
	var err error
	if s.isClient {
		err = b.clientHeaders(blk)
	} else {
		err = b.originHeaders(blk)
	}
	clear(blk.fields)
	return err
}

// clientHeaders takes a complete header block from the client: a new
// request, or the trailers of one.
func (b *Bridge) clientHeaders(blk *headerBlock) error {
	id := blk.stream
	if id%2 == 0 {
		return b.client.connError(http2.ErrCodeProtocol, "client stream ID is even")
	}
	if id <= b.lastClientStream {
		if st := b.streams[id]; st != nil {
			return b.requestTrailers(st, blk)
		}
		return nil // a closed stream: the block was decoded, the rest is ignored
	}
	b.lastClientStream = id
	return b.open(id, blk)
}

func (b *Bridge) requestTrailers(st *stream, blk *headerBlock) error {
	reason := ""
	switch {
	case st.req.ended:
		return b.streamError(b.client, st, http2.ErrCodeStreamClosed, "client: HEADERS after END_STREAM")
	case !blk.endStream:
		reason = "trailers without END_STREAM"
	case blk.selfDep:
		reason = "stream depends on itself"
	default:
		reason = trailersProblem(blk.fields, &st.req)
	}
	if reason != "" {
		return b.streamError(b.client, st, http2.ErrCodeProtocol, "malformed request: "+reason)
	}
	st.req.ended = true
	if st.local || st.stopRequest {
		b.maybeFinish(st)
		return nil
	}
	st.req.trailers = append([]hpack.HeaderField(nil), blk.fields...)
	st.req.hasTrailers = true
	st.req.endQueued = true
	b.pump(st, b.origin)
	return nil
}

// open takes a new request stream: checked (§8.2, §8.3), judged, then
// answered by the edge or forwarded.
func (b *Bridge) open(id uint32, blk *headerBlock) error {
	st := b.newStream(id)
	head, reason := checkRequest(blk.fields, b.connectProtocol)
	st.log.Method, st.log.Scheme, st.log.Authority = head.Method, head.Scheme, head.Authority
	st.log.Path, st.log.Protocol = head.Path, head.Protocol
	if b.originGoAway || b.clientGoAway {
		b.refuse(st, "connection going away")
		return nil
	}
	if len(b.streams) >= int(b.cfg.MaxConcurrentStreams) {
		b.refuse(st, "over MAX_CONCURRENT_STREAMS")
		if !b.refusals.spend(b.now(), b.lim.window) {
			return b.client.connError(http2.ErrCodeEnhanceYourCalm, "streams opened beyond MAX_CONCURRENT_STREAMS, repeatedly")
		}
		return nil
	}
	if reason == "" && blk.selfDep {
		reason = "stream depends on itself"
	}
	if reason == "" && blk.endStream && head.length > 0 {
		reason = "DATA disagrees with content-length"
	}
	if reason != "" {
		*b.client.out = appendRST(*b.client.out, id, http2.ErrCodeProtocol)
		logRawPseudo(&st.log, blk.fields)
		b.cfg.Log(b.ended(st, "malformed request: "+reason))
		return nil
	}
	b.streams[id] = st
	st.req.ended = blk.endStream
	st.req.length = head.length
	if head.connect {
		// A tunnel inside an inspected connection would carry bytes no
		// one judges.
		st.log.Verdict = Verdict{Status: 405, Message: "CONNECT is not served inside an inspected connection\n"}
		b.answer(st, 405, st.log.Verdict.Message)
		return nil
	}
	r := head.Request
	r.StreamID = id
	v := b.cfg.Judge(&r)
	st.log.Verdict = v
	if !v.Allow {
		status := v.Status
		if status == 0 {
			status = 403
		}
		b.answer(st, status, v.Message)
		return nil
	}
	if uint32(b.forwarded) >= b.originMaxStreams {
		delete(b.streams, id)
		b.refuse(st, "origin's MAX_CONCURRENT_STREAMS reached")
		return nil
	}
	st.forwarded = true
	st.bodyless = head.Method == "HEAD"
	b.forwarded++
	b.lastOriginStream = id
	b.origin.writeHeaders(id, blk.fields, blk.endStream)
	st.req.sentEnd = blk.endStream
	return nil
}

// logRawPseudo fills in what the checks left out of a malformed
// request's log line from its pseudo-header fields as sent (the first of
// each), so the line says what was asked for; the access log escapes
// whatever they hold.
func logRawPseudo(l *StreamLog, fields []hpack.HeaderField) {
	for _, f := range fields {
		var dst *string
		switch f.Name {
		case ":method":
			dst = &l.Method
		case ":scheme":
			dst = &l.Scheme
		case ":authority":
			dst = &l.Authority
		case ":path":
			dst = &l.Path
		default:
			continue
		}
		if *dst == "" {
			*dst = f.Value
		}
	}
}

// refuse answers REFUSED_STREAM: nothing of the stream was processed, so
// the client may retry it (§8.7).
func (b *Bridge) refuse(st *stream, why string) {
	*b.client.out = appendRST(*b.client.out, st.id, http2.ErrCodeRefusedStream)
	b.cfg.Log(b.ended(st, "refused: "+why))
}

func (b *Bridge) ended(st *stream, reset string) *StreamLog {
	st.log.Reset = reset
	st.log.End = b.now()
	return &st.log
}

// answer sends the edge's own response on st; nothing of st reaches the
// origin, and its request body is dropped (its credit still returned).
func (b *Bridge) answer(st *stream, status int, msg string) {
	st.local = true
	st.log.Status = status
	fields := []hpack.HeaderField{
		{Name: ":status", Value: strconv.Itoa(status)},
		{Name: "content-type", Value: "text/plain; charset=utf-8"},
		{Name: "content-length", Value: strconv.Itoa(len(msg))},
	}
	b.client.writeHeaders(st.id, fields, msg == "")
	if msg == "" {
		st.resp.sentEnd = true
		b.maybeFinish(st)
		return
	}
	st.resp.queue.push([]byte(msg))
	b.buffered += len(msg)
	st.resp.endQueued = true
	b.pump(st, b.client)
}

// originHeaders takes a complete header block from the origin: a
// response (1xx first, perhaps), or its trailers.
func (b *Bridge) originHeaders(blk *headerBlock) error {
	id := blk.stream
	if id%2 == 0 || id > b.lastOriginStream {
		return b.origin.connError(http2.ErrCodeProtocol, "HEADERS on a stream the bridge did not open")
	}
	st := b.streams[id]
	if st == nil || !st.forwarded {
		return nil
	}
	if st.resp.ended {
		b.streamError(b.origin, st, http2.ErrCodeStreamClosed, "origin: HEADERS after END_STREAM")
		return nil
	}
	if st.respStarted {
		b.responseTrailers(st, blk)
		return nil
	}
	status, length, reason := checkResponse(blk.fields)
	switch {
	case reason != "":
	case status < 200 && blk.endStream:
		reason = "informational response with END_STREAM"
	case blk.selfDep:
		reason = "stream depends on itself"
	}
	if reason != "" {
		b.streamError(b.origin, st, http2.ErrCodeProtocol, "malformed response: "+reason)
		return nil
	}
	if status < 200 {
		b.client.writeHeaders(id, blk.fields, false)
		return nil
	}
	st.respStarted = true
	st.log.Status = status
	if status == 204 || status == 304 {
		st.bodyless = true
	}
	if !st.bodyless {
		st.resp.length = length
	}
	if blk.endStream && st.resp.length > 0 {
		b.streamError(b.origin, st, http2.ErrCodeProtocol, "malformed response: DATA disagrees with content-length")
		return nil
	}
	b.client.writeHeaders(id, blk.fields, blk.endStream)
	if blk.endStream {
		st.resp.ended, st.resp.sentEnd = true, true
		b.maybeFinish(st)
	}
	return nil
}

func (b *Bridge) responseTrailers(st *stream, blk *headerBlock) {
	reason := ""
	switch {
	case !blk.endStream:
		reason = "trailers without END_STREAM"
	default:
		reason = trailersProblem(blk.fields, &st.resp)
	}
	if reason != "" {
		b.streamError(b.origin, st, http2.ErrCodeProtocol, "malformed response: "+reason)
		return
	}
	st.resp.ended = true
	st.resp.trailers = append([]hpack.HeaderField(nil), blk.fields...)
	st.resp.hasTrailers = true
	st.resp.endQueued = true
	b.pump(st, b.client)
}

// trailersProblem is what is wrong with a message's trailers and the body
// they end (RFC 9113 §8.1: DATA must add up to content-length), or "".
func trailersProblem(fields []hpack.HeaderField, f *flow) string {
	if reason := checkTrailers(fields); reason != "" {
		return reason
	}
	if f.length >= 0 && f.received != f.length {
		return "DATA disagrees with content-length"
	}
	return ""
}
