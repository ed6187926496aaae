package main

import (
	"bufio"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what testreport writes now")

// run feeds input to a report and returns what it wrote and whether the run passed.
func run(t *testing.T, input string, verbose bool) (string, bool) {
	t.Helper()
	var out strings.Builder
	w := bufio.NewWriter(&out)
	r := newReport(w, verbose)
	if err := r.read(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	passed := r.finish()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String(), passed
}

// TestMixedRun: a real `go test -json ./...` of packages that pass with skips, fail
// in a subtest, fail to build (compiler and vet), fail in TestMain, panic, have no
// test files, and one whose run was cut off, against what plain go test wrote for
// them (build errors included) and the summary.
func TestMixedRun(t *testing.T) {
	input, err := os.ReadFile("testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	got, passed := run(t, string(input), false)
	if passed {
		t.Error("a run with failures passed")
	}
	// What the golden file must hold whatever else changes in it.
	for _, want := range []string{
		"bad/b_test.go:3:28: undefined: undefinedThing\nFAIL\texample.com/demo/bad [build failed]\n",
		"vetbad/v_test.go:3:40: fmt.Printf format %d has arg \"x\" of wrong type string\n",
		"--- FAIL: TestFail (0.00s)\n    --- FAIL: TestFail/bad (0.00s)\n        g_test.go:11: boom\n",
		"FAIL\texample.com/demo/good\t0.014s\n",
		"?   \texample.com/demo/notests\t[no test files]\n",
		"    example.com/demo/good TestSkip\n        g_test.go:4: openssl is missing\n",
		"    example.com/demo/good TestSub/b\n        g_test.go:7: no curl\n",
		"    example.com/demo/vetbad [build failed]\n",
		"    example.com/demo/cutoff [no result]\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if !strings.HasSuffix(got, "\n4 passed, 7 failed, 2 skipped\n") {
		t.Errorf("the report does not end with the counts:\n%s", got)
	}
	if strings.Contains(got, "passing sub log") || strings.Contains(got, "=== RUN") {
		t.Error("the report shows output that plain go test hides (a passing subtest's log, framing)")
	}
	const golden = "testdata/mixed.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run TestMixedRun -update rewrites it):\n%s", golden, got)
	}
}

const passing = `{"Action":"start","Package":"example.com/demo/ok"}
{"Action":"run","Package":"example.com/demo/ok","Test":"TestA"}
{"Action":"output","Package":"example.com/demo/ok","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"example.com/demo/ok","Test":"TestA","Output":"    a_test.go:9: a log line plain go test does not show\n"}
{"Action":"output","Package":"example.com/demo/ok","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"example.com/demo/ok","Test":"TestA","Elapsed":0}
{"Action":"output","Package":"example.com/demo/ok","Output":"PASS\n"}
{"Action":"output","Package":"example.com/demo/ok","Output":"ok  \texample.com/demo/ok\t0.011s\n"}
{"Action":"pass","Package":"example.com/demo/ok","Elapsed":0.011}
{"Action":"start","Package":"example.com/demo/none"}
{"Action":"output","Package":"example.com/demo/none","Output":"?   \texample.com/demo/none\t[no test files]\n"}
{"Action":"skip","Package":"example.com/demo/none","Elapsed":0}
`

func TestRuns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string
		verbose bool
		want    string
		passed  bool
	}{
		{
			name:  "passing, nothing skipped",
			input: passing,
			want: "ok  \texample.com/demo/ok\t0.011s\n" +
				"?   \texample.com/demo/none\t[no test files]\n" +
				"\nskipped tests, counting subtests: none\n1 passed, 0 failed, 0 skipped\n",
			passed: true,
		},
		{
			name:    "verbose: every line as it comes",
			input:   passing,
			verbose: true,
			want: "=== RUN   TestA\n    a_test.go:9: a log line plain go test does not show\n--- PASS: TestA (0.00s)\n" +
				"PASS\nok  \texample.com/demo/ok\t0.011s\n?   \texample.com/demo/none\t[no test files]\n" +
				"\nskipped tests, counting subtests: none\n1 passed, 0 failed, 0 skipped\n",
			passed: true,
		},
		{
			name:   "no input: go test never ran",
			input:  "",
			want:   "FAIL\n\nskipped tests, counting subtests: none\ntestreport: no test results in the input\n0 passed, 0 failed, 0 skipped\n",
			passed: false,
		},
		{
			name:  "a line that is not JSON is written as it is",
			input: "go: warning: something\n" + passing,
			want: "go: warning: something\nok  \texample.com/demo/ok\t0.011s\n" +
				"?   \texample.com/demo/none\t[no test files]\n" +
				"\nskipped tests, counting subtests: none\n1 passed, 0 failed, 0 skipped\n",
			passed: true,
		},
		{
			name: "a skip without a message",
			input: `{"Action":"run","Package":"p","Test":"TestS"}
{"Action":"output","Package":"p","Test":"TestS","Output":"=== RUN   TestS\n"}
{"Action":"output","Package":"p","Test":"TestS","Output":"--- SKIP: TestS (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestS","Elapsed":0}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.001s\n"}
{"Action":"pass","Package":"p","Elapsed":0.001}
`,
			want: "ok  \tp\t0.001s\n\nskipped tests, counting subtests (1):\n    p TestS\n        (skipped without a message)\n" +
				"0 passed, 0 failed, 1 skipped\n",
			passed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, passed := run(t, tc.input, tc.verbose)
			if got != tc.want {
				t.Errorf("wrote:\n%s\nwant:\n%s", got, tc.want)
			}
			if passed != tc.passed {
				t.Errorf("passed = %v, want %v", passed, tc.passed)
			}
		})
	}
}
