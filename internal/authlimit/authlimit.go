// Package authlimit limits failed proxy logins per client, so that a
// client cannot guess passwords at the speed of the hash: after Limit
// failures it is refused (the edge answers 429 and closes) until its
// failures age out, Limit per Per.
//
// Each client is a token bucket of Limit tokens that refills at Limit per
// Per; a failure takes a token, and a client with none left is refused.
// So a client gets Limit tries at once, then one every Per/Limit. A client
// is its IP address; an IPv6 client is its /64, the smallest block a
// network is given (RFC 6177), so that cycling through the addresses of
// one subnet buys no tries. An IPv4-mapped IPv6 address is its IPv4
// address.
//
// Memory is bounded: the table holds at most MaxClients clients, in
// shards that each evict their least recently seen client when full. A
// flood of distinct addresses therefore evicts older entries rather than
// growing the table; a refused client that keeps trying stays recent, and
// an attacker who holds more addresses than the table has clients gains
// nothing from eviction that its addresses do not already give it.
// Clients with no recorded failure take no room.
package authlimit

import (
	"container/list"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxClients is the table size when Config leaves it 0: with the
// per-entry cost near 150 bytes, about 10 MiB.
const DefaultMaxClients = 65536

const shards = 16

// Config sets the limit.
type Config struct {
	Limit      int           // failures allowed at once; at least 1
	Per        time.Duration // the time in which Limit failures age out; positive
	MaxClients int           // clients remembered; 0 is DefaultMaxClients
	Now        func() time.Time
}

// Limiter counts failures per client. It is safe for concurrent use from
// any goroutine (an event loop included: its methods only take a shard's
// lock for a map lookup).
type Limiter struct {
	limit    float64
	per      time.Duration
	now      func() time.Time
	perShard int
	seed     maphash.Seed
	shards   [shards]shard
}

type shard struct {
	mu  sync.Mutex
	m   map[netip.Addr]*list.Element
	lru list.List // of *client, most recently seen first
}

type client struct {
	key    netip.Addr
	tokens float64
	last   time.Time
}

// New returns a Limiter; it panics on a Limit below 1 or a Per that is
// not positive (edgeconfig refuses them).
func New(c Config) *Limiter {
	if c.Limit < 1 || c.Per <= 0 {
		panic("authlimit: Limit must be at least 1 and Per positive")
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	l := &Limiter{limit: float64(c.Limit), per: c.Per, now: c.Now, seed: maphash.MakeSeed(),
		perShard: max(1, c.MaxClients/shards)}
	for i := range l.shards {
		l.shards[i].m = make(map[netip.Addr]*list.Element)
	}
	return l
}

// key is the client an address belongs to.
func key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (l *Limiter) shard(k netip.Addr) *shard {
	b := k.As16()
	return &l.shards[maphash.Bytes(l.seed, b[:])%shards]
}

// refill adds the tokens earned since c.last.
func (l *Limiter) refill(c *client, now time.Time) {
	if d := now.Sub(c.last); d > 0 {
		c.tokens = min(l.limit, c.tokens+l.limit*float64(d)/float64(l.per))
	}
	c.last = now
}

// Allow reports whether the client at ip may try a password now. Ask it
// before the (slow) check; a refused client is answered 429.
func (l *Limiter) Allow(ip netip.Addr) bool {
	k := key(ip)
	s := l.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	if e == nil {
		return true
	}
	c := e.Value.(*client)
	l.refill(c, l.now())
	if c.tokens >= 1 {
		return true
	}
	s.lru.MoveToFront(e) // a client that keeps trying stays in the table
	return false
}

// Failed records a failed login (a 407 for wrong or missing credentials)
// of the client at ip.
func (l *Limiter) Failed(ip netip.Addr) {
	k := key(ip)
	s := l.shard(k)
	now := l.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	if e == nil {
		if s.lru.Len() >= l.perShard {
			old := s.lru.Back()
			delete(s.m, old.Value.(*client).key)
			s.lru.Remove(old)
		}
		e = s.lru.PushFront(&client{key: k, tokens: l.limit, last: now})
		s.m[k] = e
	} else {
		s.lru.MoveToFront(e)
	}
	c := e.Value.(*client)
	l.refill(c, now)
	c.tokens = max(0, c.tokens-1)
}

// Len is the number of clients the table holds.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}
