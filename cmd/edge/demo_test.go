package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// TestMakeRunDemo runs what `make run` runs (scripts/run-demo.sh) in a
// copy of the repository's layout: bin/ca, bin/edge and the script, with
// the data folder made there. It runs the curl command exactly as the
// script prints it, stops the script with SIGINT as Ctrl-C would, and
// checks that the CA, the origin and the edge all exited. A second run
// reuses the data folder.
func TestMakeRunDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the demo")
	}
	tlstest.NeedTool(t, "curl")
	tlstest.NeedTool(t, "bash")
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "scripts"), 0o755)
	script, err := os.ReadFile("../../scripts/run-demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "scripts", "run-demo.sh"), script, 0o755)
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bin")+string(filepath.Separator), ".", "../ca").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Addresses of its own, so a `make run` on this machine is not in the
	// way; the defaults are the same script with other numbers.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LUCID_") {
			env = append(env, kv)
		}
	}
	proxyAddr := freeAddr(t)
	env = append(env, "LUCID_PROXY="+proxyAddr, "LUCID_EDGE_ADMIN="+freeAddr(t), "LUCID_ORIGIN="+freeAddr(t),
		"LUCID_CA_ADMIN="+freeAddr(t), "LUCID_CA_KEYS="+freeAddr(t), "LUCID_CA_PUBLIC="+freeAddr(t))

	// A shell cannot trap a signal it was started with ignored (as `go test`
	// run in the background would pass SIGINT on); handling it here makes
	// it the default again in the script.
	if signal.Ignored(syscall.SIGINT) {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT)
		defer signal.Stop(ch)
	}

	runOnce := func(first bool) {
		demo := startProc(t, dir, "run-demo.sh", env, "./scripts/run-demo.sh")
		curlLine := "curl " + demo.waitLine(t, "curl ", 45*time.Second)
		printed := demo.output()
		for _, want := range []string{"proxy:          http://" + proxyAddr, "root to trust:  data/lucid-root.pem"} {
			if !strings.Contains(printed, want) {
				t.Errorf("the demo did not print %q:\n%s", want, printed)
			}
		}
		if first != strings.Contains(printed, "initialising the CA") {
			t.Errorf("first run %v, but the CA was initialised: %v\n%s", first, !first, printed)
		}
		var pids []int
		for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(printed, -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		if len(pids) != 3 {
			t.Fatalf("the demo printed %d pids, want 3 (CA, origin, edge):\n%s", len(pids), printed)
		}

		// The command exactly as printed.
		cmd := exec.Command("sh", "-c", curlLine)
		cmd.Dir, cmd.Env = dir, curlEnv()
		body, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s: %v\n%s", curlLine, err, stderr)
		}
		if string(body) != "hello from lucid\n" {
			t.Errorf("%s: body %q", curlLine, body)
		}
		// The edge writes its access log off its loops, at least every
		// 100ms.
		var log []byte
		for deadline := time.Now().Add(5 * time.Second); ; {
			log, _ = os.ReadFile(filepath.Join(dir, "data", "logs", "access.log"))
			if strings.Contains(string(log), `"sni":"demo.lucid.test"`) && strings.Contains(string(log), `"decision":"inspect"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the access log has no inspected request for demo.lucid.test:\n%s", log)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}

		// Ctrl-C.
		if code := demo.stop(t, syscall.SIGINT, 25*time.Second); code != 0 {
			t.Errorf("the demo exited %d after SIGINT\n%s", code, demo.output())
		}
		if !strings.Contains(demo.output(), "run-demo: stopped") {
			t.Errorf("the demo did not say it stopped:\n%s", demo.output())
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d is still there after the demo stopped (kill 0: %v)", pid, err)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	runOnce(true)
	if fi, err := os.Stat(filepath.Join(dir, "data", "ca-password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("data/ca-password: %v, %v", fi, err)
	}
	runOnce(false)
}
