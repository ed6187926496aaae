package accesslog

import (
	"math"
	"time"
)

// A request is admitted before it is served and logged once it is done,
// when its status and sizes are known. In Refuse mode, a buffer that has
// room for its line at admission may be full by then, and a request that
// has been served can no longer be refused: so its room is set aside at
// admission (Reserve) and its line written into it at the end (LogIn).
// Lines that no one set room aside for (Log) fit only beside the room
// that is held, so a full buffer refuses new requests and never the
// lines of those it admitted. Room is held only while a request (or a
// bypassed tunnel, logged when it ends) is open: a buffer must hold the
// lines of every request open on its loop at once, and a loop whose
// buffer is all held room refuses new ones until some finish.
//
// Drop and Block never refuse, so they hold no room: a line takes its
// chance (Drop) or waits (Block) when it is written.

// Room is space in a loop's buffer set aside for one line to come; the
// zero Room holds none.
type Room struct{ n int }

// Reserve sets aside room for e's line as it will read once its request
// completes: e as it stands, with its status, sizes, duration and time at
// their widest. It reports false when the request must be refused: Refuse
// mode and no room (counted as a refused line), or the Logger is closed.
// In Drop and Block mode it holds no room and reports true. A nil
// LoopLog reports true. Like Log, it is for the loop's goroutine only.
func (ll *LoopLog) Reserve(e *Entry) (Room, bool) {
	if ll == nil || ll.overflow != Refuse {
		return Room{}, true
	}
	n := ll.bound(e)
	if !ll.hold(n) {
		return Room{}, false
	}
	return Room{n}, true
}

// Resize makes r fit e's line as it now stands, for a request whose
// fields changed since Reserve (a tunnel learns its SNI after its
// CONNECT); a zero r grows as Reserve would make it. It reports false, r
// unchanged, when r must grow and cannot: the request must then be
// refused, as by Reserve.
func (ll *LoopLog) Resize(r *Room, e *Entry) bool {
	if ll == nil || ll.overflow != Refuse {
		return true
	}
	n := ll.bound(e)
	if n <= r.n {
		return true
	}
	if !ll.hold(n - r.n) {
		return false
	}
	r.n = n
	return true
}

// LogIn writes e's line into the room r that Reserve set aside for it:
// a line that fits its room is never refused. A line longer than its
// room (a field changed that Resize was not told of) takes what else is
// free, and is otherwise handled as Log handles it. It reports what Log
// reports; the zero Room makes it Log.
func (ll *LoopLog) LogIn(r Room, e *Entry) bool {
	if ll == nil {
		return true
	}
	ll.Release(r)
	return ll.Log(e)
}

// Release gives back room whose line will not be written.
func (ll *LoopLog) Release(r Room) {
	if ll == nil || r.n == 0 {
		return
	}
	ll.mu.Lock()
	ll.reserved -= r.n
	ll.mu.Unlock()
}

// hold sets n bytes aside if the buffer has them free.
func (ll *LoopLog) hold(n int) bool {
	ll.mu.Lock()
	if ll.closed {
		ll.mu.Unlock()
		return false
	}
	if len(ll.fill)+ll.reserved+n > cap(ll.fill) {
		ll.mu.Unlock()
		ll.l.kick()
		refusedLines.Inc()
		return false
	}
	ll.reserved += n
	ll.mu.Unlock()
	return true
}

// bound is the length of e's line with the fields a request's completion
// fills in at their widest: a three-digit status, sizes and duration at
// the largest int64, a time with every digit of its fraction.
func (ll *LoopLog) bound(e *Entry) int {
	w := *e
	w.Time = time.Unix(e.Time.Unix(), 999999999)
	w.Status = 999
	w.BytesIn, w.BytesOut = math.MaxInt64, math.MaxInt64
	w.Duration = math.MaxInt64
	ll.scratch = appendEntry(ll.scratch[:0], &w, ll.l.queryValues[e.Org])
	return len(ll.scratch)
}
