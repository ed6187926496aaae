package certcache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// testLoop stands in for an event loop: RunOnLoop queues work that the
// test runs on its own goroutine, as gnet's Execute would on the loop's.
type testLoop struct{ q chan func() }

func newTestLoop() *testLoop { return &testLoop{q: make(chan func(), 1024)} }

func (l *testLoop) run(f func()) { l.q <- f }

// drain runs queued work until n callbacks have landed or a second passes.
func (l *testLoop) drain(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case f := <-l.q:
			f()
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d mints landed", i, n)
		}
	}
}

// fakeMint returns a chain naming the key it was given, and counts calls.
func fakeMint(calls *atomic.Int32, size int, notAfter time.Time) MintFunc {
	return func(pub crypto.PublicKey) ([][]byte, time.Time, error) {
		calls.Add(1)
		time.Sleep(5 * time.Millisecond) // long enough for a second request to join
		return [][]byte{make([]byte, size)}, notAfter, nil
	}
}

func testKey(name string) Key { return Key{Org: "acme", Name: name, Origin: [32]byte{1}} }

func TestMissMintsOnceAndThenHits(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run})
	now := time.Now()
	k := testKey("a.example")
	if c.Get(k, now) != nil {
		t.Fatal("empty cache returned a leaf")
	}
	var calls atomic.Int32
	var got []*Leaf
	for i := 0; i < 3; i++ {
		c.Mint(k, now, fakeMint(&calls, 100, now.Add(24*time.Hour)), func(l *Leaf, err error) {
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
			}
			got = append(got, l)
		})
	}
	loop.drain(t, 1)
	if calls.Load() != 1 {
		t.Fatalf("three requests for one leaf minted %d times", calls.Load())
	}
	if len(got) != 3 || got[0] != got[1] || got[1] != got[2] || got[0] == nil {
		t.Fatalf("waiters got %v, want the same leaf three times", got)
	}
	if l := c.Get(k, now); l != got[0] {
		t.Fatalf("Get after mint = %p, want %p", l, got[0])
	}
	if _, ok := got[0].Key.Signer.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("default leaf key is %T, want ECDSA", got[0].Key.Signer)
	}
}

func TestMintErrorReachesEveryWaiterAndCachesNothing(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run})
	now := time.Now()
	boom := errors.New("origin certificate unusable")
	var errs int
	for i := 0; i < 2; i++ {
		c.Mint(testKey("x"), now, func(crypto.PublicKey) ([][]byte, time.Time, error) {
			time.Sleep(5 * time.Millisecond)
			return nil, time.Time{}, boom
		}, func(l *Leaf, err error) {
			if l != nil || !errors.Is(err, boom) {
				t.Errorf("waiter got %v, %v", l, err)
			}
			errs++
		})
	}
	loop.drain(t, 1)
	if errs != 2 || c.Get(testKey("x"), now) != nil {
		t.Fatalf("errors delivered %d, cached after failure: %v", errs, c.Get(testKey("x"), now) != nil)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run, MaxEntries: 3})
	now := time.Now()
	var calls atomic.Int32
	for _, n := range []string{"a", "b", "c"} {
		c.Mint(testKey(n), now, fakeMint(&calls, 10, now.Add(24*time.Hour)), func(*Leaf, error) {})
		loop.drain(t, 1)
	}
	c.Get(testKey("a"), now) // a is now the most recent; b the least
	c.Mint(testKey("d"), now, fakeMint(&calls, 10, now.Add(24*time.Hour)), func(*Leaf, error) {})
	loop.drain(t, 1)
	for n, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := c.Get(testKey(n), now) != nil; got != want {
			t.Errorf("%s cached = %v, want %v", n, got, want)
		}
	}
}

func TestBoundedByBytes(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run, MaxBytes: 2500})
	now := time.Now()
	var calls atomic.Int32
	for _, n := range []string{"a", "b", "c"} {
		c.Mint(testKey(n), now, fakeMint(&calls, 1000, now.Add(24*time.Hour)), func(*Leaf, error) {})
		loop.drain(t, 1)
	}
	entries, bytes := c.Len()
	if entries != 2 || bytes != 2000 {
		t.Fatalf("cache holds %d leaves, %d bytes; want 2 and 2000", entries, bytes)
	}
	if c.Get(testKey("a"), now) != nil {
		t.Error("the oldest leaf survived a byte bound")
	}
}

