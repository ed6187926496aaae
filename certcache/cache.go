// Package certcache mints leaf certificates for the origins an edge
// inspects and keeps them in a per-loop cache.
//
// A Cache belongs to one event loop: every method except the mint itself
// runs on that loop's goroutine, so the hot path takes no lock. A miss
// starts the mint on a goroutine (the organisation's signer may be remote,
// and signing takes tens of microseconds at best) and hands the result back
// to the loop through Config.RunOnLoop; requests for the same leaf that
// arrive meanwhile wait for that one mint.
package certcache

import (
	"crypto"
	"time"
)

// Key identifies a leaf: the organisation that signs it and the origin it
// stands in for.
type Key struct {
	Org string
	// Name is the SNI, or the origin's IP literal when the client sent none.
	Name string
	// Kind says what the leaf stands for (standin.go): a copy of the
	// origin's certificate, or one of the stand-ins, which never share an
	// entry with a copy.
	Kind Kind
	// Origin is the SHA-256 of the origin certificate's DER: a new origin
	// certificate means a new leaf. Zero for a StandIn.
	Origin [32]byte
	// Names is the digest of the names policy allowed the leaf besides
	// Name (ForOrigin): the same origin under another policy outcome is
	// another leaf. Zero when Name alone is allowed.
	Names [32]byte
	// RSA asks for a leaf with an RSA key, for clients that offer no
	// ECDSA signature scheme.
	RSA bool
}

// Leaf is a minted certificate and the key that proves it.
//
// A *Leaf from Get or a mint callback is valid until the loop next calls
// into the cache: use it (hand its chain and key to the TLS handshake)
// before returning to the loop.
type Leaf struct {
	// Chain is the leaf's DER followed by the issuer chain.
	Chain    [][]byte
	Key      *LeafKey
	NotAfter time.Time

	key        Key
	expires    time.Time
	size       int
	prev, next *Leaf
}

// MintFunc builds a leaf chain for pub. It runs off the loop.
type MintFunc func(pub crypto.PublicKey) (chain [][]byte, notAfter time.Time, err error)

// Config bounds a cache and connects it to its loop.
type Config struct {
	// MaxEntries and MaxBytes bound the cache; the least recently used
	// leaves go first. Zero means 10 000 entries and 64 MiB.
	MaxEntries int
	MaxBytes   int
	// TTL is how long a leaf is served from the cache. It is cut further
	// so a leaf never outlives its own validity. Zero means one hour.
	TTL time.Duration
	// KeyRotation is how long one leaf key signs new leaves. Zero means
	// one hour.
	KeyRotation time.Duration
	// RunOnLoop runs f on the loop that owns the cache. It must be safe to
	// call from any goroutine (gnet's EventLoop.Execute is).
	RunOnLoop func(f func())
}

// ttlMargin keeps a cached leaf from being served in its last minute.
const ttlMargin = time.Minute

// Cache is one loop's leaf cache. Not safe for concurrent use; see the
// package comment.
type Cache struct {
	cfg      Config
	m        map[Key]*Leaf
	head     *Leaf // most recently used
	tail     *Leaf
	bytes    int
	keys     leafKeys
	inflight map[Key]*flight
}

type flight struct {
	waiters []func(*Leaf, error)
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Hour
	}
	if cfg.KeyRotation <= 0 {
		cfg.KeyRotation = time.Hour
	}
	if cfg.RunOnLoop == nil {
		panic("certcache: Config.RunOnLoop is required")
	}
	return &Cache{
		cfg:      cfg,
		m:        make(map[Key]*Leaf),
		keys:     leafKeys{interval: cfg.KeyRotation},
		inflight: make(map[Key]*flight),
	}
}

// Get returns the cached leaf for k, or nil. It allocates nothing.
func (c *Cache) Get(k Key, now time.Time) *Leaf {
	l := c.m[k]
	if l == nil {
		misses.Inc()
		return nil
	}
	if !now.Before(l.expires) {
		c.remove(l)
		expirations.Inc()
		misses.Inc()
		return nil
	}
	c.moveToFront(l)
	hits.Inc()
	return l
}

