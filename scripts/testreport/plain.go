package main

import (
	"bufio"
	"strings"
)

// go test -json runs tests verbosely: each test's output comes framed by "=== RUN"
// lines, its result line ("--- FAIL: TestX (0.01s)") after its log, and subtests
// at the margin. Plain go test writes only failed tests, each result line first,
// then what the test logged and its failed subtests, indented four spaces a level.
// testRun keeps what it takes to write a test that way.
type testRun struct {
	name   string
	parent *testRun
	depth  int    // 0 for a top-level test
	result string // its "--- FAIL: ..." line, unindented
	body   []part // its lines and failed subtests, in order
	ended  bool   // passed, failed or skipped

	failedSubtests int // at any depth
}

// part is a line of output or a failed subtest.
type part struct {
	line string
	test *testRun
}

// testRun finds or starts the record of a test; a subtest hangs under the test
// whose name is the longest prefix of its own ("TestX/a/b" under "TestX/a").
func (p *packageRun) testRun(name string) *testRun {
	if t := p.tests[name]; t != nil {
		return t
	}
	t := &testRun{name: name}
	for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
		if parent := p.tests[name[:i]]; parent != nil {
			t.parent, t.depth = parent, parent.depth+1
			break
		}
	}
	p.tests[name] = t
	return t
}

// output files a line of the test's output: framing goes, the result line is
// kept apart, the rest is its body.
func (t *testRun) output(line string) {
	if strings.HasPrefix(line, "=== ") {
		return // RUN, PAUSE, CONT, NAME
	}
	trimmed := strings.TrimLeft(line, " ")
	for _, verdict := range []string{"--- FAIL: ", "--- PASS: ", "--- SKIP: "} {
		if strings.HasPrefix(trimmed, verdict+t.name+" (") {
			t.result = trimmed
			return
		}
	}
	t.body = append(t.body, part{line: line})
}

// logged is what the test itself wrote, line by line, without the margin.
func (t *testRun) logged() []string {
	var lines []string
	for _, b := range t.body {
		if b.test == nil {
			lines = append(lines, strings.TrimSpace(b.line))
		}
	}
	return lines
}

// writePlain writes a failed package as plain go test does: the lines of no test
// (TestMain's, the final FAIL lines) and the failed tests, in the order they came.
func (p *packageRun) writePlain(w *bufio.Writer) {
	for _, b := range p.plain {
		if b.test != nil {
			b.test.writePlain(w)
		} else {
			w.WriteString(b.line)
		}
	}
}

func (t *testRun) writePlain(w *bufio.Writer) {
	indent := strings.Repeat("    ", t.depth)
	result := t.result
	if result == "" {
		result = "--- FAIL: " + t.name + "\n"
	}
	w.WriteString(indent + result)
	for _, b := range t.body {
		switch {
		case b.test != nil:
			b.test.writePlain(w)
		case strings.HasPrefix(b.line, " "):
			// What the test logged; a panic's trace stays at the margin.
			w.WriteString(indent + b.line)
		default:
			w.WriteString(b.line)
		}
	}
}
