package authlimit

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(limit int, per time.Duration, maxClients int) (*Limiter, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(Config{Limit: limit, Per: per, MaxClients: maxClients, Now: c.now}), c
}

// fail records n failures, each after asking, as the proxy does; it
// returns how many were allowed.
func fail(l *Limiter, ip netip.Addr, n int) int {
	allowed := 0
	for range n {
		if l.Allow(ip) {
			allowed++
			l.Failed(ip)
		}
	}
	return allowed
}

func TestLimitAndRefill(t *testing.T) {
	l, clk := newTest(10, time.Minute, 0)
	ip := netip.MustParseAddr("192.0.2.1")
	if got := fail(l, ip, 50); got != 10 {
		t.Fatalf("%d failures allowed in a burst, want 10", got)
	}
	if l.Allow(ip) {
		t.Fatal("allowed after the limit")
	}
	clk.advance(5 * time.Second)
	if l.Allow(ip) {
		t.Fatal("allowed before a token (6s) came back")
	}
	clk.advance(time.Second)
	if got := fail(l, ip, 5); got != 1 {
		t.Fatalf("after 6s %d tries allowed, want 1", got)
	}
	clk.advance(time.Hour)
	if got := fail(l, ip, 50); got != 10 {
		t.Fatalf("after an hour %d tries allowed, want the full 10", got)
	}
	// A clock that steps back earns nothing and breaks nothing.
	clk.advance(-time.Hour)
	if l.Allow(ip) {
		t.Fatal("a clock stepping back refilled the bucket")
	}
}

func TestClientsAreSeparate(t *testing.T) {
	l, _ := newTest(3, time.Minute, 0)
	attacker := netip.MustParseAddr("2001:db8:1:2::1")
	fail(l, attacker, 3)
	for _, tc := range []struct {
		ip      string
		allowed bool
	}{
		{"2001:db8:1:2::1", false},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", false}, // same /64
		{"2001:db8:1:2::1%eth0", false},             // a zone changes nothing
		{"2001:db8:1:3::1", true},                   // the next /64
		{"192.0.2.1", true},
	} {
		if got := l.Allow(netip.MustParseAddr(tc.ip)); got != tc.allowed {
			t.Errorf("Allow(%s) = %v", tc.ip, got)
		}
	}
	v4 := netip.MustParseAddr("198.51.100.7")
	fail(l, netip.MustParseAddr("::ffff:198.51.100.7"), 3)
	if l.Allow(v4) {
		t.Error("an IPv4-mapped address got its own budget")
	}
	if !l.Allow(netip.MustParseAddr("198.51.100.8")) {
		t.Error("a neighbouring IPv4 address is refused (IPv4 is per address)")
	}
}

// A flood of distinct addresses must not grow the table past its bound.
func TestBoundedUnderFlood(t *testing.T) {
	l, _ := newTest(2, time.Minute, 1024)
	blocked := netip.MustParseAddr("203.0.113.9")
	fail(l, blocked, 2)
	for i := range 100000 {
		l.Failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if i%256 == 0 {
			l.Allow(blocked) // the blocked client keeps trying
		}
	}
	if n := l.Len(); n > 1024 {
		t.Fatalf("table holds %d clients, bound 1024", n)
	}
	if l.Allow(blocked) {
		t.Error("a refused client that kept trying was evicted by the flood")
	}
}

func TestConcurrent(t *testing.T) {
	l, _ := newTest(100, time.Hour, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	ip := netip.MustParseAddr("192.0.2.50")
	for range 8 {
		wg.Go(func() {
			n := 0
			for range 100 {
				l.Failed(ip)
				if l.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(n)})) {
					n++
				}
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if l.Allow(ip) {
		t.Error("800 concurrent failures left the client allowed")
	}
	if allowed == 0 {
		t.Error("no other client was allowed")
	}
}
