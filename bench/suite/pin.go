package suite

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PinSelf restricts every thread of this process to the CPUs of list
// ("1", "0-1", "1,3"), so the load generator stays off the servers' core.
// Linux sets affinity per thread and a new thread inherits its creator's,
// so setting all current threads (twice, for any made meanwhile) covers
// the threads the Go runtime starts later.
func PinSelf(list string) error {
	var set unix.CPUSet
	set.Zero()
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return fmt.Errorf("CPU list %q: %v", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return fmt.Errorf("CPU list %q: %v", list, err)
			}
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				return fmt.Errorf("pinning thread %d to CPUs %s: %w", tid, list, err)
			}
		}
	}
	return nil
}
