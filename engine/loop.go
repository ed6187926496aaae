package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// loopState is what one event loop owns: its connections (for deadlines),
// its zeroing slab for key material, and one output buffer in that slab
// which every connection on the loop borrows in turn, since a loop handles
// one connection at a time.
//
// Only the loop's own goroutine touches a loopState; the sweeper reaches it
// through gnet's EventLoop.Execute.
type loopState struct {
	loop  gnet.EventLoop
	conns connList
	mem   *secmem.Arena
	tls   *tlsmitm.Config  // the server's config with Memory = mem
	out   []byte           // a block of mem
	cache *certcache.Cache // the proxy's leaf cache, made on first use
}

// outBlock is the size of a loop's output buffer; flushAt is where the
// handler writes it out, leaving room for the largest single append (a
// server flight with a long chain).
const (
	outBlock = 64 << 10
	flushAt  = 32 << 10
)

func newLoopState(base *tlsmitm.Config, memSize int) (*loopState, error) {
	mem, err := secmem.NewArena(secmem.Config{Size: memSize, Lock: true})
	if err != nil {
		return nil, fmt.Errorf("engine: key memory: %w", err)
	}
	out, err := mem.Alloc(outBlock)
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("engine: key memory of %d bytes has no room for an output buffer: %w", memSize, err)
	}
	cfg := *base
	cfg.Memory = mem
	registerArena(mem)
	return &loopState{mem: mem, tls: &cfg, out: out[:0]}, nil
}

// loops maps each gnet event loop to its state. Their states are made
// before the engine starts (so a refused mlock is reported at start-up)
// and bound to loops as each loop accepts its first connection; the map is
// consulted once per accepted connection, never per event.
type loops struct {
	m     sync.Map // gnet.EventLoop -> *loopState
	mu    sync.Mutex
	spare []*loopState
	all   []*loopState
}

func (l *loops) prepare(n int, base *tlsmitm.Config, memSize int) error {
	for i := 0; i < n; i++ {
		ls, err := newLoopState(base, memSize)
		if err != nil {
			l.close()
			return err
		}
		l.spare = append(l.spare, ls)
		l.all = append(l.all, ls)
	}
	return nil
}

func (l *loops) get(el gnet.EventLoop) *loopState {
	if v, ok := l.m.Load(el); ok {
		return v.(*loopState)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.m.Load(el); ok {
		return v.(*loopState)
	}
	if len(l.spare) == 0 {
		return nil // more loops than prepared: cannot happen with gnet's fixed loop count
	}
	ls := l.spare[len(l.spare)-1]
	l.spare = l.spare[:len(l.spare)-1]
	ls.loop = el
	l.m.Store(el, ls)
	return ls
}

// close releases every loop's slab; call it once the loops have stopped.
func (l *loops) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range l.all {
		if ls.cache != nil {
			ls.cache.Close() // destroys the leaf keys
		}
		unregisterArena(ls.mem)
		ls.mem.Close() // zeroes and unmaps
	}
	l.all, l.spare = nil, nil
}

// sweep asks every loop to close its connections whose deadline passed.
func (l *loops) sweep(expire func(ls *loopState, now time.Time)) {
	l.m.Range(func(_, v any) bool {
		ls := v.(*loopState)
		_ = ls.loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			expire(ls, time.Now())
			return nil
		}))
		return true
	})
}

// connList is an intrusive doubly linked list of a loop's connections:
// adding and removing cost nothing and allocate nothing.
type connList struct {
	head *connState
	n    int
}

func (l *connList) add(c *connState) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	l.n++
}

func (l *connList) remove(c *connState) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.head == c {
		l.head = c.next
	} else {
		return // not in the list
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// discard drops n bytes of a connection's input. gnet's Discard treats
// n <= 0 as "everything", which would throw away a partial record still
// waiting for its end; this never passes it zero.
func discard(c gnet.Conn, n int) {
	if n > 0 {
		_, _ = c.Discard(n)
	}
}

// startLoops gives each of n loops its state made from base, with one set
// of session ticket keys for the whole process unless noTickets, and
// starts gnet with h; the loops' memory and the ticket keys are zeroed
// when the engine stops.
func startLoops(h gnet.EventHandler, run *runner, ls *loops, base *tlsmitm.Config, noTickets bool,
	addr string, n int, reusePort bool, keyMemory int, logger *slog.Logger) error {
	if !noTickets {
		base.Tickets = tlsmitm.NewTicketKeys(time.Hour)
	}
	cleanup := func() {
		ls.close()
		if base.Tickets != nil {
			base.Tickets.Close() // zeroes the ticket keys
		}
	}
	if err := ls.prepare(n, base, keyMemory); err != nil {
		cleanup() // prepare has closed its loops; this zeroes the ticket keys
		return err
	}
	reportMemoryLock(logger, ls.all)
	return run.start(h, addr, n, reusePort, logger, cleanup)
}
