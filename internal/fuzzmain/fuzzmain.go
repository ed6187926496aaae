// Package fuzzmain is the TestMain of packages with fuzz targets, so that
// a bounded fuzz run (make fuzz) spends its time fuzzing. Such a package
// has a main_test.go that says
//
//	func TestMain(m *testing.M) { fuzzmain.Run(m) }
//
// Tests of any package import it; nothing else should.
package fuzzmain

import (
	"flag"
	"os"
	"testing"
)

// MinimizeTime is how long the fuzzer minimizes each new corpus entry
// unless -fuzzminimizetime is given. Go's default is 60s, and minimizing an
// input of n bytes tries O(n²) candidates: seeded with whole ClientHellos
// or certificates of 1-2 KB, both workers of a 30s run would spend it
// minimizing instead of fuzzing. A crasher is still minimized, within the
// same shorter limit.
const MinimizeTime = "2s"

// Run parses the test flags, sets -fuzzminimizetime to MinimizeTime when
// the command line left it alone, and runs the tests; it does not return.
func Run(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", MinimizeTime); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
