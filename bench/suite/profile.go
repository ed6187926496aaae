package suite

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Profile is where a side's CPU went during one extra run, from perf:
// the frames that take the largest share of its samples, callees
// included, and the share spent in the kernel.
type Profile struct {
	Side, Row string
	Kernel    float64 // % of samples in kernel code (self)
	Frames    []Frame // callees included: Lucid's, TLS and crypto frames
	Self      []Frame // the functions the samples landed in (user code)
	Err       string  // why there is no profile
}

// Frame is one function and the share of samples in it or below it.
type Frame struct {
	Name    string
	Percent float64
}

// interesting are the frames worth naming in a report: Lucid's own
// packages, the TLS and crypto code under them, and the Go runtime's
// allocator and collector.
var interesting = regexp.MustCompile(`lucid-edge/lucid/|refraction-networking/utls|^crypto/|^runtime\.(mallocgc|gcBgMarkWorker)$|^syscall\.(read|write|Syscall)$`)

// perfLine is a `perf report --children` line: children%, self%, [.] or [k], symbol.
var perfLine = regexp.MustCompile(`^\s*([0-9.]+)%\s+([0-9.]+)%\s+\[(.)\]\s+(.+?)\s*$`)

// profileRun records pid with perf while run runs, and reads the report.
func profileRun(ctx context.Context, dir, name string, pid int, run func()) *Profile {
	p := &Profile{}
	if _, err := exec.LookPath("perf"); err != nil {
		p.Err = "perf is not installed (Debian: linux-perf)"
		return p
	}
	data := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".perf")
	rec := exec.CommandContext(ctx, "perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", data)
	out := &strings.Builder{}
	rec.Stdout, rec.Stderr = out, out
	if err := rec.Start(); err != nil {
		p.Err = "perf record: " + err.Error()
		return p
	}
	time.Sleep(200 * time.Millisecond) // perf attaches before the load starts
	run()
	_ = rec.Process.Signal(syscall.SIGINT) // perf writes its data file and exits
	if err := rec.Wait(); err != nil && !strings.Contains(out.String(), "Captured and wrote") {
		p.Err = fmt.Sprintf("perf record: %v: %s", err, firstLine(fmt.Errorf("%s", strings.TrimSpace(out.String()))))
		return p
	}
	children, err := perfReport(ctx, data, "--children")
	if err != nil {
		p.Err = err.Error()
		return p
	}
	self, err := perfReport(ctx, data, "--no-children")
	if err != nil {
		p.Err = err.Error()
		return p
	}
	for _, l := range self {
		if l.kernel {
			p.Kernel += l.self
		} else if len(p.Self) < 8 {
			p.Self = append(p.Self, Frame{Name: shortName(l.sym), Percent: l.self})
		}
	}
	// Chains of one-callee wrappers share one percentage: keep the first
	// (outermost) frame of each, so the list names distinct costs.
	seen := map[string]bool{}
	shares := map[string]bool{}
	for _, l := range children {
		name := shortName(l.sym)
		share := strconv.FormatFloat(l.children, 'f', 1, 64)
		if l.kernel || !interesting.MatchString(l.sym) || seen[name] || shares[share] ||
			strings.Contains(l.sym, "gowrap") || strings.HasSuffix(l.sym, "-fm") || strings.Contains(l.sym, ".func") {
			continue
		}
		seen[name], shares[share] = true, true
		p.Frames = append(p.Frames, Frame{Name: name, Percent: l.children})
	}
	sort.SliceStable(p.Frames, func(i, j int) bool { return p.Frames[i].Percent > p.Frames[j].Percent })
	if len(p.Frames) > 12 {
		p.Frames = p.Frames[:12]
	}
	if len(p.Frames) == 0 {
		p.Err = "perf recorded no samples in Lucid's code"
	}
	return p
}

type perfEntry struct {
	children, self float64
	kernel         bool
	sym            string
}

// perfReport reads `perf report` by symbol, with mode --children or
// --no-children, down to 1% of the samples.
func perfReport(ctx context.Context, data, mode string) ([]perfEntry, error) {
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", data, mode, "--sort", "symbol",
		"--stdio", "-g", "none", "--percent-limit", "1").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report: %v", err)
	}
	var list []perfEntry
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var e perfEntry
		if m := perfLine.FindStringSubmatch(line); m != nil { // children%, self%
			e.children, _ = strconv.ParseFloat(m[1], 64)
			e.self, _ = strconv.ParseFloat(m[2], 64)
			e.kernel, e.sym = m[3] == "k", m[4]
		} else if m := perfSelfLine.FindStringSubmatch(line); m != nil { // self% only
			e.self, _ = strconv.ParseFloat(m[1], 64)
			e.children = e.self
			e.kernel, e.sym = m[2] == "k", m[3]
		} else {
			continue
		}
		e.sym = strings.TrimRight(strings.TrimSpace(e.sym), "- ")
		list = append(list, e)
	}
	return list, nil
}

// perfSelfLine is a `perf report --no-children` line: self%, [.] or [k], symbol.
var perfSelfLine = regexp.MustCompile(`^\s*([0-9.]+)%\s+\[(.)\]\s+(.+?)\s*$`)

func shortName(sym string) string {
	if i := strings.Index(sym, "[go.shape"); i > 0 { // generic instantiations: the function's name is enough
		sym = sym[:i]
	}
	sym = strings.TrimPrefix(sym, "github.com/lucid-edge/lucid/")
	return strings.TrimPrefix(sym, "github.com/refraction-networking/")
}
