// Package accesslog writes one JSON line per request the edge sees: who
// asked (organisation, user, client address), for what (SNI, method,
// URL), what happened (status, bytes, the policy decision, both TLS
// sessions, the origin certificate's verification) and how long it took.
//
// # What a line holds
//
// An Entry has no field for headers or bodies, so no header value is ever
// written (a line names the configured user, never the credentials).
// The URL is the request's raw target with userinfo removed and the
// query's values replaced by <redacted> (parameter names kept), unless the
// organisation opts in with log_query_values (QueryValuesOf): query
// strings carry tokens and passwords. Bytes of the target that cannot
// stand in a URL as they are (controls, space, DEL, non-ASCII, invalid
// UTF-8) are percent-encoded, and every string is JSON-escaped, so a
// hostile target, SNI or certificate name cannot end a line or a field:
// each line is one JSON object, whatever the input. Values are bounded
// (the URL to 8 KiB, other strings to 1 KiB, cut values end in "…"), so
// a line is at most MaxLine bytes. Lines are encoded by hand into
// reused buffers: a line costs no allocation (BenchmarkLoopLog).
//
// # Off the event loop
//
// Each event loop logs through its own LoopLog (Logger.Buffer): Log
// formats the line and appends it to the loop's buffer under a lock that
// only that loop and the writer take, without a syscall. One writer
// goroutine per Logger swaps each loop's full buffer for its empty twin
// and writes it with one Write, at least every 100 ms and sooner when a
// buffer is half full; Close writes what is left, so no line that Log
// accepted is lost.
//
// When the sink is slower than the traffic and a loop's buffer is full,
// the Overflow mode decides: Refuse (the default) makes Log report false,
// and the proxy answers that request 503 before it reaches the origin,
// so every request that is served is logged, which is what an inspection
// edge owes its operator. (A line is written when its request completes,
// so the proxy sets its room aside when it admits the request: Reserve,
// then LogIn; see room.go.) Drop serves the request and loses the line,
// counted in lucid_access_log_dropped_total{overflow="drop"} (for an edge
// that prefers availability to a complete log); Block makes Log wait for
// the writer, which stalls every connection on that loop until the sink
// catches up (a sink that stops stops the loop). Refused lines are
// counted in lucid_access_log_dropped_total{overflow="refuse"}.
package accesslog

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one request.
type Entry struct {
	Time     time.Time // when the request arrived; written in UTC
	Org      string
	User     string
	Client   string // the client's address, host:port
	SNI      string
	Method   string
	URL      string // the raw target; userinfo and query values are removed when written
	Status   int
	BytesIn  int64 // from the client
	BytesOut int64 // to the client
	Decision string
	Rule     string // the policy rule behind Decision
	// TLSClient and TLSUpstream describe the two TLS sessions; zero when
	// there is none (plain HTTP, or a bypassed tunnel's upstream side).
	TLSClient   TLSInfo
	TLSUpstream TLSInfo
	// UpstreamVerify is "" when the origin's certificate verified, else
	// why it did not.
	UpstreamVerify string
	Duration       time.Duration
}

// TLSInfo describes one TLS session.
type TLSInfo struct {
	Version uint16 // tls.VersionTLS13, …; 0 when unknown
	Suite   uint16 // tls.TLS_AES_128_GCM_SHA256, …; 0 when unknown
	JA4     string // the client's fingerprint; only for the client side
	// Resumed: the client's handshake resumed a session from a ticket
	// (RFC 8446 §2.2); only for the client side.
	Resumed bool
}

// Logger writes entries to an io.Writer: directly with Log, or through
// per-loop buffers with Buffer. It is safe for use by many goroutines;
// lines are written whole and in turn.
type Logger struct {
	mu  sync.Mutex // guards w, buf and err
	w   io.Writer
	buf []byte
	err error     // the first write error
	c   io.Closer // set when the Logger opened the file

	queryValues map[string]bool // orgs whose query values are logged

	loopsMu sync.Mutex // guards loops and closed
	loops   []*LoopLog
	closed  bool
	start   sync.Once
	kickc   chan struct{}      // cap 1: a buffer is half full
	flushc  chan chan struct{} // Flush's requests, each closed once written
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// Option configures a Logger.
type Option func(*Logger)

// QueryValuesOf keeps the query values of these organisations' requests
// (their log_query_values); every other organisation's are redacted.
func QueryValuesOf(orgs ...string) Option {
	return func(l *Logger) {
		for _, o := range orgs {
			l.queryValues[o] = true
		}
	}
}

// New returns a Logger that writes to w.
func New(w io.Writer, opts ...Option) *Logger {
	l := &Logger{w: w, buf: make([]byte, 0, 1024), queryValues: make(map[string]bool),
		kickc: make(chan struct{}, 1), flushc: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Open returns a Logger for a configured destination: "" for none (a nil
// Logger, whose Log does nothing), "-" for standard output, or a file
// that lines are appended to.
func Open(dest string, opts ...Option) (*Logger, error) {
	switch dest {
	case "":
		return nil, nil
	case "-":
		return New(os.Stdout, opts...), nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	l := New(f, opts...)
	l.c = f
	return l, nil
}

// Close writes what the loops' buffers hold, stops the writer, and closes
// the file Open opened. Logs after Close write nothing (a LoopLog's Log
// reports false). It returns the first write error, if any.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		l.loopsMu.Lock()
		l.closed = true
		loops := l.loops
		l.loopsMu.Unlock()
		for _, ll := range loops {
			ll.close()
		}
		l.start.Do(func() { close(l.done) }) // no writer was started
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		err = l.err
		if l.c != nil {
			err = errors.Join(err, l.c.Close())
		}
	})
	return err
}

// Log writes e as one line at once, under a lock all its callers share,
// with one Write each: for tools and tests; an event loop logs through
// its LoopLog. A nil Logger writes nothing.
func (l *Logger) Log(e *Entry) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = appendEntry(l.buf[:0], e, l.queryValues[e.Org])
	_, err := l.w.Write(l.buf)
	if cap(l.buf) > 64<<10 {
		l.buf = make([]byte, 0, 1024) // one huge URL does not pin memory
	}
	return err
}

// write writes a buffer of whole lines for the writer goroutine.
func (l *Logger) write(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(p); err != nil {
		writeErrors.Inc()
		if l.err == nil {
			l.err = err
		}
	}
}
