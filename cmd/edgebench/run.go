package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lucid-edge/lucid/bench"
)

// runFlags are the flags of `edgebench run`, parsed into bench.Options.
type runFlags struct {
	fs       *flag.FlagSet
	o        bench.Options
	watch    string
	procs    int
	json     bool
	progress bool
	child    bool
	startAt  int64
	cpuProf  string
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError)}
	fs, o := f.fs, &f.o
	fs.StringVar(&o.Workload, "workload", "handshake", "handshake, inspect, keepalive, h2 (streams on few connections), pipeline (HTTP/1.1 requests back to back) or idle")
	fs.StringVar(&o.Target, "target", "", "TLS server host:port; through -proxy, the origin to CONNECT to (with -names, a pattern like o%d.bench.test:443)")
	fs.StringVar(&o.Proxy, "proxy", "", "HTTP CONNECT proxy host:port (inspect; optional for the others)")
	fs.StringVar(&o.ServerName, "sni", "", "TLS server name when direct (default: the target's host)")
	fs.StringVar(&o.CAFile, "cafile", "", "PEM roots the server's or proxy's certificates chain to (required)")
	fs.IntVar(&o.Names, "names", 1, "distinct origin names to cycle through (o1..oN)")
	fs.IntVar(&o.Concurrency, "c", 1, "parallel connections")
	fs.DurationVar(&o.Duration, "duration", 0, "measured run length (idle: how long connections are held, default 3s)")
	fs.IntVar(&o.Count, "count", 0, "requests to measure; the run ends at -duration or -count, whichever comes first")
	fs.DurationVar(&o.Warmup, "warmup", 0, "time before the measured window, not counted")
	fs.StringVar(&o.Group, "group", "x25519", "key exchange: x25519, x25519mlkem768, p256, p384")
	fs.StringVar(&o.Suite, "suite", "", "force one TLS 1.3 suite: aes128gcm, aes256gcm, chacha20 (default: any)")
	fs.BoolVar(&o.Resume, "resume", false, "resume TLS sessions (a session cache per connection slot)")
	fs.StringVar(&o.Path, "path", "/", "request path")
	fs.IntVar(&o.IdleConns, "idle-conns", 0, "idle: connections to open and hold")
	fs.IntVar(&o.Streams, "streams", 0, "h2: requests in flight per connection, as concurrent streams (default 16)")
	fs.IntVar(&o.Depth, "depth", 0, "pipeline: requests written back to back before reading the responses (default 8)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "limit on each connection's setup and each request")
	fs.StringVar(&o.Label, "label", "", "name of the run in its result (chart draws a line per label)")
	fs.StringVar(&f.watch, "watch", "", "server processes to measure: PID[,PID...] or name=PID[,name=PID...]")
	fs.IntVar(&f.procs, "procs", 1, "load generator processes (the concurrency and count are split among them)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fs.BoolVar(&f.progress, "progress", false, "print the live progress line even when stderr is not a terminal")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write the load generator's CPU profile to this file (go tool pprof reads it)")
	// Internal: a process started by -procs.
	fs.BoolVar(&f.child, "child", false, "internal: report as a -procs child")
	fs.Int64Var(&f.startAt, "start-at", 0, "internal: start at this Unix time in nanoseconds")
	return f
}

// parseWatch reads "1234,5678" or "edge=1234,squid=5678".
func parseWatch(s string) (pids []int, names []string, err error) {
	if s == "" {
		return nil, nil, nil
	}
	named := false
	for i, item := range strings.Split(s, ",") {
		name, pid, hasName := strings.Cut(item, "=")
		if !hasName {
			pid, name = name, ""
		}
		if i > 0 && hasName != named {
			return nil, nil, fmt.Errorf("-watch %q: name every PID or none", s)
		}
		named = hasName
		n, err := strconv.Atoi(strings.TrimSpace(pid))
		if err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("-watch %q: %q is not a PID", s, pid)
		}
		pids, names = append(pids, n), append(names, name)
	}
	if !named {
		names = nil
	}
	return pids, names, nil
}

func runCmd(args []string) int {
	f := newRunFlags()
	if err := f.fs.Parse(args); err != nil {
		return 2
	}
	if f.fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "edgebench run: unexpected argument %q\n", f.fs.Arg(0))
		return 2
	}
	var err error
	if f.o.Watch, f.o.WatchNames, err = parseWatch(f.watch); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench run:", err)
		return 2
	}
	if f.startAt != 0 {
		f.o.StartAt = time.Unix(0, f.startAt)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.cpuProf != "" {
		stopProfile, err := startCPUProfile(f.cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "edgebench run:", err)
			return 2
		}
		defer stopProfile()
	}

	var rep bench.Report
	switch {
	case f.child:
		return runChild(ctx, f.o)
	case f.procs > 1:
		rep, err = runProcs(ctx, f)
	case f.procs < 1:
		err = errors.New("-procs: want at least 1")
	default:
		if f.progress || isTerminal(os.Stderr) {
			f.o.Progress = os.Stderr
		}
		rep, err = bench.RunReport(ctx, f.o)
	}
	if rep.Histogram == nil { // the run never started: bad options
		fmt.Fprintln(os.Stderr, "edgebench run:", err)
		return 2
	}
	if f.json {
		b, _ := json.Marshal(rep.Result)
		fmt.Printf("%s\n", b)
	} else {
		printSummary(os.Stdout, rep.Result)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgebench run:", err)
		return 1
	}
	return 0
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startCPUProfile profiles this process (with -procs, the parent only
// waits: profile a single process to see where the client's CPU goes).
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
