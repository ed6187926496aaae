package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lucid-edge/lucid/bench"
)

// One Go process stops scaling when its goroutines contend for the
// scheduler and the network poller; `run -procs N` starts N copies of
// edgebench, each with a share of the connections, and merges their
// reports. The copies start at one agreed moment, so their measured
// windows coincide and the server CPU each sees is the CPU all of them
// caused (bench.MergeReports).

// progressPrefix marks a child's progress line on its stderr.
const progressPrefix = "edgebench-progress "

// runChild runs as one of the processes of -procs: the report goes to
// stdout as JSON, progress to stderr as "edgebench-progress DONE FAILED".
func runChild(ctx context.Context, o bench.Options) int {
	o.OnProgress = func(done, failed int64) {
		fmt.Fprintf(os.Stderr, "%s%d %d\n", progressPrefix, done, failed)
	}
	rep, err := bench.RunReport(ctx, o)
	if rep.Histogram == nil {
		fmt.Fprintln(os.Stderr, "edgebench run:", err)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// share splits total into n parts that differ by at most one.
func share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

// childArgs are the flags given to the parent, minus those the parent
// handles, plus each child's share.
func childArgs(f *runFlags, i int, startAt time.Time) []string {
	var args []string
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "procs", "json", "progress", "c", "count", "child", "start-at":
			return
		}
		args = append(args, "-"+fl.Name+"="+fl.Value.String())
	})
	args = append(args, "-child", "-start-at="+strconv.FormatInt(startAt.UnixNano(), 10),
		"-c="+strconv.Itoa(share(f.o.Concurrency, f.procs, i)))
	if f.o.Count > 0 {
		args = append(args, "-count="+strconv.Itoa(share(f.o.Count, f.procs, i)))
	}
	return args
}

// runProcs runs f's workload in f.procs child processes and merges them.
func runProcs(ctx context.Context, f *runFlags) (bench.Report, error) {
	switch {
	case f.o.Workload == "idle":
		return bench.Report{}, errors.New("-procs: idle measures the server's memory in one process; leave -procs out")
	case f.o.Concurrency < f.procs:
		return bench.Report{}, fmt.Errorf("-procs %d with -c %d: every process needs a connection", f.procs, f.o.Concurrency)
	case f.o.Count > 0 && f.o.Count < f.procs:
		return bench.Report{}, fmt.Errorf("-procs %d with -count %d: every process needs a request", f.procs, f.o.Count)
	case f.procs > 64:
		return bench.Report{}, errors.New("-procs: at most 64")
	}
	exe, err := os.Executable()
	if err != nil {
		return bench.Report{}, err
	}
	// Long enough for every child to start and read its CA file.
	startAt := time.Now().Add(300*time.Millisecond + time.Duration(f.procs)*30*time.Millisecond)

	children := make([]*child, f.procs)
	for i := range children {
		cmd := exec.CommandContext(ctx, exe, append([]string{"run"}, childArgs(f, i, startAt)...)...)
		// On Ctrl-C the children stop their runs and still report.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
		cmd.WaitDelay = 15 * time.Second
		children[i] = &child{cmd: cmd}
	}
	var wg sync.WaitGroup
	for _, c := range children {
		if err := c.start(&wg); err != nil {
			for _, started := range children {
				if started.cmd.Process != nil {
					_ = started.cmd.Process.Kill()
				}
			}
			wg.Wait()
			return bench.Report{}, err
		}
	}
	stopProgress := func() {}
	if f.progress || isTerminal(os.Stderr) {
		stopProgress = showProgress(children, f.o.Workload)
	}
	wg.Wait()
	stopProgress()

	var reports []bench.Report
	var errs []error
	for i, c := range children {
		if c.err != nil {
			errs = append(errs, fmt.Errorf("process %d of %d: %v: %s", i+1, f.procs, c.err, strings.TrimSpace(c.stderr.String())))
			continue
		}
		reports = append(reports, c.report)
	}
	if len(reports) == 0 {
		return bench.Report{}, errors.Join(errs...)
	}
	rep, err := bench.MergeReports(reports)
	if err != nil {
		return rep, err
	}
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	if ctx.Err() != nil {
		return rep, errors.New("interrupted: the figures cover the run up to the interruption")
	}
	if rep.Result.Requests == 0 {
		return rep, errors.New("every request failed (see errors)")
	}
	return rep, nil
}

// child is one load generator process.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // its messages other than progress
	done   atomic.Int64
	failed atomic.Int64
	report bench.Report
	err    error
}

func (c *child) start(wg *sync.WaitGroup) error {
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("starting a load generator process: %w", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var out []byte
		readDone := make(chan struct{})
		go func() {
			c.readStderr(stderr)
			close(readDone)
		}()
		out, c.err = io.ReadAll(stdout)
		<-readDone
		if err := c.cmd.Wait(); err != nil && c.err == nil {
			c.err = err
		}
		if c.err == nil {
			if err := json.Unmarshal(out, &c.report); err != nil || c.report.Histogram == nil {
				c.err = fmt.Errorf("unreadable report %q", out)
			}
		}
	}()
	return nil
}

// readStderr takes the progress lines and keeps the rest for errors.
func (c *child) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, progressPrefix); ok {
			var done, failed int64
			if _, err := fmt.Sscan(rest, &done, &failed); err == nil {
				c.done.Store(done)
				c.failed.Store(failed)
				continue
			}
		}
		if c.stderr.Len() < 64<<10 {
			c.stderr.WriteString(line + "\n")
		}
	}
}

// showProgress prints the children's summed progress once per second.
func showProgress(children []*child, workload string) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		start := time.Now()
		var last int64
		for {
			select {
			case <-quit:
				fmt.Fprintln(os.Stderr)
				return
			case now := <-tick.C:
				var done, failed int64
				for _, c := range children {
					done += c.done.Load()
					failed += c.failed.Load()
				}
				fmt.Fprintf(os.Stderr, "\r%s x%d %5.1fs  %9d ok  %8d/s  %6d errors   ",
					workload, len(children), now.Sub(start).Seconds(), done, done-last, failed)
				last = done
			}
		}
	}()
	return func() { close(quit); <-exited }
}
