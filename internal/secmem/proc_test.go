package secmem

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// vma is one mapping of /proc/self/smaps, with the fields the tests check.
type vma struct {
	start, end uintptr
	perms      string   // e.g. "rw-p", "---p"
	flags      []string // VmFlags, e.g. "rd", "dd", "lo"
	lockedKB   int      // the "Locked:" line
}

func (v vma) hasFlag(f string) bool {
	for _, g := range v.flags {
		if g == f {
			return true
		}
	}
	return false
}

// mappings reads /proc/self/smaps in address order.
func mappings(t *testing.T) []vma {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vma
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			lo, hi, _ := strings.Cut(fields[0], "-")
			vs = append(vs, vma{start: parseHex(t, lo), end: parseHex(t, hi), perms: fields[1]})
		case len(vs) > 0 && fields[0] == "VmFlags:":
			vs[len(vs)-1].flags = fields[1:]
		case len(vs) > 0 && fields[0] == "Locked:":
			vs[len(vs)-1].lockedKB, _ = strconv.Atoi(fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func parseHex(t *testing.T, s string) uintptr {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("smaps address %q: %v", s, err)
	}
	return uintptr(v)
}

// mappingAt returns the index of the mapping holding addr, or -1.
func mappingAt(vs []vma, addr uintptr) int {
	for i, v := range vs {
		if v.start <= addr && addr < v.end {
			return i
		}
	}
	return -1
}

// mappingOf returns the mapping holding addr. It reads smaps once: the
// runtime may map memory between two reads and shift the indices.
func mappingOf(t *testing.T, addr uintptr) vma {
	t.Helper()
	vs := mappings(t)
	i := mappingAt(vs, addr)
	if i < 0 {
		t.Fatalf("no mapping holds %#x", addr)
	}
	return vs[i]
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// capIPCLock reports whether this process may lock memory beyond its limit.
func capIPCLock(t *testing.T) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			const capIPCLockBit = 14
			return caps&(1<<capIPCLockBit) != 0
		}
	}
	return false
}
