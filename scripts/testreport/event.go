package main

// event is one line of `go test -json` (see `go doc test2json`): a test's or a
// package's progress, a line of its output, or a line of a failed build's output.
type event struct {
	Action  string // start, run, pause, cont, output, pass, fail, skip, build-output, build-fail
	Package string // the package under test ("" for build-output and build-fail)
	Test    string // the test ("" for the package itself)
	Output  string // a line of output, with its newline (output and build-output)

	// FailedBuild names the build that failed, when a package fails for want of a
	// test binary.
	FailedBuild string
}
