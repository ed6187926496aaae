package secmem

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const smallArena = 256 << 10

func newArena(t testing.TB, cfg Config) *Arena {
	t.Helper()
	a, err := NewArena(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func mustAlloc(t testing.TB, a *Arena, n int) []byte {
	t.Helper()
	b, err := a.Alloc(n)
	if err != nil {
		t.Fatalf("Alloc(%d): %v", n, err)
	}
	return b
}

func mustFree(t testing.TB, a *Arena, b []byte) {
	t.Helper()
	if err := a.Free(b); err != nil {
		t.Fatalf("Free: %v", err)
	}
}

func TestFreedBlockReadsZero(t *testing.T) {
	for _, n := range []int{1, 64, 200, 1000, 4096, 16645, 65536} {
		a := newArena(t, Config{Size: smallArena})
		b := mustAlloc(t, a, n)
		fill(b[:cap(b)], 0xA5)
		kept := unsafe.Pointer(&b[0])
		size := cap(b)
		mustFree(t, a, b)

		// Still mapped: read what Free left behind through the old pointer.
		if !allZero(unsafe.Slice((*byte)(kept), size)) {
			t.Errorf("n=%d: freed block still holds data", n)
		}
		again := mustAlloc(t, a, n)
		if unsafe.Pointer(&again[0]) != kept {
			t.Errorf("n=%d: re-Alloc gave %p, want the freed block %p", n, &again[0], kept)
		}
		if !allZero(again[:cap(again)]) {
			t.Errorf("n=%d: re-allocated block is not zero", n)
		}
	}
}

func TestMappingIsUndumpableAndGuarded(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	first := mustAlloc(t, a, 64)
	base := addrOf(first)

	vs := mappings(t)
	i := mappingAt(vs, base)
	if i < 0 {
		t.Fatalf("no mapping holds the first block %#x", base)
	}
	v := vs[i]
	if v.start != base || v.end != base+smallArena || v.perms != "rw-p" {
		t.Errorf("arena mapping %#x-%#x %s, want %#x-%#x rw-p", v.start, v.end, v.perms, base, base+smallArena)
	}
	for _, f := range []string{"dd", "wf"} {
		if !v.hasFlag(f) {
			t.Errorf("VmFlags %v lack %q", v.flags, f)
		}
	}
	guard := uintptr(os.Getpagesize())
	if i == 0 || vs[i-1].end != v.start || vs[i-1].perms != "---p" || vs[i-1].start > v.start-guard {
		t.Errorf("no PROT_NONE guard page right before the arena")
	}
	if i+1 == len(vs) || vs[i+1].start != v.end || vs[i+1].perms != "---p" || vs[i+1].end < v.end+guard {
		t.Errorf("no PROT_NONE guard page right after the arena")
	}

	// The guards fault rather than read a neighbour.
	for name, p := range map[string]unsafe.Pointer{
		"before": unsafe.Add(unsafe.Pointer(&first[0]), -1),
		"after":  unsafe.Add(unsafe.Pointer(&first[0]), smallArena),
	} {
		if addr, ok := faultAt(p); !ok || addr != uintptr(p) {
			t.Errorf("reading the guard %s the arena: faulted=%v at %#x, want a fault at %p", name, ok, addr, p)
		}
	}
}

var sink byte

// faultAt reads one byte at p and reports the address of the fault, if any.
func faultAt(p unsafe.Pointer) (addr uintptr, faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e, ok := recover().(interface{ Addr() uintptr }); ok {
			addr, faulted = e.Addr(), true
		}
	}()
	sink = *(*byte)(p)
	return 0, false
}

func TestLockWhenPermitted(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		t.Fatal(err)
	}
	if !capIPCLock(t) && lim.Cur < smallArena {
		t.Skipf("may not lock %d bytes: no CAP_IPC_LOCK and RLIMIT_MEMLOCK is %d", smallArena, lim.Cur)
	}
	a := newArena(t, Config{Size: smallArena, Lock: true})
	if s := a.Stats(); !s.Locked || s.LockErr != "" {
		t.Fatalf("Stats: Locked=%v LockErr=%q, want locked", s.Locked, s.LockErr)
	}
	b := mustAlloc(t, a, 64)
	v := mappingOf(t, addrOf(b))
	if !v.hasFlag("lo") {
		t.Errorf("VmFlags %v lack \"lo\"", v.flags)
	}
	if v.lockedKB != smallArena>>10 {
		t.Errorf("smaps Locked: %d kB, want %d", v.lockedKB, smallArena>>10)
	}
}

