package h2bridge

import "golang.org/x/net/http2/hpack"

// stream is one request stream, known by the same ID on both sides.
type stream struct {
	id  uint32
	log StreamLog
	// local streams are answered by the edge: nothing reaches the origin.
	local     bool
	forwarded bool
	// stopRequest: the request body is no longer wanted (a local answer,
	// or the origin's RST_STREAM NO_ERROR after a complete response), so
	// once the response is sent the client is told to stop (§8.1).
	stopRequest bool
	respStarted bool // the final response headers arrived
	bodyless    bool // a response to HEAD, or a 204/304: no DATA (RFC 9110 §6.4.1)
	req, resp   flow
}

// flow is one direction of a stream: received from one side, sent to the
// other.
type flow struct {
	// Receiving.
	recvWindow int64 // left of the stream window granted to the sender
	creditOwed int64
	ended      bool  // END_STREAM received
	length     int64 // content-length, -1 when absent
	received   int64 // DATA payload received, padding excluded

	// Sending.
	sendWindow  int64
	queue       byteQueue
	trailers    []hpack.HeaderField
	hasTrailers bool
	endQueued   bool // END_STREAM goes out once the queue has drained
	sentEnd     bool
}

func (b *Bridge) newStream(id uint32) *stream {
	st := &stream{id: id, log: StreamLog{StreamID: id, Start: b.now()}}
	st.req = flow{recvWindow: b.client.grant, length: -1, sendWindow: b.origin.peerInitialWindow}
	st.resp = flow{recvWindow: b.origin.grant, length: -1, sendWindow: b.client.peerInitialWindow}
	return st
}

// dropQueues forgets what the stream still holds, returning the credit of
// what the client and origin had sent for it.
func (b *Bridge) dropQueues(st *stream) {
	if n := st.req.queue.len(); n > 0 {
		b.client.creditOwed += int64(n)
		b.buffered -= n
	}
	if n := st.resp.queue.len(); n > 0 {
		if !st.local {
			b.origin.creditOwed += int64(n)
		}
		b.buffered -= n
	}
	st.req.queue.wipe()
	st.resp.queue.wipe()
	st.req.trailers, st.resp.trailers = nil, nil
}

// remove ends a stream and logs it; reset says why, "" when it completed.
func (b *Bridge) remove(st *stream, reset string) {
	b.dropQueues(st)
	if st.forwarded {
		b.forwarded--
	}
	delete(b.streams, st.id)
	st.log.Reset = reset
	st.log.End = b.now()
	b.cfg.Log(&st.log)
}

// maybeFinish removes the stream once both directions are done.
func (b *Bridge) maybeFinish(st *stream) {
	if !st.resp.sentEnd {
		return
	}
	if st.local || st.stopRequest {
		if !st.req.ended {
			*b.client.out = appendRST(*b.client.out, st.id, 0)
		}
		b.remove(st, "")
		return
	}
	if st.req.sentEnd {
		b.remove(st, "")
	}
}
