package main

import (
	"crypto/tls"
	"sync"
)

// leafCache is goproxy's CertStorage: one signed leaf per host name, made
// once even when many connections for a new name arrive together, and at
// most max of them (when full, an arbitrary one makes room: the benchmark
// never holds more names than the cache, so the policy does not matter).
type leafCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*leafEntry
}

type leafEntry struct {
	ready chan struct{} // closed once cert or err is set
	cert  *tls.Certificate
	err   error
}

func newLeafCache(max int) *leafCache {
	return &leafCache{max: max, entries: make(map[string]*leafEntry)}
}

// Fetch returns the cached leaf for hostname, or makes it with gen. A
// failed gen is not cached, so the next connection tries again.
func (c *leafCache) Fetch(hostname string, gen func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	c.mu.Lock()
	if e, ok := c.entries[hostname]; ok {
		c.mu.Unlock()
		<-e.ready
		return e.cert, e.err
	}
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	e := &leafEntry{ready: make(chan struct{})}
	c.entries[hostname] = e
	c.mu.Unlock()

	e.cert, e.err = gen()
	close(e.ready)
	if e.err != nil {
		c.mu.Lock()
		if c.entries[hostname] == e {
			delete(c.entries, hostname)
		}
		c.mu.Unlock()
	}
	return e.cert, e.err
}
