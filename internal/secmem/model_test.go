package secmem

import (
	"errors"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// runModel interprets prog as a sequence of Alloc and Free calls on a fresh
// small arena and checks every result against a model of the live blocks.
func runModel(t *testing.T, prog []byte) {
	a := newArena(t, Config{Size: smallArena})
	base := uintptr(unsafe.Pointer(&a.mem[0]))
	m := model{t: t, a: a, base: base}
	for len(prog) >= 3 {
		op, x, y := prog[0], prog[1], prog[2]
		prog = prog[3:]
		switch {
		case op%8 < 5 || len(m.live) == 0:
			m.alloc(sizeFrom(x, y))
		case op%8 < 7:
			m.free(int(x) % len(m.live))
		default:
			m.refuseStale()
		}
	}
	m.drain()
}

// sizeFrom picks a class with x and a size within it with y, so that every
// class and both of its ends are reached.
func sizeFrom(x, y byte) int {
	c := int(x) % numClasses
	lo := 0
	if c > 0 {
		lo = classSizes[c-1] + 1
	}
	return lo + int(y)*(classSizes[c]-lo)/255
}

type model struct {
	t      *testing.T
	a      *Arena
	base   uintptr
	live   [][]byte
	freed  [][]byte // blocks freed and possibly not allocated again
	allocs uint64
	frees  uint64
	inUse  int
}

func (m *model) alloc(n int) {
	b, err := m.a.Alloc(n)
	if errors.Is(err, ErrExhausted) {
		m.checkExhausted(classFor(n))
		return
	}
	if err != nil {
		m.t.Fatalf("Alloc(%d): %v", n, err)
	}
	lo, hi := addrOf(b), addrOf(b)+uintptr(cap(b))
	if len(b) != n || cap(b) != classSizes[classFor(n)] {
		m.t.Fatalf("Alloc(%d): len %d cap %d", n, len(b), cap(b))
	}
	if lo < m.base || hi > m.base+smallArena {
		m.t.Fatalf("Alloc(%d) = %#x-%#x, outside the arena", n, lo, hi)
	}
	for _, o := range m.live {
		if lo < addrOf(o)+uintptr(cap(o)) && addrOf(o) < hi {
			m.t.Fatalf("Alloc(%d) = %#x-%#x overlaps live block %#x+%d", n, lo, hi, addrOf(o), cap(o))
		}
	}
	if !allZero(b[:cap(b)]) {
		m.t.Fatalf("Alloc(%d) = %#x is not zeroed", n, lo)
	}
	fill(b[:cap(b)], byte(len(m.live))|1)
	m.live = append(m.live, b)
	m.allocs++
	m.inUse += cap(b)
	m.checkStats()
}

// checkExhausted fails unless the arena really had no room for class c: no
// free page, and every page of class c full. Live blocks tell the model which
// page holds which class, and one page never mixes classes.
func (m *model) checkExhausted(c int) {
	pageClass := map[uintptr]int{}
	pageBlocks := map[uintptr]int{}
	for _, b := range m.live {
		pg := (addrOf(b) - m.base) / pageSize
		if prev, ok := pageClass[pg]; ok && classSizes[prev] != cap(b) {
			m.t.Fatalf("page %d mixes %d and %d byte blocks", pg, classSizes[prev], cap(b))
		}
		pageClass[pg] = classFor(cap(b))
		pageBlocks[pg]++
	}
	if len(pageClass) < smallArena/pageSize {
		m.t.Fatalf("ErrExhausted for %d bytes with %d of %d pages empty", classSizes[c], smallArena/pageSize-len(pageClass), smallArena/pageSize)
	}
	for pg, pc := range pageClass {
		if pc == c && pageBlocks[pg] < pageSize/classSizes[c] {
			m.t.Fatalf("ErrExhausted for %d bytes with room in page %d", classSizes[c], pg)
		}
	}
}

func (m *model) free(i int) {
	b := m.live[i]
	m.live[i] = m.live[len(m.live)-1]
	m.live = m.live[:len(m.live)-1]
	// Free accepts any reslice that starts at the block.
	if err := m.a.Free(b[:len(b)/2]); err != nil {
		m.t.Fatalf("Free(%#x): %v", addrOf(b), err)
	}
	if !allZero(unsafe.Slice(&b[:1][0], cap(b))) {
		m.t.Fatalf("Free(%#x) left data behind", addrOf(b))
	}
	m.freed = append(m.freed, b)
	m.frees++
	m.inUse -= cap(b)
	m.checkStats()
}

// refuseStale frees a block freed earlier that no live block covers again,
// and expects a refusal that changes nothing.
func (m *model) refuseStale() {
	for len(m.freed) > 0 {
		b := m.freed[len(m.freed)-1]
		m.freed = m.freed[:len(m.freed)-1]
		if m.covered(b) {
			continue
		}
		err := m.a.Free(b)
		if !errors.Is(err, ErrDoubleFree) && !errors.Is(err, ErrForeignBlock) {
			m.t.Fatalf("stale Free(%#x): %v, want a refusal", addrOf(b), err)
		}
		m.checkStats()
		return
	}
}

func (m *model) covered(b []byte) bool {
	for _, o := range m.live {
		if addrOf(b) < addrOf(o)+uintptr(cap(o)) && addrOf(o) < addrOf(b)+uintptr(cap(b)) {
			return true
		}
	}
	return false
}

func (m *model) checkStats() {
	s := m.a.Stats()
	if s.InUse != m.inUse || s.Allocs != m.allocs || s.Frees != m.frees {
		m.t.Fatalf("Stats %+v, model InUse %d Allocs %d Frees %d", s, m.inUse, m.allocs, m.frees)
	}
}

// drain frees everything and checks that every page went back to the pool.
func (m *model) drain() {
	for len(m.live) > 0 {
		m.free(len(m.live) - 1)
	}
	for range smallArena / pageSize {
		if _, err := m.a.Alloc(65536); err != nil {
			m.t.Fatalf("Alloc(65536) on an empty arena: %v", err)
		}
	}
}

func TestRandomOpsAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 0x5ec))
		prog := make([]byte, 3*3000)
		for i := range prog {
			prog[i] = byte(r.Uint32())
		}
		t.Run("", func(t *testing.T) { runModel(t, prog) })
	}
}

func FuzzArenaOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 5, 0, 0, 7, 0, 0})
	f.Add([]byte{0, 5, 255, 0, 5, 255, 0, 5, 255, 0, 5, 255, 0, 5, 255, 5, 1, 0, 7, 0, 0})
	f.Fuzz(runModel)
}
