// Package fuzz is the home of fuzz targets that span packages; there are
// none today. A parser's own target sits beside it, in the parser's
// package, as <thing>_fuzz_test.go beside <thing>.go (the ClientHello
// parser's is tlsmitm/clienthello_fuzz_test.go), with the inputs the fuzzer
// found under that package's testdata/fuzz/. Real ClientHellos, the seeds
// of every target that takes one, come from one corpus:
// internal/clienthellos.
//
// make fuzz (scripts/fuzz.sh) runs every Fuzz* target that
// `go test -list '^Fuzz'` finds in FUZZPKGS (./...), each for FUZZTIME;
// .ci/run runs it too. Run one target with, for example:
//
//	go test -run '^$' -fuzz '^FuzzClientHello$' -fuzztime 30s ./tlsmitm/
//
// Without -fuzz, `go test` replays each target's seeds as a test.
package fuzz
