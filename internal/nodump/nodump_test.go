package nodump

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// TestApply runs in a child process, since a process made undumpable
// cannot be made dumpable again by the same test binary's later tests
// without saying so: the child applies, then reports what the kernel says
// and what /metrics would say.
func TestApply(t *testing.T) {
	if mode := os.Getenv("NODUMP_CHILD"); mode != "" {
		if err := Apply(mode == "allow"); err != nil {
			t.Fatal(err)
		}
		on, err := Dumpable()
		if err != nil {
			t.Fatal(err)
		}
		var m strings.Builder
		metrics.WritePrometheus(&m, false)
		if on {
			t.Log("CHILD dumpable")
		} else {
			t.Log("CHILD undumpable")
		}
		if strings.Contains(m.String(), "lucid_process_dumpable 1") == !on || !strings.Contains(m.String(), "lucid_process_dumpable") {
			t.Fatalf("metric disagrees with the kernel (dumpable %v):\n%s", on, m.String())
		}
		return
	}
	for mode, want := range map[string]string{"deny": "CHILD undumpable", "allow": "CHILD dumpable"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestApply$", "-test.v")
		cmd.Env = append(os.Environ(), "NODUMP_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: %v\n%s", mode, err, out)
		}
	}
}
