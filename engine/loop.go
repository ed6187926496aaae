package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// Loop is what one event loop owns: its connections (for deadlines), its
// zeroing slab for key material, and one output buffer in that slab which
// every connection on the loop borrows in turn, since a loop handles one
// connection at a time.
//
// Only the loop's own goroutine touches a Loop; the sweep reaches it
// through gnet's EventLoop.Execute.
type Loop struct {
	// Index numbers the loops from 0, so an application can keep state
	// of its own per loop in a slice (the proxy's leaf caches).
	Index     int
	EventLoop gnet.EventLoop
	Conns     ConnList
	Mem       *secmem.Arena
	TLS       *tlsmitm.Config // the server's config with Memory = Mem
	out       []byte          // a block of Mem
}

// Out is the loop's output buffer, empty: append to it, and pass it
// through Conn.Spill between appends.
func (l *Loop) Out() []byte { return l.out[:0] }

// outBlock is the size of a loop's output buffer; flushAt is where Spill
// writes it out, leaving room for the largest single append (a server
// flight with a long chain).
const (
	outBlock = 64 << 10
	flushAt  = 32 << 10
)

func newLoop(index int, base *tlsmitm.Config, memSize int) (*Loop, error) {
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
	return &Loop{Index: index, Mem: mem, TLS: &cfg, out: out[:0]}, nil
}

// Loops maps each gnet event loop to its Loop. The Loops are made before
// the engine starts (so a refused mlock is reported at start-up) and bound
// to event loops as each accepts its first connection; the map is
// consulted once per accepted connection, never per event. Its methods are
// safe for concurrent use.
type Loops struct {
	m     sync.Map // gnet.EventLoop -> *Loop
	mu    sync.Mutex
	spare []*Loop
	all   []*Loop
}

func (l *Loops) prepare(n int, base *tlsmitm.Config, memSize int) error {
	for i := 0; i < n; i++ {
		ls, err := newLoop(i, base, memSize)
		if err != nil {
			l.close()
			return err
		}
		l.spare = append(l.spare, ls)
		l.all = append(l.all, ls)
	}
	return nil
}

// Get returns the Loop of el, binding a spare one on el's first
// connection; nil when there is none left, which gnet's fixed loop count
// never allows.
func (l *Loops) Get(el gnet.EventLoop) *Loop {
	if v, ok := l.m.Load(el); ok {
		return v.(*Loop)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.m.Load(el); ok {
		return v.(*Loop)
	}
	if len(l.spare) == 0 {
		return nil
	}
	ls := l.spare[len(l.spare)-1]
	l.spare = l.spare[:len(l.spare)-1]
	ls.EventLoop = el
	l.m.Store(el, ls)
	return ls
}

// All lists every Loop, bound or not; for start-up reports and tests.
func (l *Loops) All() []*Loop {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Loop(nil), l.all...)
}

// close releases every loop's slab; call it once the loops have stopped.
func (l *Loops) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range l.all {
		unregisterArena(ls.Mem)
		ls.Mem.Close() // zeroes and unmaps
	}
	l.all, l.spare = nil, nil
}

// Sweep runs f on every bound loop, on that loop's goroutine.
func (l *Loops) Sweep(f func(ls *Loop, now time.Time)) {
	l.m.Range(func(_, v any) bool {
		ls := v.(*Loop)
		_ = ls.EventLoop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			f(ls, time.Now())
			return nil
		}))
		return true
	})
}

// ConnList is an intrusive doubly linked list of a loop's connections:
// adding and removing cost nothing and allocate nothing.
type ConnList struct {
	head *Conn
	n    int
}

// Add puts c on the list.
func (l *ConnList) Add(c *Conn) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	l.n++
}

// Remove takes c off the list; a c not on it is left alone.
func (l *ConnList) Remove(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.head == c {
		l.head = c.next
	} else {
		return
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// Each calls f for every connection on the list; f may remove the one it
// is given.
func (l *ConnList) Each(f func(c *Conn)) {
	for c, next := l.head, (*Conn)(nil); c != nil; c = next {
		next = c.next
		f(c)
	}
}

// Len is the number of connections on the list.
func (l *ConnList) Len() int { return l.n }