func TestTTLShorterThanLeafLife(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run, TTL: time.Hour})
	now := time.Now()
	var calls atomic.Int32
	// This leaf expires in ten minutes: it must leave the cache a minute
	// before that, long before the hour-long TTL.
	c.Mint(testKey("short"), now, fakeMint(&calls, 10, now.Add(10*time.Minute)), func(*Leaf, error) {})
	c.Mint(testKey("long"), now, fakeMint(&calls, 10, now.Add(48*time.Hour)), func(*Leaf, error) {})
	loop.drain(t, 2)
	later := now.Add(9*time.Minute + 30*time.Second)
	if c.Get(testKey("short"), later) != nil {
		t.Error("a leaf was served within a minute of its own expiry")
	}
	if c.Get(testKey("long"), later) == nil {
		t.Error("a long-lived leaf expired before the TTL")
	}
	if c.Get(testKey("long"), now.Add(61*time.Minute)) != nil {
		t.Error("a leaf outlived the TTL")
	}
}

func TestKeyRotationDestroysOldKeyWithItsLastLeaf(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run, KeyRotation: time.Minute, MaxEntries: 10})
	now := time.Now()
	var calls atomic.Int32
	var first, second *Leaf
	c.Mint(testKey("a"), now, fakeMint(&calls, 10, now.Add(24*time.Hour)), func(l *Leaf, _ error) { first = l })
	loop.drain(t, 1)
	oldKey := first.Key
	oldPriv := oldKey.Signer.(*ecdsa.PrivateKey)

	c.Mint(testKey("b"), now.Add(2*time.Minute), fakeMint(&calls, 10, now.Add(24*time.Hour)), func(l *Leaf, _ error) { second = l })
	loop.drain(t, 1)
	if second.Key == oldKey {
		t.Fatal("the leaf key was not rotated after its interval")
	}
	if oldKey.Signer == nil {
		t.Fatal("the old key was destroyed while a cached leaf still uses it")
	}
	c.remove(c.m[testKey("a")])
	if oldKey.Signer != nil {
		t.Fatal("the old key outlived its last leaf")
	}
	//lint:ignore SA1019 the test reads the scalar's words to see them wiped
	for _, w := range oldPriv.D.Bits() {
		if w != 0 {
			t.Fatal("the destroyed key's scalar was not zeroed")
		}
	}
	if second.Key.Signer == nil {
		t.Fatal("the current key was destroyed")
	}
}

func TestRSALeafKeyMadeOffLoopAndShared(t *testing.T) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run})
	now := time.Now()
	var calls atomic.Int32
	var a, b *Leaf
	k := Key{Org: "acme", Name: "old-client.example", RSA: true}
	c.Mint(k, now, fakeMint(&calls, 10, now.Add(24*time.Hour)), func(l *Leaf, _ error) { a = l })
	loop.drain(t, 1)
	k2 := k
	k2.Name = "other.example"
	c.Mint(k2, now, fakeMint(&calls, 10, now.Add(24*time.Hour)), func(l *Leaf, _ error) { b = l })
	loop.drain(t, 1)
	if _, ok := a.Key.Signer.(*rsa.PrivateKey); !ok || a.Key.Signer.(*rsa.PrivateKey).N.BitLen() != 2048 {
		t.Fatalf("RSA leaf key is %T", a.Key.Signer)
	}
	if a.Key != b.Key {
		t.Fatal("two RSA leaves of one interval got different keys")
	}
}

func BenchmarkGetHit(b *testing.B) {
	loop := newTestLoop()
	c := New(Config{RunOnLoop: loop.run})
	now := time.Now()
	var calls atomic.Int32
	k := testKey("www.example.com")
	c.Mint(k, now, func(pub crypto.PublicKey) ([][]byte, time.Time, error) {
		calls.Add(1)
		return [][]byte{make([]byte, 800)}, now.Add(24 * time.Hour), nil
	}, func(*Leaf, error) {})
	(<-loop.q)()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Get(k, now) == nil {
			b.Fatal("miss")
		}
	}
}