func TestLockRefusedFallsBack(t *testing.T) {
	defer func(orig func([]byte) error) { mlock = orig }(mlock)
	mlock = func([]byte) error { return unix.EPERM }

	a := newArena(t, Config{Size: smallArena, Lock: true})
	s := a.Stats()
	if s.Locked {
		t.Error("Stats().Locked after a refused mlock")
	}
	for _, want := range []string{"operation not permitted", "RLIMIT_MEMLOCK"} {
		if !strings.Contains(s.LockErr, want) {
			t.Errorf("LockErr %q does not mention %q", s.LockErr, want)
		}
	}
	b := mustAlloc(t, a, 100)
	if v := mappingOf(t, addrOf(b)); v.hasFlag("lo") || !v.hasFlag("dd") {
		t.Errorf("VmFlags %v: want dd and no lo", v.flags)
	}
	fill(b, 1)
	mustFree(t, a, b)
	mustFree(t, a, mustAlloc(t, a, 100))
}

func TestNotLockedUnlessAsked(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	if s := a.Stats(); s.Locked || s.LockErr != "" {
		t.Errorf("Stats: Locked=%v LockErr=%q, want neither", s.Locked, s.LockErr)
	}
}

func TestArenaSize(t *testing.T) {
	tests := []struct {
		name       string
		size, want int
	}{
		{"default", 0, DefaultSize},
		{"one byte takes a page", 1, pageSize},
		{"whole pages kept", 3 * pageSize, 3 * pageSize},
		{"rounded up", 3*pageSize + 1, 4 * pageSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newArena(t, Config{Size: tt.size})
			if got := a.Stats().Size; got != tt.want {
				t.Errorf("Size %d, want %d", got, tt.want)
			}
		})
	}
	if _, err := NewArena(Config{Size: -1}); err == nil {
		t.Error("NewArena accepted a negative size")
	}
}

func TestSizeClasses(t *testing.T) {
	tests := []struct {
		n, class int
	}{
		{0, 64}, {1, 64}, {64, 64}, {65, 256}, {256, 256}, {257, 1024},
		{1024, 1024}, {1025, 4096}, {4096, 4096}, {4097, 16896},
		{16384 + 256 + 5, 16896}, {16896, 16896}, {16897, 65536}, {65536, 65536},
	}
	a := newArena(t, Config{Size: smallArena})
	for _, tt := range tests {
		b := mustAlloc(t, a, tt.n)
		if len(b) != tt.n || cap(b) != tt.class {
			t.Errorf("Alloc(%d): len %d cap %d, want len %d cap %d", tt.n, len(b), cap(b), tt.n, tt.class)
		}
		if got := a.Stats().InUse; got != tt.class {
			t.Errorf("Alloc(%d): InUse %d, want %d", tt.n, got, tt.class)
		}
		mustFree(t, a, b)
	}
	for _, n := range []int{65537, 1 << 20} {
		if b, err := a.Alloc(n); !errors.Is(err, ErrTooLarge) || b != nil {
			t.Errorf("Alloc(%d): %v, want ErrTooLarge", n, err)
		}
	}
}

