package proxy

import "sync"

// Work done off the loop for a connection (the origin's handshake, a
// tunnel's dial, the origin's bytes, crypto/tls's records) comes back as
// an event addressed to the phase that asked for it. It lands in the
// connection's inbox, and a gnet Wake gives the connection a turn on its
// loop (conn.step), which applies each event while its phase is still the
// connection's, and drops it otherwise. Once the connection has closed,
// the inbox is shut: what is posted then is dropped at once by the poster.
// So no event ever reaches a connection, or a phase, that has moved on,
// and nothing an event holds (an origin connection) is left open.
//
// gnet runs a Wake's callback even for a closed connection; Lucid passes
// none, and the OnTraffic a Wake triggers runs only while it is open.

// An event is the result of work done off the loop.
type event interface {
	// apply runs on the loop while the phase the event is addressed to is
	// the connection's.
	apply(c *conn)
	// drop releases what the event holds, when that phase has moved on or
	// the connection has closed. It may run on any goroutine.
	drop()
}

type addressed struct {
	to phase
	ev event
}

// inbox is a connection's queue of events. post is safe from any
// goroutine; deliver and shut run on the loop.
type inbox struct {
	mu     sync.Mutex
	queue  []addressed
	closed bool
}

// post hands ev, addressed to phase to, to the connection's loop. Safe
// from any goroutine.
func (c *conn) post(to phase, ev event) {
	b := &c.inbox
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		ev.drop()
		return
	}
	b.queue = append(b.queue, addressed{to, ev})
	b.mu.Unlock()
	_ = c.Gnet.Wake(nil)
}

// deliverNow applies ev at once, from a callback that already runs on the
// loop (the leaf cache's, whose leaf is valid only until the loop next
// calls into the cache), when its phase is still current. The callback
// may run inside the connection's own turn (a mint that fails at once), so
// the turn that reads what the client sent meanwhile comes from a Wake.
func (c *conn) deliverNow(to phase, ev event) {
	if c.inbox.isClosed() || c.phase != to {
		ev.drop()
		return
	}
	ev.apply(c)
	_ = c.Gnet.Wake(nil)
}

// deliver applies, in order, the events that had arrived when it began.
// One posted meanwhile, from another goroutine or by an event applied
// here, waits for the turn its own Wake brings: an event posted after a
// write gnet queued (crypto/tls's AsyncWrite) must come after that write.
// Runs on the loop.
func (c *conn) deliver() {
	b := &c.inbox
	b.mu.Lock()
	q := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, a := range q {
		if a.to == c.phase && !b.isClosed() {
			a.ev.apply(c)
		} else {
			a.ev.drop()
		}
	}
}

func (b *inbox) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// shut drops what is queued and everything posted from now on. Runs on
// the loop, once the connection has closed.
func (b *inbox) shut() {
	b.mu.Lock()
	q := b.queue
	b.queue, b.closed = nil, true
	b.mu.Unlock()
	for _, a := range q {
		a.ev.drop()
	}
}
