package engine

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// loopState is what one event loop owns: its connections (for deadlines)
// and one output buffer that every connection on the loop borrows in turn,
// since a loop handles one connection at a time.
//
// Only the loop's own goroutine touches a loopState; the sweeper reaches it
// through gnet's EventLoop.Execute.
type loopState struct {
	loop  gnet.EventLoop
	conns connList
	out   []byte
}

// loops maps each gnet event loop to its state. It is consulted once per
// accepted connection, never per event.
type loops struct {
	m sync.Map // gnet.EventLoop -> *loopState
}

func (l *loops) get(el gnet.EventLoop) *loopState {
	if v, ok := l.m.Load(el); ok {
		return v.(*loopState)
	}
	v, _ := l.m.LoadOrStore(el, &loopState{loop: el})
	return v.(*loopState)
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
