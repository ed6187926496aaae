package main

import "fmt"

// writeSummary writes the lines that close the run: go test's own closing FAIL
// when anything failed, then every skipped test and why, the failures by name,
// and the counts.
func (r *report) writeSummary(passed bool) {
	w := r.out
	if !passed {
		w.WriteString("FAIL\n")
	}
	w.WriteString("\n")
	if len(r.skips) == 0 {
		w.WriteString("skipped tests, counting subtests: none\n")
	} else {
		fmt.Fprintf(w, "skipped tests, counting subtests (%d):\n", len(r.skips))
		for _, s := range r.skips {
			fmt.Fprintf(w, "    %s %s\n", s.pkg, s.test)
			if len(s.why) == 0 {
				w.WriteString("        (skipped without a message)\n")
			}
			for _, line := range s.why {
				fmt.Fprintf(w, "        %s\n", line)
			}
		}
	}
	if len(r.failures) > 0 {
		w.WriteString("failed:\n")
		for _, f := range r.failures {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	if !r.seen {
		w.WriteString("testreport: no test results in the input\n")
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", r.passed, r.failed, len(r.skips))
}
