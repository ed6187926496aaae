package h2bridge

import "time"

// limits are the flood budgets: how much of a thing that costs the bridge
// (or the origin) work a peer may ask for within one window of time.
type limits struct {
	window time.Duration
	// resets bounds the client's RST_STREAMs on open streams: rapid reset,
	// CVE-2023-44487, makes the origin start work for streams that are
	// cancelled at once.
	resets int
	// refusals bounds streams opened beyond MaxConcurrentStreams.
	refusals int
	// control bounds SETTINGS and PING frames, each of which costs an ACK.
	control int
	// emptyFrames bounds frames that carry nothing: DATA without payload
	// or END_STREAM, header fragments without bytes.
	emptyFrames int
	// continuations bounds the CONTINUATION frames of one header block.
	continuations int
}

var defaultLimits = limits{
	window:        10 * time.Second,
	resets:        500,
	refusals:      100,
	control:       1000,
	emptyFrames:   1000,
	continuations: 32,
}

// budget counts events in a fixed window of time.
type budget struct {
	limit int
	start time.Time
	n     int
}

// spend counts one event and reports whether it is within the budget.
func (b *budget) spend(now time.Time, window time.Duration) bool {
	if now.Sub(b.start) >= window {
		b.start, b.n = now, 0
	}
	b.n++
	return b.n <= b.limit
}
