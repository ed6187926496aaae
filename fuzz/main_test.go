package fuzz

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens the fuzzer's minimization of new corpus entries unless
// -fuzzminimizetime is given. The seeds are whole ClientHellos of up to 2 KB,
// and minimizing one of those tries O(n²) candidates: with the default 60s
// limit both workers spend a 30s CI run minimizing instead of fuzzing.
// A crasher is still minimized, within the same shorter limit.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "2s"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
