package main

import (
	"bufio"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// report follows a `go test -json` stream: it writes each package's plain go test
// output when the package ends and keeps what the closing summary needs.
type report struct {
	out     *bufio.Writer
	verbose bool

	packages map[string]*packageRun // started and not yet ended
	seen     bool                   // any package at all

	passed, failed int
	skips          []skip
	failures       []string // "package test", or a package that failed outside its tests
}

// packageRun is one package's run so far.
type packageRun struct {
	path  string
	tests map[string]*testRun
	// plain is what plain go test writes for the package if it fails, in order:
	// the lines that belong to no test, and the failed top-level tests.
	plain []part
	// failedTests counts the package's failed tests: a package that fails without
	// any failed outside them.
	failedTests int
}

// skip is one skipped test and why.
type skip struct {
	pkg, test string
	why       []string // what it logged, usually the one line of t.Skip
}

func newReport(out *bufio.Writer, verbose bool) *report {
	return &report{out: out, verbose: verbose, packages: map[string]*packageRun{}}
}

// read consumes the stream to its end. A line that is not JSON is written as it
// is: it is not ours to judge.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			r.out.Write(sc.Bytes())
			r.out.WriteByte('\n')
			continue
		}
		r.event(e)
	}
	return sc.Err()
}

func (r *report) event(e event) {
	switch e.Action {
	case "build-output":
		// Plain go test writes build errors as the build reports them.
		r.out.WriteString(e.Output)
		return
	case "build-fail":
		// The package's own fail event follows, naming the build (FailedBuild).
		return
	}
	p := r.packageRun(e.Package)
	if e.Test == "" {
		r.packageEvent(p, e)
		return
	}
	t := p.testRun(e.Test)
	switch e.Action {
	case "output":
		if r.verbose {
			r.out.WriteString(e.Output)
		}
		t.output(e.Output)
	case "pass":
		t.ended, t.body = true, nil // plain go test never shows it
		r.passed++
	case "skip":
		t.ended = true
		r.skips = append(r.skips, skip{pkg: p.path, test: t.name, why: t.logged()})
	case "fail":
		t.ended = true
		r.failed++
		p.failedTests++
		if t.parent != nil {
			t.parent.body = append(t.parent.body, part{test: t})
		} else {
			p.plain = append(p.plain, part{test: t})
		}
		if t.failedSubtests == 0 {
			r.failures = append(r.failures, p.path+" "+t.name)
		}
		for q := t.parent; q != nil; q = q.parent {
			q.failedSubtests++
		}
	}
}

func (r *report) packageRun(path string) *packageRun {
	p := r.packages[path]
	if p == nil {
		p = &packageRun{path: path, tests: map[string]*testRun{}}
		r.packages[path] = p
		r.seen = true
	}
	return p
}

// packageEvent handles the package's own output and its end.
func (r *report) packageEvent(p *packageRun, e event) {
	switch e.Action {
	case "output":
		if r.verbose {
			r.out.WriteString(e.Output)
		}
		p.plain = append(p.plain, part{line: e.Output})
	case "pass", "skip":
		// A package that passes gets its ok line; one without tests its "?" line.
		if !r.verbose {
			for _, l := range p.plain {
				if l.test == nil && (strings.HasPrefix(l.line, "ok  \t") || strings.HasPrefix(l.line, "?   \t")) {
					r.out.WriteString(l.line)
				}
			}
		}
		r.end(p)
	case "fail":
		if !r.verbose {
			p.writePlain(r.out)
		}
		switch {
		case e.FailedBuild != "":
			r.failed++
			r.failures = append(r.failures, p.path+" [build failed]")
		case p.failedTests == 0:
			r.failed++
			r.failures = append(r.failures, p.path+" (failed outside its tests; its output is above)")
		}
		r.end(p)
	}
}

// running names the package's tests that started and never ended, in order.
func (p *packageRun) running() []string {
	var names []string
	for name, t := range p.tests {
		if !t.ended {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (r *report) end(p *packageRun) {
	delete(r.packages, p.path)
	r.out.Flush()
}

// finish writes what is left of packages the stream did not end, then the summary,
// and reports whether the run passed.
func (r *report) finish() bool {
	unended := make([]string, 0, len(r.packages))
	for path := range r.packages {
		unended = append(unended, path)
	}
	slices.Sort(unended)
	for _, path := range unended {
		p := r.packages[path]
		if !r.verbose {
			p.writePlain(r.out)
		}
		for _, t := range p.running() {
			r.out.WriteString("    still running: " + t + "\n")
		}
		r.out.WriteString("FAIL\t" + path + " [no result: the run stopped before this package ended]\n")
		r.failed++
		r.failures = append(r.failures, path+" [no result]")
		delete(r.packages, path)
	}
	passed := r.seen && r.failed == 0
	r.writeSummary(passed)
	return passed
}
