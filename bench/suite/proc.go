package suite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one server process the suite started: a side of a comparison,
// the origin behind the proxies, or Lucid's CA.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its standard output and error
	done chan struct{}
	err  error // how it ended, once done is closed
}

// startProc runs argv pinned to cpus (a taskset list, "" for no pinning)
// with extra environment variables, output to a log file in dir.
func startProc(dir, name, cpus string, env []string, argv ...string) (*proc, error) {
	if cpus != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, errors.New("taskset is missing (Debian: util-linux); it pins each server to its core")
		}
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	logPath := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Its own process group: a Ctrl-C on edgebench is handled by edgebench,
	// which stops its servers in order, and stop can signal helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the server's process id (taskset execs it, so the id is the same).
func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitListening waits until addr accepts TCP connections, the process
// exits, or timeout passes.
func (p *proc) waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting (%v); the end of %s:\n%s", p.name, p.err, p.log, tail(p.log, 15))
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s within %v; the end of %s:\n%s", p.name, addr, timeout, p.log, tail(p.log, 15))
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Helpers (squid's certificate generators) may outlive their parent
	// for a moment; the group kill above reaches them, this makes sure.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// descendants lists the processes below pid (squid's helpers), read from
// /proc/*/stat.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[n] = pp
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the last n lines of a file, indented, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// runQuiet runs a short command to completion and returns its output,
// with the output in the error when it fails.
func runQuiet(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// freeLoopbackPort returns addr if it can be bound now, or else the same
// port on the next loopback addresses (127.0.0.77:443, 127.0.0.78:443, ...).
// A gnet listener does not set SO_REUSEADDR, so the TIME_WAIT connections
// of the previous run's origin keep its address from being bound for a
// minute; the origin moves to a neighbour instead of waiting.
func freeLoopbackPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host).To4()
	if ip == nil || !ip.IsLoopback() {
		return addr, nil // not ours to move
	}
	var firstErr error
	for i := 0; i < 20 && int(ip[3])+i < 255; i++ {
		try := net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i)).String()
		a := net.JoinHostPort(try, port)
		ln, err := net.Listen("tcp", a)
		if err == nil {
			ln.Close()
			return a, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}