// Mint makes the leaf for k with mint, or joins the mint already under way
// for k, and calls done on the loop with the result.
func (c *Cache) Mint(k Key, now time.Time, mint MintFunc, done func(*Leaf, error)) {
	if f := c.inflight[k]; f != nil {
		f.waiters = append(f.waiters, done)
		joined.Inc()
		return
	}
	key, err := c.keys.current(k.RSA, now)
	if err != nil {
		done(nil, err)
		return
	}
	if key != nil {
		key.acquire() // held by the mint until it lands
	}
	f := &flight{waiters: []func(*Leaf, error){done}}
	c.inflight[k] = f
	start := time.Now()
	go func() {
		r := mintResult{key: key}
		if r.key == nil {
			// First RSA leaf of this key interval: make the key here,
			// off the loop.
			r.key, r.err = newRSAKey(now)
			r.newKey = true
		}
		if r.err == nil {
			r.chain, r.notAfter, r.err = mint(r.key.Signer.Public())
		}
		r.elapsed = time.Since(start)
		c.cfg.RunOnLoop(func() { c.land(k, f, r) })
	}()
}

type mintResult struct {
	key      *LeafKey
	newKey   bool
	chain    [][]byte
	notAfter time.Time
	elapsed  time.Duration
	err      error
}

// land runs on the loop when a mint finishes: cache the leaf and answer
// everyone who waited for it.
func (c *Cache) land(k Key, f *flight, r mintResult) {
	delete(c.inflight, k)
	mintSeconds.Update(r.elapsed.Seconds())
	if r.newKey && r.key != nil {
		if r.err == nil {
			c.keys.adoptRSA(r.key)
		} else {
			r.key.retired = true // destroyed by the release below
		}
		r.key.acquire() // the mint's hold, like the one Mint takes
	}
	var leaf *Leaf
	if r.err == nil {
		mints.Inc()
		leaf = c.insert(k, r)
	} else {
		mintErrors.Inc()
	}
	if r.key != nil {
		r.key.release() // the mint's hold; a cached entry holds its own
	}
	for _, w := range f.waiters {
		w(leaf, r.err)
	}
}

func (c *Cache) insert(k Key, r mintResult) *Leaf {
	now := time.Now()
	expires := now.Add(c.cfg.TTL)
	if limit := r.notAfter.Add(-ttlMargin); limit.Before(expires) {
		expires = limit
	}
	size := 0
	for _, der := range r.chain {
		size += len(der)
	}
	l := &Leaf{Chain: r.chain, Key: r.key, NotAfter: r.notAfter, key: k, expires: expires, size: size}
	if old := c.m[k]; old != nil {
		c.remove(old)
	}
	l.Key.acquire()
	c.m[k] = l
	c.pushFront(l)
	c.bytes += size
	for len(c.m) > c.cfg.MaxEntries || (c.bytes > c.cfg.MaxBytes && c.tail != l) {
		c.remove(c.tail)
		evictions.Inc()
	}
	return l
}

// remove drops a leaf; when it was the last user of a rotated key, the key
// is destroyed.
func (c *Cache) remove(l *Leaf) {
	delete(c.m, l.key)
	c.unlink(l)
	c.bytes -= l.size
	if l.Key != nil {
		l.Key.release()
	}
	l.Chain = nil
}

// Len reports how many leaves are cached and their total DER size.
func (c *Cache) Len() (entries, bytes int) { return len(c.m), c.bytes }

// Close drops every leaf and destroys the keys.
func (c *Cache) Close() {
	for c.tail != nil {
		c.remove(c.tail)
	}
	if c.keys.ecdsa != nil {
		c.keys.retire(c.keys.ecdsa)
		c.keys.ecdsa = nil
	}
	if c.keys.rsa != nil {
		c.keys.retire(c.keys.rsa)
		c.keys.rsa = nil
	}
}

func (c *Cache) pushFront(l *Leaf) {
	l.prev, l.next = nil, c.head
	if c.head != nil {
		c.head.prev = l
	}
	c.head = l
	if c.tail == nil {
		c.tail = l
	}
}

func (c *Cache) unlink(l *Leaf) {
	if l.prev != nil {
		l.prev.next = l.next
	} else {
		c.head = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	} else {
		c.tail = l.prev
	}
	l.prev, l.next = nil, nil
}

func (c *Cache) moveToFront(l *Leaf) {
	if c.head == l {
		return
	}
	c.unlink(l)
	c.pushFront(l)
}