func TestExhaustion(t *testing.T) {
	tests := []struct {
		n, blocks int // blocks of n that fill a 256 KiB arena
	}{
		{64, 4096}, {256, 1024}, {1024, 256}, {4096, 64}, {16896, 12}, {65536, 4},
	}
	for _, tt := range tests {
		a := newArena(t, Config{Size: smallArena})
		var live [][]byte
		seen := map[uintptr]bool{}
		for {
			b, err := a.Alloc(tt.n)
			if errors.Is(err, ErrExhausted) {
				break
			}
			if err != nil {
				t.Fatalf("Alloc(%d): %v", tt.n, err)
			}
			if seen[addrOf(b)] {
				t.Fatalf("Alloc(%d) returned %#x twice", tt.n, addrOf(b))
			}
			seen[addrOf(b)] = true
			live = append(live, b)
		}
		if len(live) != tt.blocks {
			t.Errorf("Alloc(%d): exhausted after %d blocks, want %d", tt.n, len(live), tt.blocks)
		}
		v := mappingOf(t, addrOf(live[0]))
		for _, b := range live {
			if addrOf(b) < v.start || addrOf(b)+uintptr(cap(b)) > v.end {
				t.Fatalf("block %#x+%d outside the arena mapping %#x-%#x", addrOf(b), cap(b), v.start, v.end)
			}
		}
		if s := a.Stats(); s.Exhausted != 1 || s.Allocs != uint64(tt.blocks) {
			t.Errorf("Stats: Exhausted %d Allocs %d, want 1 and %d", s.Exhausted, s.Allocs, tt.blocks)
		}

		mustFree(t, a, live[0])
		live[0] = mustAlloc(t, a, tt.n)
		// Pages go back to the pool once empty, so another class can use them.
		for _, b := range live {
			mustFree(t, a, b)
		}
		for range smallArena / pageSize {
			mustAlloc(t, a, 65536)
		}
	}
}

func TestExhaustedAcrossClasses(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	var small [][]byte
	for range 4 {
		small = append(small, mustAlloc(t, a, 64))
		for range pageSize/64 - 1 {
			mustAlloc(t, a, 64)
		}
	}
	if _, err := a.Alloc(65536); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Alloc(65536) with every page carved for 64 B: %v, want ErrExhausted", err)
	}
	mustFree(t, a, small[0])
	if _, err := a.Alloc(65536); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Alloc(65536) with every page partly used: %v, want ErrExhausted", err)
	}
	mustAlloc(t, a, 64)
	if got := a.Stats().Exhausted; got != 2 {
		t.Errorf("Exhausted %d, want 2", got)
	}
}

func TestFreeRefusals(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	other := newArena(t, Config{Size: smallArena})
	live := mustAlloc(t, a, 64)
	fill(live, 0x5A)
	record := mustAlloc(t, a, 16896)
	fill(record, 0x5A)
	freed := mustAlloc(t, a, 64)
	mustFree(t, a, freed)
	fromOther := mustAlloc(t, other, 64)
	pastRecords := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&record[0]), 3*16896)), 64)

	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, ErrForeignBlock},
		{"Go heap slice", make([]byte, 64), ErrForeignBlock},
		{"middle of a block", live[1:], ErrForeignBlock},
		{"block of another arena", fromOther, ErrForeignBlock},
		{"cap beyond the block", unsafe.Slice(&live[0], 128), ErrForeignBlock},
		{"page tail past the last block", pastRecords, ErrForeignBlock},
		{"never-carved page", unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&live[0]), 3*pageSize)), 64), ErrForeignBlock},
		{"double free", freed, ErrDoubleFree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.Stats()
			if err := a.Free(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("Free: %v, want %v", err, tt.want)
			}
			if after := a.Stats(); after != before {
				t.Errorf("Stats changed by a refused Free: %+v -> %+v", before, after)
			}
			if !bytes.Equal(live, bytes.Repeat([]byte{0x5A}, 64)) || !bytes.Equal(record, bytes.Repeat([]byte{0x5A}, 16896)) {
				t.Error("a refused Free touched a live block")
			}
		})
	}

	// The state is consistent afterwards: the neighbour of live is handed out
	// once, and everything frees cleanly.
	n1, n2 := mustAlloc(t, a, 64), mustAlloc(t, a, 64)
	if addrOf(n1) == addrOf(n2) {
		t.Fatal("same block handed out twice")
	}
	for _, b := range [][]byte{live, record, n1, n2} {
		mustFree(t, a, b)
	}
	if err := a.Free(live); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("double free after the page went back to the pool: %v, want ErrDoubleFree", err)
	}
	if s := a.Stats(); s.InUse != 0 || s.Allocs != s.Frees {
		t.Errorf("Stats after freeing all: %+v", s)
	}
}

