package origin

import utls "github.com/refraction-networking/utls"

// Upstream session resumption. One bounded cache serves every connection
// of a Dialer; handshake files its entries by the origin's address and the
// SNI, so a ticket is only ever offered to the address that issued it.
//
// TLS 1.2 resumes whenever the client offers session_ticket. TLS 1.3 needs
// a pre_shared_key extension, which a client sends only with a ticket it
// holds; a ticket the client holds is Lucid's own, useless to the origin,
// so the client's extension is never forwarded. When the client offers
// psk_key_exchange_modes, the mirrored hello gets a pre_shared_key
// extension that is sent only when the cache holds a ticket (adjustSpec):
// the origin then sees the client's hello with the one extension the
// client itself sends on a return visit. A client that offers no
// psk_key_exchange_modes never resumes.

// newSessionCache returns an LRU cache of size entries, or nil, which
// turns resumption off, for size 0. It is safe for concurrent use.
func newSessionCache(size int) utls.ClientSessionCache {
	if size <= 0 {
		return nil
	}
	return utls.NewLRUClientSessionCache(size)
}

// originSessionCache files the tickets of one origin address under that
// address: in transparent mode the SNI is whatever the client says, and a
// ticket for a name must not travel to another address claiming it.
type originSessionCache struct {
	cache  utls.ClientSessionCache
	origin string
}

func (c originSessionCache) Get(key string) (*utls.ClientSessionState, bool) {
	return c.cache.Get(c.origin + " " + key)
}

func (c originSessionCache) Put(key string, cs *utls.ClientSessionState) {
	c.cache.Put(c.origin+" "+key, cs)
}
