// Package secmem is the zeroing slab that holds TLS key material and record
// buffers outside the Go heap.
//
// # Why not the Go heap
//
// The Go heap gives no control over where bytes end up: the garbage collector
// may keep a dead slice's contents for an unbounded time, freed spans are not
// cleared until reused, a core dump includes the whole heap, and the pages may
// be swapped out. Key custody (DESIGN.md) requires that keys live only in
// memory that is excluded from core dumps, locked where the process may lock
// memory, and zeroed when released. An [Arena] provides exactly that memory.
//
// # What an Arena guarantees
//
//   - Its bytes come from one anonymous mmap, never from the Go heap, so the
//     collector never copies, retains or scans them. Only bytes may be stored
//     there: a Go pointer kept in the slab is invisible to the collector.
//   - The whole mapping is madvise(MADV_DONTDUMP), so core dumps omit it, and
//     MADV_WIPEONFORK, so a forked child sees zeros instead of keys.
//   - With Config.Lock it is mlock(2)ed, so it is never written to swap. When
//     the kernel refuses (no CAP_IPC_LOCK and RLIMIT_MEMLOCK too small) the
//     arena still works, and [Arena.Stats] reports Locked=false with the
//     reason in LockErr, so the operator can tell; it never fails silently.
//   - A PROT_NONE guard page sits on each side of the usable range, so an
//     overrun off either end faults instead of reading a neighbour.
//   - Every block is zeroed, over its whole size class, by [Arena.Free] before
//     it can be handed out again, and [Arena.Close] zeroes the whole arena
//     before unmapping it: the kernel does not clear freed pages until it gives
//     them to their next user.
//   - The total is bounded by Config.Size. When it is used up, Alloc returns
//     [ErrExhausted]; it never falls back to the Go heap, which would quietly
//     break every guarantee above.
//
// # What it does not protect
//
// Only the bytes inside the arena. Copies made elsewhere are outside its
// reach: an AES key schedule expanded by crypto/aes, a big.Int or
// ecdsa.PrivateKey built from a key, slices a library returns, values spilled
// to goroutine stacks or held in registers, and the Go-heap slice that append
// allocates when it outgrows a block. Callers keep such copies as short-lived
// as they can and erase what they own with [Wipe]; the experimental
// runtime/secret package (GOEXPERIMENT=runtimesecret) can erase the stacks,
// registers and temporary heap objects of a call. Nor does the arena defend
// against a process that can read this one's memory (root, ptrace,
// /proc/PID/mem) or against hibernation images, which include locked pages.
//
// # Layout and concurrency
//
// An arena belongs to one event loop (one per core), so Alloc and Free take
// no locks; only [Arena.Stats] may be called from other goroutines, and it
// reads atomics. The usable range is carved into 64 KiB pages; a page is given
// to one size class when that class needs room and goes back to the shared
// pool when its last block is freed, so a shift in the traffic mix (many small
// key blocks, then many record buffers) does not strand memory. Free blocks
// must read as zero, so the allocator cannot keep its free lists inside the
// blocks the way a C slab does: all metadata (each page's class and a bitmap
// of its allocated blocks) lives on the Go heap, and only block bytes live in
// the mapping.
package secmem
