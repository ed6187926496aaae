package secmem

import (
	"math/bits"
	"unsafe"
)

// pageSize is the unit in which the arena hands memory to a size class.
const pageSize = 64 << 10

// classSizes are the block sizes, smallest first. 16896 holds a whole TLS
// record: 2^14 bytes of plaintext, 256 of ciphertext expansion and a 5-byte
// header, rounded up to 512. Only three fit in a page (a quarter of it idle),
// the price of uniform pages, which keep the page pool free of fragmentation.
var classSizes = [numClasses]int{64, 256, 1024, 4096, 16896, 65536}

const numClasses = 6

// maxBlocks is the most blocks a page can hold (of the smallest class).
const maxBlocks = pageSize / 64

// page is the Go-heap metadata of one 64 KiB page of the arena.
type page struct {
	allocated  [maxBlocks / 64]uint64 // bit i: block i is allocated
	used       int32                  // blocks allocated
	next, prev int32                  // links in the class's partial list; -1 ends it
	class      int8                   // the class this page was last carved for; -1 if never
	owned      bool                   // carved for class now; false while in the page pool
	listed     bool                   // on its class's partial list
}

func (a *Arena) initPages(n int) {
	a.pages = make([]page, n)
	a.freePages = make([]int32, n)
	for i := range a.pages {
		a.pages[i].class = -1
		// Reversed, so the pool hands out low addresses first.
		a.freePages[i] = int32(n - 1 - i)
	}
	for c := range a.partial {
		a.partial[c] = -1
	}
}

// classFor returns the smallest class that holds n bytes, or -1.
func classFor(n int) int {
	for c, s := range classSizes {
		if n <= s {
			return c
		}
	}
	return -1
}

// Alloc returns a zeroed block of len n from the smallest size class that
// holds n. Its cap is the whole class size, so a caller may reslice up to
// cap without leaving the arena (append beyond cap copies to the Go heap).
// A negative n panics, as make does.
func (a *Arena) Alloc(n int) ([]byte, error) {
	if n < 0 {
		panic("secmem: negative Alloc size")
	}
	if a.closed {
		return nil, ErrClosed
	}
	c := classFor(n)
	if c < 0 {
		return nil, ErrTooLarge
	}
	pg := a.partial[c]
	if pg < 0 {
		if pg = a.carve(c); pg < 0 {
			a.exhausted.Add(1)
			return nil, ErrExhausted
		}
	}
	p := &a.pages[pg]
	i := p.firstFree()
	p.allocated[i/64] |= 1 << (i % 64)
	p.used++
	if int(p.used) == pageSize/classSizes[c] {
		a.unlist(pg)
	}
	size := classSizes[c]
	off := int(pg)*pageSize + i*size
	a.inUse.Add(int64(size))
	a.allocs.Add(1)
	return a.mem[off : off+n : off+size], nil
}

// firstFree returns the lowest free block of a page on a partial list. Bits
// past the page's last block are never set, but the page has a free block
// below them, so the scan stops there first.
func (p *page) firstFree() int {
	for w, x := range p.allocated {
		if x != ^uint64(0) {
			return w*64 + bits.TrailingZeros64(^x)
		}
	}
	panic("secmem: full page on a partial list")
}

// Free zeroes b's whole block and makes it available again. b may be any
// reslice of an Alloc result that still starts at the block. A slice that is
// not a block of this arena, or a block not allocated now, is refused with
// ErrForeignBlock or ErrDoubleFree and nothing, the block included, changes.
//
// A stale slice to a block that has since been allocated again is
// indistinguishable from the new owner's, so freeing it twice frees the new
// owner's block; the allocator stays consistent, the other owner does not.
func (a *Arena) Free(b []byte) error {
	if a.closed {
		return ErrClosed
	}
	pg, i, err := a.locate(b)
	if err != nil {
		return err
	}
	p := &a.pages[pg]
	c := int(p.class)
	if !p.owned || p.allocated[i/64]&(1<<(i%64)) == 0 {
		return ErrDoubleFree
	}
	size := classSizes[c]
	off := int(pg)*pageSize + i*size
	clear(a.mem[off : off+size])
	p.allocated[i/64] &^= 1 << (i % 64)
	p.used--
	switch {
	case p.used == 0:
		a.release(pg)
	case !p.listed:
		a.list(pg)
	}
	a.inUse.Add(-int64(size))
	a.frees.Add(1)
	return nil
}

// locate maps b to its page and block index, or refuses it as foreign.
func (a *Arena) locate(b []byte) (pg int32, i int, err error) {
	if cap(b) == 0 {
		return 0, 0, ErrForeignBlock
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	if addr < base || addr-base >= uintptr(len(a.mem)) {
		return 0, 0, ErrForeignBlock
	}
	off := int(addr - base)
	pg = int32(off / pageSize)
	c := a.pages[pg].class
	if c < 0 {
		return 0, 0, ErrForeignBlock
	}
	size := classSizes[c]
	in := off % pageSize
	if in%size != 0 || in/size >= pageSize/size || cap(b) > size {
		return 0, 0, ErrForeignBlock
	}
	return pg, in / size, nil
}

// carve takes a page from the pool for class c and lists it; -1 if none.
func (a *Arena) carve(c int) int32 {
	n := len(a.freePages)
	if n == 0 {
		return -1
	}
	pg := a.freePages[n-1]
	a.freePages = a.freePages[:n-1]
	p := &a.pages[pg]
	p.class, p.owned = int8(c), true
	a.list(pg)
	return pg
}

// release returns an empty page to the pool. Its blocks are already zero.
// It keeps its class so that a late double free is still recognised.
func (a *Arena) release(pg int32) {
	if a.pages[pg].listed {
		a.unlist(pg)
	}
	a.pages[pg].owned = false
	a.freePages = append(a.freePages, pg)
}

func (a *Arena) list(pg int32) {
	p := &a.pages[pg]
	head := &a.partial[p.class]
	p.prev, p.next, p.listed = -1, *head, true
	if *head >= 0 {
		a.pages[*head].prev = pg
	}
	*head = pg
}

func (a *Arena) unlist(pg int32) {
	p := &a.pages[pg]
	if p.prev >= 0 {
		a.pages[p.prev].next = p.next
	} else {
		a.partial[p.class] = p.next
	}
	if p.next >= 0 {
		a.pages[p.next].prev = p.prev
	}
	p.prev, p.next, p.listed = -1, -1, false
}
