// Package fuzz holds the fuzz targets CI runs against Lucid's parsers and
// protocol state machines. It has no non-test code; the targets live in
// *_test.go files and their seed inputs under testdata/.
//
// Run one target with, for example:
//
//	go test -run '^$' -fuzz '^FuzzClientHello$' -fuzztime 30s ./fuzz/
package fuzz