func TestFreeNeverAllocatedBlockOfLivePage(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	live := mustAlloc(t, a, 256)
	neighbour := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&live[0]), 256)), 256)
	if err := a.Free(neighbour); !errors.Is(err, ErrDoubleFree) {
		t.Errorf("Free of an unallocated block: %v, want ErrDoubleFree", err)
	}
}

func TestClose(t *testing.T) {
	a, err := NewArena(Config{Size: smallArena, Lock: true})
	if err != nil {
		t.Fatal(err)
	}
	b := mustAlloc(t, a, 4096)
	fill(b, 0xFF)
	mustFree(t, a, mustAlloc(t, a, 64))
	base := addrOf(b)

	defer func(orig func([]byte) error) { munmap = orig }(munmap)
	sawZero := false
	munmap = func(m []byte) error {
		guard := os.Getpagesize()
		sawZero = allZero(m[guard : len(m)-guard])
		return unix.Munmap(m)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !sawZero {
		t.Error("arena not zeroed before munmap")
	}
	// The kernel may reuse the hole for the runtime's next mmap, but not
	// with the arena's flags.
	if vs := mappings(t); mappingAt(vs, base) >= 0 && vs[mappingAt(vs, base)].hasFlag("dd") {
		t.Errorf("arena still mapped after Close: %+v", vs[mappingAt(vs, base)])
	}
	want := Stats{Allocs: 2, Frees: 1}
	if got := a.Stats(); got != want {
		t.Errorf("Stats after Close: %+v, want %+v", got, want)
	}
	if _, err := a.Alloc(64); !errors.Is(err, ErrClosed) {
		t.Errorf("Alloc after Close: %v, want ErrClosed", err)
	}
	if err := a.Free(b); !errors.Is(err, ErrClosed) {
		t.Errorf("Free after Close: %v, want ErrClosed", err)
	}
	if err := a.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// Stats is read by the metrics goroutine while the loop allocates; run with
// -race to check it.
func TestStatsFromAnotherGoroutine(t *testing.T) {
	a := newArena(t, Config{Size: smallArena})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := a.Stats()
			if s.Allocs < last || s.InUse < 0 {
				t.Errorf("inconsistent Stats %+v after Allocs=%d", s, last)
				return
			}
			last = s.Allocs
			runtime.Gosched()
		}
	}()
	for range 10000 {
		mustFree(t, a, mustAlloc(t, a, 1024))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
}

func TestWipe(t *testing.T) {
	b := bytes.Repeat([]byte{0xA5}, 100)
	Wipe(b[10:20])
	if !allZero(b[10:20]) || b[9] != 0xA5 || b[20] != 0xA5 {
		t.Errorf("Wipe(b[10:20]) left %x", b)
	}
}

func BenchmarkAllocFree(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"16KiB", 16 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			a := newArena(b, Config{Size: smallArena, Lock: true})
			b.ReportAllocs()
			for b.Loop() {
				blk, err := a.Alloc(bc.n)
				if err != nil {
					b.Fatal(err)
				}
				if err := a.Free(blk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
