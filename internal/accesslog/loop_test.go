package accesslog

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines decodes every line of b, failing on one that is not whole.
func lines(t *testing.T, b []byte) []decoded {
	t.Helper()
	var out []decoded
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, decodeLine(t, append(sc.Bytes(), '\n')))
	}
	return out
}

// Many loops log at once; each line is whole, each loop's lines are in
// its order, and Close loses none.
func TestLoopLogsConcurrent(t *testing.T) {
	var buf syncBuffer
	l := New(&buf)
	const loops, each = 4, 3000
	var wg sync.WaitGroup
	for n := range loops {
		ll := l.Buffer(64<<10, Block)
		wg.Go(func() {
			e := sample()
			e.User = "loop" + strconv.Itoa(n) + strings.Repeat("u", n*300)
			for i := range each {
				e.BytesIn = int64(i)
				if !ll.Log(e) {
					t.Error("Block mode refused a line")
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int64{}
	got := lines(t, buf.b.Bytes())
	for _, d := range got {
		if d.BytesIn != next[d.User] {
			t.Fatalf("%s: line %d after %d", d.User[:5], d.BytesIn, next[d.User]-1)
		}
		next[d.User]++
	}
	if len(got) != loops*each {
		t.Fatalf("%d lines, want %d", len(got), loops*each)
	}
}

func TestFlushedWithoutClose(t *testing.T) {
	var buf syncBuffer
	l := New(&buf)
	defer l.Close()
	ll := l.Buffer(1<<20, Refuse)
	start := time.Now()
	if !ll.Log(sample()) {
		t.Fatal("refused")
	}
	for {
		buf.mu.Lock()
		n := buf.b.Len()
		buf.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a line was not written within 5s (the writer flushes every 100ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseLosesNothing(t *testing.T) {
	var buf syncBuffer
	l := New(&buf)
	ll := l.Buffer(1<<20, Refuse)
	for i := range 1000 {
		e := sample()
		e.BytesIn = int64(i)
		if !ll.Log(e) {
			t.Fatal("refused")
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, buf.b.Bytes()); len(got) != 1000 {
		t.Fatalf("%d lines after Close, want 1000", len(got))
	}
	if ll.Log(sample()) {
		t.Error("Log after Close reported the line logged")
	}
	if late := l.Buffer(1<<20, Block); late.Log(sample()) {
		t.Error("a LoopLog made after Close logged")
	}
	var nilLogger *Logger
	if ll := nilLogger.Buffer(1<<20, Refuse); ll != nil || !ll.Log(sample()) {
		t.Error("a nil Logger's LoopLog refused")
	}
}

// slowSink is a pipe nobody reads until read is called; then it collects
// everything.
type slowSink struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	got  bytes.Buffer
	done chan struct{}
}

func newSlowSink() *slowSink {
	r, w := io.Pipe()
	return &slowSink{r: r, w: w, done: make(chan struct{})}
}

func (s *slowSink) read() {
	go func() {
		defer close(s.done)
		_, _ = io.Copy(&s.got, s.r)
	}()
}

func (s *slowSink) wait() []byte {
	s.w.Close()
	<-s.done
	return s.got.Bytes()
}

// logUntil logs up to n lines, and returns how many Log accepted.
func logUntil(ll *LoopLog, n int) int {
	ok := 0
	e := sample()
	for i := range n {
		e.BytesIn = int64(i)
		if ll.Log(e) {
			ok++
		}
	}
	return ok
}

func TestOverflowRefuse(t *testing.T) {
	sink := newSlowSink()
	l := New(sink.w)
	ll := l.Buffer(0, Refuse) // the smallest: two halves of MaxLine
	before := refusedLines.Get()
	const n = 2000 // far more than both halves hold
	ok := logUntil(ll, n)
	refused := refusedLines.Get() - before
	if ok == n || refused != uint64(n-ok) {
		t.Fatalf("%d of %d accepted, %d counted refused", ok, n, refused)
	}
	sink.read()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, sink.wait()); len(got) != ok {
		t.Fatalf("%d lines written, %d accepted", len(got), ok)
	}
}

func TestOverflowDrop(t *testing.T) {
	sink := newSlowSink()
	l := New(sink.w)
	ll := l.Buffer(0, Drop)
	before := droppedLines.Get()
	const n = 2000
	if ok := logUntil(ll, n); ok != n {
		t.Fatalf("Drop mode refused %d lines", n-ok)
	}
	dropped := droppedLines.Get() - before
	sink.read()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, sink.wait())
	if dropped == 0 || len(got)+int(dropped) != n {
		t.Fatalf("%d written + %d dropped, want %d", len(got), dropped, n)
	}
}

func TestOverflowBlock(t *testing.T) {
	sink := newSlowSink()
	l := New(sink.w)
	ll := l.Buffer(0, Block)
	const n = 2000
	done := make(chan int)
	go func() { done <- logUntil(ll, n) }()
	select {
	case <-done:
		t.Fatal("Log did not wait for a sink nobody reads")
	case <-time.After(300 * time.Millisecond):
	}
	sink.read()
	select {
	case ok := <-done:
		if ok != n {
			t.Fatalf("%d of %d accepted", ok, n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Log still waits after the sink is read")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, sink.wait()); len(got) != n {
		t.Fatalf("%d lines written, want %d", len(got), n)
	}
}

func TestWriteErrorReported(t *testing.T) {
	sink := newSlowSink()
	sink.r.CloseWithError(io.ErrClosedPipe)
	l := New(sink.w)
	before := writeErrors.Get()
	l.Buffer(0, Refuse).Log(sample())
	if err := l.Close(); err == nil || writeErrors.Get() == before {
		t.Fatalf("Close = %v, errors counted %d", err, writeErrors.Get()-before)
	}
}

func TestLoopLogAllocs(t *testing.T) {
	l := New(discard{})
	defer l.Close()
	ll := l.Buffer(1<<20, Drop)
	e := sample()
	ll.Log(e)
	if n := testing.AllocsPerRun(1000, func() { ll.Log(e) }); n != 0 {
		t.Fatalf("LoopLog.Log allocates %v times per line", n)
	}
}

func BenchmarkLoopLog(b *testing.B) {
	l := New(discard{})
	defer l.Close()
	ll := l.Buffer(1<<20, Drop)
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		ll.Log(e)
	}
}
