package proxy

import (
	"sync"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// wakeCounter is a gnet.Conn that only counts Wakes: all the inbox asks of
// one.
type wakeCounter struct {
	gnet.Conn
	mu    sync.Mutex
	wakes int
}

func (w *wakeCounter) Wake(gnet.AsyncCallback) error {
	w.mu.Lock()
	w.wakes++
	w.mu.Unlock()
	return nil
}

// recorder is an event that says what happened to it.
type recorder struct {
	applied, dropped *int
}

func (r recorder) apply(*conn) { *r.applied++ }
func (r recorder) drop()       { *r.dropped++ }

// testPhase has a field: pointers to distinct zero-size values may be
// equal, and phases are told apart by pointer.
type testPhase struct {
	quiet
	id int
}

func (*testPhase) input(*conn) {}

// TestInboxAddressesPhases: an event reaches only the phase that asked for
// it; one for a phase the connection has left, or that arrives after the
// connection closed, is dropped, never applied.
func TestInboxAddressesPhases(t *testing.T) {
	w := &wakeCounter{}
	c := &conn{}
	c.Gnet = w
	first, second := &testPhase{id: 1}, &testPhase{id: 2}
	c.phase = first

	var applied, dropped int
	ev := recorder{&applied, &dropped}
	c.post(first, ev)
	c.post(second, ev)
	if w.wakes != 2 {
		t.Fatalf("%d wakes for 2 posts", w.wakes)
	}
	c.deliver()
	if applied != 1 || dropped != 1 {
		t.Fatalf("first phase current: applied %d, dropped %d; want 1 and 1", applied, dropped)
	}

	c.phase = second
	c.post(first, ev) // the phase has moved on
	c.deliver()
	if applied != 1 || dropped != 2 {
		t.Fatalf("after moving on: applied %d, dropped %d; want 1 and 2", applied, dropped)
	}

	c.post(second, ev) // queued, then the connection closes
	c.inbox.shut()
	c.post(second, ev) // posted after the close
	c.deliver()
	if applied != 1 || dropped != 4 {
		t.Fatalf("after close: applied %d, dropped %d; want 1 and 4", applied, dropped)
	}
	c.deliverNow(second, ev)
	if applied != 1 || dropped != 5 {
		t.Fatalf("deliverNow after close: applied %d, dropped %d; want 1 and 5", applied, dropped)
	}
}

// TestInboxConcurrentPosts: posts from many goroutines all arrive, in the
// order each goroutine posted them, and none is lost to a concurrent
// deliver.
func TestInboxConcurrentPosts(t *testing.T) {
	c := &conn{}
	c.Gnet = &wakeCounter{}
	p := &testPhase{}
	c.phase = p
	var applied, dropped int
	ev := recorder{&applied, &dropped}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.post(p, ev)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			c.deliver()
			if applied != 8000 || dropped != 0 {
				t.Fatalf("applied %d, dropped %d; want 8000 and 0", applied, dropped)
			}
			return
		default:
			c.deliver()
		}
	}
}
