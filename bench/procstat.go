package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/PID/stat's utime and stime: USER_HZ, which
// Linux fixes at 100 for every user-space ABI.
const userHZ = 100

// procCPU is the CPU time (user + system) process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("watched process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("watched process %d: malformed /proc stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("watched process %d: short /proc stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("watched process %d: malformed utime/stime in /proc stat", pid)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procRSS is the resident set size of process pid in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("watched process %d: %w", pid, err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			// "   12345 kB"
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10, nil
				}
			}
			break
		}
	}
	return 0, fmt.Errorf("watched process %d: no VmRSS in /proc status", pid)
}

// selfCPU is the CPU time (user + system) this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSample is the CPU used so far by this process and each watched one.
type cpuSample struct {
	self    time.Duration
	watched []time.Duration
}

func sampleCPU(pids []int) (cpuSample, error) {
	s := cpuSample{self: selfCPU(), watched: make([]time.Duration, len(pids))}
	for i, pid := range pids {
		d, err := procCPU(pid)
		if err != nil {
			return s, err
		}
		s.watched[i] = d
	}
	return s, nil
}

// watchKey is how watched process i is named in a Result.
func (o Options) watchKey(i int) string {
	if i < len(o.WatchNames) && o.WatchNames[i] != "" {
		return o.WatchNames[i]
	}
	return "pid:" + strconv.Itoa(o.Watch[i])
}

// raiseNoFile lifts the soft limit on open files towards need (bounded by
// the hard limit), since the idle workload and high concurrency hold many
// sockets at once.
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < need {
		return fmt.Errorf("the open-files limit is %d (hard), %d are needed: raise it (ulimit -Hn) or hold fewer connections", lim.Max, need)
	}
	return nil
}
