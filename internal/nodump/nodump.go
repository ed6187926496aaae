// Package nodump closes the ways other processes of the same user read a
// process's memory: a core file, /proc/PID/mem and ptrace. The slab
// (internal/secmem) keeps key bytes out of cores page by page; this takes
// the whole process out of them, and out of reach of a debugger that is
// not root, which protects what the slab cannot hold (what Go's crypto
// copies to its heap, a key while it is parsed).
//
// PR_SET_DUMPABLE 0 (prctl(2)) makes the kernel write no core for the
// process on a crash, and makes /proc/PID/mem, /proc/PID/environ and
// ptrace(2) attach need CAP_SYS_PTRACE. It is inherited across fork and
// reset by execve (prctl(2)), so each process sets it itself: the edge and
// the CA do once their configuration is read, before they read any
// secret. A setting (allow_core_dumps) leaves the process dumpable, for
// debugging and for the tests that take a core to prove no secret is in
// it.
package nodump

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/VictoriaMetrics/metrics"
)

// The edge's /metrics (the default set) says whether the process may be
// dumped, so an operator sees one left dumpable; the CA adds GaugeValue
// to its own set.
var _ = metrics.NewGauge("lucid_process_dumpable", GaugeValue)

// Apply sets the process undumpable unless allow is true. It fails only
// when prctl does, and then the caller should refuse to start: a process
// asked to keep secrets out of cores must not run without it.
func Apply(allow bool) error {
	if allow {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("nodump: prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}

// Dumpable reports whether the process may be dumped (PR_GET_DUMPABLE).
func Dumpable() (bool, error) {
	v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return false, fmt.Errorf("nodump: prctl(PR_GET_DUMPABLE): %w", err)
	}
	return v != 0, nil
}

// GaugeValue is 1 while the process may be dumped, 0 when it may not (and
// when the kernel cannot say).
func GaugeValue() float64 {
	if on, err := Dumpable(); err == nil && on {
		return 1
	}
	return 0
}
