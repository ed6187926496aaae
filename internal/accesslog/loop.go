package accesslog

import (
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// flushEvery bounds how long a line waits in a loop's buffer.
const flushEvery = 100 * time.Millisecond

var (
	droppedLines = metrics.NewCounter(`lucid_access_log_dropped_total{overflow="drop"}`)
	refusedLines = metrics.NewCounter(`lucid_access_log_dropped_total{overflow="refuse"}`)
	writeErrors  = metrics.NewCounter("lucid_access_log_write_errors_total")
)

// Overflow is what a LoopLog does with a line when its buffer is full
// (see the package comment).
type Overflow uint8

// Overflow modes; the zero value is Refuse.
const (
	Refuse Overflow = iota // Log reports false: refuse the request (503)
	Drop                   // the line is lost and counted; Log reports true
	Block                  // Log waits for the writer
)

// ParseOverflow reads "refuse", "drop" or "block".
func ParseOverflow(s string) (Overflow, bool) {
	switch s {
	case "refuse":
		return Refuse, true
	case "drop":
		return Drop, true
	case "block":
		return Block, true
	}
	return Refuse, false
}

func (o Overflow) String() string {
	switch o {
	case Drop:
		return "drop"
	case Block:
		return "block"
	}
	return "refuse"
}

// LoopLog is one event loop's buffer of lines. Log is for one goroutine
// at a time (its loop); the writer goroutine and Close may run beside it.
type LoopLog struct {
	l        *Logger
	overflow Overflow
	scratch  []byte // the line being formatted; the loop's own

	mu     sync.Mutex // taken by this loop and the writer only
	fill   []byte     // lines waiting for the writer
	spare  []byte     // the other half; nil while the writer writes it
	kicked bool       // the writer was told fill is half full
	closed bool
	// reserved is the room in fill that Reserve set aside for lines still
	// to come (room.go); len(fill)+reserved never exceeds cap(fill).
	reserved int
	space    chan struct{} // cap 1: the writer emptied fill, or Close
}

// Buffer returns a new LoopLog for one event loop, holding at most size
// bytes of lines (in two halves: one fills while the writer writes the
// other; each at least MaxLine). The first Buffer starts the Logger's
// writer. A nil Logger returns a nil LoopLog, whose Log does nothing and
// reports true. Safe for concurrent use.
func (l *Logger) Buffer(size int, overflow Overflow) *LoopLog {
	if l == nil {
		return nil
	}
	half := max(size/2, MaxLine)
	ll := &LoopLog{l: l, overflow: overflow, scratch: make([]byte, 0, 1024),
		fill: make([]byte, 0, half), spare: make([]byte, 0, half), space: make(chan struct{}, 1)}
	l.loopsMu.Lock()
	defer l.loopsMu.Unlock()
	if l.closed {
		ll.closed = true
		return ll
	}
	l.loops = append(l.loops, ll)
	l.start.Do(func() { go l.run() })
	return ll
}

// Log adds e's line to the loop's buffer. It reports false when the line
// was not logged and the request must be refused: the buffer is full and
// the mode is Refuse, or the Logger is closed. It allocates nothing once
// its buffers have grown to the longest line, and makes no syscall.
func (ll *LoopLog) Log(e *Entry) bool {
	if ll == nil {
		return true
	}
	ll.scratch = appendEntry(ll.scratch[:0], e, ll.l.queryValues[e.Org])
	line := ll.scratch
	for {
		ll.mu.Lock()
		if ll.closed {
			ll.mu.Unlock()
			return false
		}
		if len(ll.fill)+ll.reserved+len(line) <= cap(ll.fill) {
			ll.fill = append(ll.fill, line...)
			kick := !ll.kicked && len(ll.fill) >= cap(ll.fill)/2
			ll.kicked = ll.kicked || kick
			ll.mu.Unlock()
			if kick {
				ll.l.kick()
			}
			return true
		}
		ll.mu.Unlock()
		ll.l.kick()
		switch ll.overflow {
		case Drop:
			droppedLines.Inc()
			return true
		case Refuse:
			refusedLines.Inc()
			return false
		}
		<-ll.space
	}
}

// close stops Log and wakes a Log that waits for room.
func (ll *LoopLog) close() {
	ll.mu.Lock()
	ll.closed = true
	ll.mu.Unlock()
	ll.signal()
}

func (ll *LoopLog) signal() {
	select {
	case ll.space <- struct{}{}:
	default:
	}
}

// flush swaps the filled half for the empty one and writes it: one Write
// per buffer per flush. Only the writer goroutine calls it.
func (ll *LoopLog) flush() {
	ll.mu.Lock()
	if len(ll.fill) == 0 {
		ll.mu.Unlock()
		return
	}
	full := ll.fill
	ll.fill, ll.spare, ll.kicked = ll.spare, nil, false
	ll.mu.Unlock()
	ll.signal()
	ll.l.write(full)
	ll.mu.Lock()
	ll.spare = full[:0]
	ll.mu.Unlock()
}

func (l *Logger) kick() {
	select {
	case l.kickc <- struct{}{}:
	default:
	}
}

// run is the writer goroutine: it flushes every loop's buffer every
// flushEvery, when one is half full, on Flush, and a last time on Close.
func (l *Logger) run() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.kickc:
		case done := <-l.flushc:
			l.flushAll()
			close(done)
			continue
		case <-l.stop:
			l.flushAll()
			return
		}
		l.flushAll()
	}
}

// Flush writes what the loops' buffers hold now and returns once it is
// written: for tools and tests that read the log while the edge runs.
// Safe for concurrent use; a nil Logger does nothing.
func (l *Logger) Flush() {
	if l == nil {
		return
	}
	l.loopsMu.Lock()
	running := len(l.loops) > 0 && !l.closed
	l.loopsMu.Unlock()
	if !running {
		return // no writer, or Close has written everything
	}
	done := make(chan struct{})
	select {
	case l.flushc <- done:
		<-done
	case <-l.done: // Close came first and wrote it all
	}
}

func (l *Logger) flushAll() {
	l.loopsMu.Lock()
	loops := l.loops
	l.loopsMu.Unlock()
	for _, ll := range loops {
		ll.flush()
	}
}
