package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lucid-edge/lucid/bench/suite"
)

func init() {
	commands["compare"] = runCompare
	summaries["compare"] = "run Lucid and its peers side by side and write BENCHMARKS.md"
}

const compareUsage = `usage: edgebench compare [flags]

Runs Lucid side by side with its peers on loopback and writes BENCHMARKS.md
and the charts: handshakes (edge terminate, Go crypto/tls, nginx), inspection
(edge, squid ssl-bump, goproxy MITM), inspected HTTP/2 streams and pipelined
HTTP/1.1 requests against the same traffic tunnelled (edge, goproxy MITM),
memory per idle inspected connection, two loops against one. Needs bin/edge and bin/ca (make build) and the Go
peers in the same folder (make bench builds them); nginx and squid-openssl
are used when installed (make bench-peers), skipped with a line otherwise.
Run it as root: squid reaches the origin on port 443.

`

func runCompare(args []string) int {
	def := suite.Defaults()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, compareUsage); fs.PrintDefaults() }
	cfg := def
	fs.StringVar(&cfg.Bin, "bin", def.Bin, "folder with edge, ca, gotls and goproxymitm")
	fs.IntVar(&cfg.Rounds, "rounds", def.Rounds, "turns each side takes per figure (the figure is their median)")
	fs.DurationVar(&cfg.Duration, "duration", def.Duration, "measured window of each run")
	fs.DurationVar(&cfg.Warmup, "warmup", def.Warmup, "unmeasured start of each run")
	conc := fs.String("concurrency", joinInts(def.Concurrency), "comma-separated concurrencies: the tables run at the last, the charts sweep all")
	names := fs.String("names", joinInts(def.Names), "comma-separated origin name counts of the inspection rows")
	fs.IntVar(&cfg.IdleConns, "idle-conns", def.IdleConns, "connections the idle table holds")
	only := fs.String("only", "", "comma-separated tables to run: "+strings.Join(suite.TableIDs, ", ")+" (default all)")
	out := fs.String("out", "BENCHMARKS.md", "the Markdown report to write")
	charts := fs.String("charts", "bench/results", "folder for the SVG charts (bench-handshake.svg, bench-inspect.svg)")
	jsonOut := fs.String("json", "", "also write every run's figures (all rounds, not only medians) as JSON to this file")
	micro := fs.String("micro", "", "a benchstat summary of the Go microbenchmarks to include in the report")
	notesFile := fs.String("notes", "", "Markdown to include after the goals: why Lucid is short where it is (written by people, from profiles)")
	fs.StringVar(&cfg.ServerCPU, "server-cpu", def.ServerCPU, "CPU list (taskset) of the server under test")
	fs.StringVar(&cfg.LoadCPU, "load-cpu", def.LoadCPU, "CPU list of the load generator (this process), the origin and Lucid's CA")
	fs.StringVar(&cfg.OriginAddr, "origin", def.OriginAddr, "address of the bench origin (squid dials port 443)")
	fs.BoolVar(&cfg.KeepDir, "keep", false, "keep the run's temp folder (configurations, logs, throwaway keys)")
	fs.BoolVar(&cfg.Profile, "profile", false, "run Lucid once more per table under perf and report where its CPU went")
	quiet := fs.Bool("q", false, "no live progress line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "edgebench compare: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if cfg.Concurrency, err = parseInts(*conc); err != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: -concurrency: %v\n", err)
		return 2
	}
	if cfg.Names, err = parseInts(*names); err != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: -names: %v\n", err)
		return 2
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	cfg.Command = "edgebench compare " + strings.Join(quoteArgs(args), " ")
	cfg.Command = strings.TrimSpace(cfg.Command)
	cfg.Log = os.Stderr
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	var microText string
	if *micro != "" {
		b, err := os.ReadFile(*micro)
		if err != nil {
			fmt.Fprintf(os.Stderr, "edgebench compare: -micro: %v\n", err)
			return 2
		}
		microText = string(b)
	}
	var notes string
	if *notesFile != "" {
		b, err := os.ReadFile(*notesFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "edgebench compare: -notes: %v\n", err)
			return 2
		}
		notes = string(b)
	}
	if cfg.LoadCPU != "" {
		if err := suite.PinSelf(cfg.LoadCPU); err != nil {
			fmt.Fprintf(os.Stderr, "edgebench compare: %v\n", err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := suite.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: %v\n", err)
		if res == nil || len(res.Tables) == 0 {
			return 1
		}
		fmt.Fprintln(os.Stderr, "edgebench compare: writing the tables that finished")
	}
	paths, cerr := res.WriteCharts(*charts)
	if cerr != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: charts: %v\n", cerr)
	}
	// Chart links are relative to the report's folder.
	var rel []string
	for _, p := range paths {
		r, err := filepath.Rel(filepath.Dir(*out), p)
		if err != nil {
			r = p
		}
		rel = append(rel, r)
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, res); err != nil {
			fmt.Fprintf(os.Stderr, "edgebench compare: -json: %v\n", err)
		}
	}
	f, ferr := os.Create(*out)
	if ferr != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: %v\n", ferr)
		return 1
	}
	werr := res.WriteMarkdown(f, rel, microText, notes)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(os.Stderr, "edgebench compare: writing %s: %v\n", *out, werr)
		return 1
	}
	fmt.Fprintf(os.Stderr, "edgebench compare: wrote %s and %d chart(s) in %s, after %s\n",
		*out, len(paths), *charts, time.Since(start).Round(time.Second))
	if err != nil {
		return 1
	}
	return 0
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a comma-separated list of numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// quoteArgs quotes the arguments that a shell would split, for the
// command line the report records.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// writeJSON writes the results with every round's figures, for scripts.
func writeJSON(path string, res *suite.Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
