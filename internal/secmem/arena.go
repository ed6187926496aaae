package secmem

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultSize is the arena size used when Config.Size is 0.
const DefaultSize = 8 << 20

// Errors returned by Alloc and Free. A refused call changes nothing.
var (
	// ErrExhausted: no free block of the class and no free page to carve one.
	ErrExhausted = errors.New("secmem: arena exhausted")
	// ErrTooLarge: the request is larger than the largest size class.
	ErrTooLarge = errors.New("secmem: allocation larger than the largest size class")
	// ErrForeignBlock: the slice does not start at a block boundary of this
	// arena (Go heap memory, another arena, the middle of a block).
	ErrForeignBlock = errors.New("secmem: slice is not a block of this arena")
	// ErrDoubleFree: the slice starts at a block of this arena that is not
	// currently allocated.
	ErrDoubleFree = errors.New("secmem: block is not allocated (double free)")
	// ErrClosed: the arena was closed.
	ErrClosed = errors.New("secmem: arena closed")
)

// These are variables so tests can observe the kernel calls that cannot be
// provoked on demand: a refused mlock, and the arena's bytes just before unmap.
var (
	mlock  = unix.Mlock
	munmap = unix.Munmap
)

// Config sizes an arena.
type Config struct {
	// Size is the usable memory in bytes, rounded up to whole 64 KiB pages;
	// 0 means DefaultSize.
	Size int
	// Lock asks for mlock(2). A refusal is reported by Stats, not returned.
	Lock bool
}

// Stats is a snapshot of an arena's state.
type Stats struct {
	Size      int    // usable bytes; 0 after Close
	InUse     int    // bytes of allocated blocks, counted by size class
	Allocs    uint64 // successful Allocs
	Frees     uint64 // successful Frees
	Exhausted uint64 // Allocs refused with ErrExhausted
	Locked    bool   // the usable range is mlocked
	LockErr   string // why Lock was requested but not granted; "" otherwise
}

// Arena is a bounded slab of locked, undumpable, self-zeroing memory.
//
// An Arena is owned by one goroutine (an event loop): Alloc, Free and Close
// must not be called concurrently. Stats is safe from any goroutine.
type Arena struct {
	mapping []byte // the whole mmap, guard pages included, as Munmap needs it
	mem     []byte // the usable range between the guards
	closed  bool

	pages     []page
	freePages []int32           // page pool, used as a stack
	partial   [numClasses]int32 // per class, head of the list of pages with a free block

	// Written by the owner, read by Stats from anywhere.
	size      atomic.Int64
	inUse     atomic.Int64
	allocs    atomic.Uint64
	frees     atomic.Uint64
	exhausted atomic.Uint64
	locked    atomic.Bool
	lockErr   string // set before NewArena returns, never changed
}

// NewArena maps a new arena. It fails only if the kernel refuses the mapping
// or one of its protections (guard pages, MADV_DONTDUMP, MADV_WIPEONFORK):
// an arena without them would break the promises callers rely on. A refused
// mlock does not fail it; see Stats.
func NewArena(cfg Config) (*Arena, error) {
	size := cfg.Size
	if size < 0 {
		return nil, fmt.Errorf("secmem: negative size %d", size)
	}
	if size == 0 {
		size = DefaultSize
	}
	size = (size + pageSize - 1) / pageSize * pageSize
	guard := os.Getpagesize()

	m, err := unix.Mmap(-1, 0, guard+size+guard, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("secmem: mmap %d bytes: %w", guard+size+guard, err)
	}
	if err := protect(m, guard); err != nil {
		_ = unix.Munmap(m)
		return nil, err
	}

	a := &Arena{mapping: m, mem: m[guard : guard+size]}
	a.initPages(size / pageSize)
	a.size.Store(int64(size))
	if cfg.Lock {
		if err := mlock(a.mem); err != nil {
			a.lockErr = lockFailure(err, size)
		} else {
			a.locked.Store(true)
		}
	}
	return a, nil
}

// protect makes the first and last guard bytes of m inaccessible and keeps
// all of m out of core dumps and forked children.
func protect(m []byte, guard int) error {
	if err := unix.Mprotect(m[:guard], unix.PROT_NONE); err != nil {
		return fmt.Errorf("secmem: guard page: %w", err)
	}
	if err := unix.Mprotect(m[len(m)-guard:], unix.PROT_NONE); err != nil {
		return fmt.Errorf("secmem: guard page: %w", err)
	}
	if err := unix.Madvise(m, unix.MADV_DONTDUMP); err != nil {
		return fmt.Errorf("secmem: madvise(MADV_DONTDUMP): %w", err)
	}
	if err := unix.Madvise(m, unix.MADV_WIPEONFORK); err != nil {
		return fmt.Errorf("secmem: madvise(MADV_WIPEONFORK): %w", err)
	}
	return nil
}

// lockFailure says why mlock failed in terms an operator can act on.
func lockFailure(err error, size int) string {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) != nil {
		return fmt.Sprintf("mlock %d bytes: %v", size, err)
	}
	return fmt.Sprintf("mlock %d bytes: %v (RLIMIT_MEMLOCK is %d bytes; raise it or grant CAP_IPC_LOCK)", size, err, lim.Cur)
}

// Stats returns a snapshot of the arena's counters. It is safe to call from
// any goroutine, also during and after Close.
func (a *Arena) Stats() Stats {
	return Stats{
		Size:      int(a.size.Load()),
		InUse:     int(a.inUse.Load()),
		Allocs:    a.allocs.Load(),
		Frees:     a.frees.Load(),
		Exhausted: a.exhausted.Load(),
		Locked:    a.locked.Load(),
		LockErr:   a.lockErr,
	}
}

// Close zeroes the whole arena and unmaps it. Blocks still held become
// invalid: touching one afterwards faults, or worse, reaches whatever the
// kernel maps there next, so owners must drop every block first. munmap also
// removes the mlock, so no separate munlock is needed.
func (a *Arena) Close() error {
	if a.closed {
		return ErrClosed
	}
	a.closed = true
	clear(a.mem)
	err := munmap(a.mapping)
	a.mapping, a.mem, a.pages, a.freePages = nil, nil, nil, nil
	a.size.Store(0)
	a.inUse.Store(0)
	a.locked.Store(false)
	if err != nil {
		return fmt.Errorf("secmem: munmap: %w", err)
	}
	return nil
}

// Contains reports whether p points into the arena's usable memory: a way
// for callers and tests to check that a secret really sits in the slab.
func (a *Arena) Contains(p unsafe.Pointer) bool {
	if a.closed || len(a.mem) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	return uintptr(p) >= lo && uintptr(p) < lo+uintptr(len(a.mem))
}
