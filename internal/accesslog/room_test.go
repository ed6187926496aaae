package accesslog

import (
	"math"
	"strings"
	"testing"
	"time"
)

// admitted is an entry as the proxy knows it when it admits a request:
// no status, sizes or duration yet.
func admitted() *Entry {
	e := sample()
	e.Status, e.BytesIn, e.BytesOut, e.Duration = 0, 0, 0, 0
	e.Time = e.Time.Truncate(time.Second)
	return e
}

// completed is that entry once its request is done, every number at its
// widest.
func completed() *Entry {
	e := admitted()
	e.Time = e.Time.Add(999999999)
	e.Status, e.BytesIn, e.BytesOut, e.Duration = 599, math.MaxInt64, math.MaxInt64, math.MaxInt64
	return e
}

// Room set aside at admission takes the line at completion, however large
// its numbers grew, while a full buffer refuses new admissions; every
// admitted line is written.
func TestReservedRoomIsNeverRefused(t *testing.T) {
	sink := newSlowSink()
	l := New(sink.w)
	ll := l.Buffer(0, Refuse)
	before := refusedLines.Get()
	var rooms []Room
	for range 1000 {
		r, ok := ll.Reserve(admitted())
		if !ok {
			break
		}
		rooms = append(rooms, r)
	}
	if len(rooms) == 0 || len(rooms) == 1000 {
		t.Fatalf("%d rooms in a buffer of two halves of MaxLine", len(rooms))
	}
	if _, ok := ll.Reserve(admitted()); ok {
		t.Fatal("a full buffer gave more room")
	}
	if refusedLines.Get()-before != 2 {
		t.Fatalf("%d refusals counted, want 2", refusedLines.Get()-before)
	}
	for i, r := range rooms {
		if !ll.LogIn(r, completed()) {
			t.Fatalf("the line of admitted request %d was refused", i)
		}
	}
	sink.read()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, sink.wait())
	if len(got) != len(rooms) {
		t.Fatalf("%d lines written for %d admitted requests", len(got), len(rooms))
	}
	if got[0].Status != 599 {
		t.Fatalf("line written with status %d", got[0].Status)
	}
}

func TestResizeGrowsRoomOrRefuses(t *testing.T) {
	sink := newSlowSink()
	l := New(sink.w)
	defer func() {
		sink.read()
		l.Close()
		sink.wait()
	}()
	ll := l.Buffer(0, Refuse)
	e := admitted()
	e.SNI = ""
	first, ok := ll.Reserve(e)
	if !ok {
		t.Fatal("an empty buffer refused")
	}
	e.SNI = strings.Repeat("s", 100)
	if !ll.Resize(&first, e) {
		t.Fatal("Resize refused with room free")
	}
	var rooms []Room
	for {
		r, ok := ll.Reserve(admitted())
		if !ok {
			break
		}
		rooms = append(rooms, r)
	}
	held := first
	e.SNI = strings.Repeat("s", 1000)
	if ll.Resize(&first, e) || first != held {
		t.Fatal("Resize grew room in a full buffer")
	}
	ll.Release(rooms[0])
	ll.Release(rooms[1])
	if !ll.Resize(&first, e) || first == held {
		t.Fatal("Resize refused once room was released")
	}
}

// Drop and Block never refuse, so they hold no room: Drop loses the line
// if the buffer is still full when it is written, Block waits then.
func TestReserveHoldsNoRoomWhenNotRefusing(t *testing.T) {
	l := New(discard{})
	defer l.Close()
	for _, mode := range []Overflow{Drop, Block} {
		ll := l.Buffer(0, mode)
		for range 1000 {
			if r, ok := ll.Reserve(admitted()); !ok || r != (Room{}) {
				t.Fatalf("%v: Reserve = %v, %v", mode, r, ok)
			}
		}
	}
	var nilLog *LoopLog
	if _, ok := nilLog.Reserve(admitted()); !ok || !nilLog.LogIn(Room{}, completed()) {
		t.Fatal("a nil LoopLog refused")
	}
}

func TestReserveAfterClose(t *testing.T) {
	l := New(discard{})
	ll := l.Buffer(0, Refuse)
	l.Close()
	if _, ok := ll.Reserve(admitted()); ok {
		t.Fatal("Reserve after Close gave room")
	}
}

func TestFlushWritesAtOnce(t *testing.T) {
	var buf syncBuffer
	l := New(&buf)
	defer l.Close()
	l.Flush() // no loop yet: nothing to do
	ll := l.Buffer(1<<20, Refuse)
	if !ll.Log(sample()) {
		t.Fatal("refused")
	}
	l.Flush()
	buf.mu.Lock()
	n := len(lines(t, buf.b.Bytes()))
	buf.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d lines after Flush, want 1", n)
	}
}

func TestReserveAllocs(t *testing.T) {
	l := New(discard{})
	defer l.Close()
	ll := l.Buffer(1<<20, Refuse)
	a, c := admitted(), completed()
	r, _ := ll.Reserve(a)
	ll.LogIn(r, c)
	if n := testing.AllocsPerRun(1000, func() {
		r, _ := ll.Reserve(a)
		ll.LogIn(r, c)
	}); n != 0 {
		t.Fatalf("Reserve and LogIn allocate %v times per line", n)
	}
}
