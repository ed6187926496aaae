// Command testreport is what `make test` pipes `go test -json` through. It writes
// what plain `go test` writes (the ok and FAIL lines of each package, the output of
// failed tests, build errors), then every skipped test with its package and the
// message it skipped with, and one closing line:
//
//	1409 passed, 1 failed, 2 skipped
//
// The counts are of tests and subtests alike, as go test reports them; a package
// that fails outside any test (its build, TestMain, a crash between tests) counts as
// one failure. It exits 1 when anything failed, or when the input ends before a
// package's result, so a pipeline that checks both sides (set -o pipefail) never
// passes a broken run.
//
// Usage:
//
//	go test -json ./... | testreport [-v]
//
// -v writes every line of output as it comes, as `go test -v` does.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	verbose := flag.Bool("v", false, "write every test's output, as go test -v does")
	flag.Parse()
	out := bufio.NewWriter(os.Stdout)
	r := newReport(out, *verbose)
	err := r.read(os.Stdin)
	passed := r.finish()
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	if !passed {
		os.Exit(1)
	}
}
