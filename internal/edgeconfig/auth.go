package edgeconfig

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/lucid-edge/lucid/internal/passhash"
)

// Values of serve_unauthenticated.
const (
	ServeLoopback = "loopback"
	ServeAny      = "any"
)

// verifiedTTL is how long a password that verified is accepted again
// without the slow hash: long enough that a keep-alive client opening a
// CONNECT per origin pays Argon2 about once, short enough that a user
// removed from the configuration by a reload is gone within it.
const verifiedTTL = 2 * time.Minute

// authenticator checks proxy credentials against the users' hashes.
//
// A slow hash costs tens of milliseconds and megabytes per check, so the
// checks run off the event loops (Authenticate blocks) and at most one per
// CPU at a time (slots), which bounds the memory a burst of logins takes.
//
// Each user remembers the last password that verified as a digest keyed
// with a per-process random salt (so the digest is not a fast hash of the
// password that could be attacked offline from a memory dump without the
// salt), for verifiedTTL. The cache only ever holds what verified against
// the stored hash: a wrong password misses it, pays the full check and
// leaves the entry alone, and an unknown name has no entry at all. It is
// bounded by the number of users, one entry each.
type authenticator struct {
	users map[string]*credential
	// dummy is checked for names that are not users, so that they cost
	// what a wrong password costs: it is a real user's hash (the first),
	// with the same parameters, and its result is thrown away.
	dummy   *passhash.Hash
	salt    [32]byte
	slots   chan struct{}
	now     func() time.Time
	noMatch verified // compared with for unknown names, so they cost what a cache miss does
}

type credential struct {
	hash     *passhash.Hash
	org      string
	verified atomic.Pointer[verified]
}

// verified is a password that verified for a user, as a keyed digest.
type verified struct {
	digest [sha256.Size]byte
	until  time.Time
}

func newAuthenticator() *authenticator {
	a := &authenticator{
		users: make(map[string]*credential),
		slots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		now:   time.Now,
	}
	rand.Read(a.salt[:]) // never fails (it crashes the program instead)
	rand.Read(a.noMatch.digest[:])
	return a
}

// digest keys a user name and password with the process's salt. Names
// hold no NUL (Validate refuses control characters), so the separator
// keeps name and password apart.
func (a *authenticator) digest(name, password string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(a.salt[:])
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// AuthRequired reports whether the proxy asks clients for credentials:
// with no users configured it does not, and every client belongs to the
// only organisation.
func (c *Config) AuthRequired() bool { return len(c.Users) > 0 }

// ClientAllowed reports whether the proxy serves a client from addr at
// all: with users configured, or serve_unauthenticated: any, every
// client (users still authenticate); otherwise only loopback clients, so
// that an edge without users is not an open proxy. It is cheap and safe
// to call on an event loop.
func (c *Config) ClientAllowed(addr netip.Addr) bool {
	return c.AuthRequired() || c.ServeUnauthenticated == ServeAny || addr.Unmap().IsLoopback()
}

// AuthenticateCached is the part of Authenticate that is safe on an event
// loop: it accepts a user name and password that verified within the last
// two minutes (one SHA-256, no slow hash) and reports false for anything
// else, which then needs Authenticate off the loop. Without users it
// returns the only organisation, as Authenticate does.
func (c *Config) AuthenticateCached(name, password string) (org string, ok bool) {
	if !c.AuthRequired() {
		return c.onlyOrg()
	}
	a := c.auth
	d := a.digest(name, password)
	cred := a.users[name]
	v := &a.noMatch
	if cred != nil {
		if p := cred.verified.Load(); p != nil {
			v = p
		}
	}
	match := subtle.ConstantTimeCompare(d[:], v.digest[:]) == 1
	if cred == nil || !match || !a.now().Before(v.until) {
		return "", false
	}
	return cred.org, true
}

// Authenticate checks a user name and password (from Proxy-Authorization)
// and returns the user's organisation. It blocks for the slow hash (tens
// of milliseconds, and waits while one check per CPU is running): call it
// off the event loop, after AuthenticateCached missed. An unknown user
// costs what a wrong password costs. Without users it returns the only
// organisation for any credentials. Safe for concurrent use.
func (c *Config) Authenticate(name, password string) (org string, ok bool) {
	if org, ok := c.AuthenticateCached(name, password); ok || !c.AuthRequired() {
		return org, ok
	}
	a := c.auth
	cred := a.users[name]
	h := a.dummy
	if cred != nil {
		h = cred.hash
	}
	a.slots <- struct{}{}
	match := h.Verify(password)
	<-a.slots
	if cred == nil || !match {
		return "", false
	}
	cred.verified.Store(&verified{digest: a.digest(name, password), until: a.now().Add(verifiedTTL)})
	return cred.org, true
}

func (c *Config) onlyOrg() (string, bool) {
	if len(c.Orgs) != 1 {
		return "", false // Validate refuses this configuration
	}
	return c.Orgs[0].ID, true
}
