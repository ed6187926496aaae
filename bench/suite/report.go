package suite

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/lucid-edge/lucid/bench"
)

// WriteMarkdown writes BENCHMARKS.md: the goals and where Lucid stands,
// notes (Markdown written by people: why Lucid is short where it is,
// from profiles; left out when empty), the machine and versions, each
// table with its command, the charts (at the paths given, relative to the
// Markdown file) and, when micro is not empty, the Go microbenchmarks'
// benchstat summary.
func (res *Results) WriteMarkdown(w io.Writer, charts []string, micro, notes string) error {
	p := &printer{w: w}
	c := res.Config
	p.f("# Benchmarks\n\n")
	p.f("Lucid side by side with its peers, on one machine, in one run: written by `edgebench compare` "+
		"(`make bench`) on %s. Every figure is measured in this run; a peer that could not run is named "+
		"as skipped, never given a figure.\n\n", res.Date.Format("2006-01-02 15:04 UTC"))
	p.f("How to read it: each server under test runs alone on one core (taskset, GOMAXPROCS=1 / one worker), "+
		"the load generator on another; the sides take turns (A B C A B C …, %d rounds of %s after %s of warm-up "+
		"each) and each figure is the median of the rounds. **Server CPU ms per request** (user + system time of "+
		"the server's processes, from /proc, over the requests served) is the stable figure on a shared machine; "+
		"*req per server CPU-s* is its inverse, the throughput one saturated core would give, and it is what the "+
		"per-core goals are checked against. Ratios are the first side ÷ the other (above 1: Lucid does more).\n\n",
		c.Rounds, c.Duration, c.Warmup)

	p.f("## Goals\n\n| goal | table, row | measured | verdict |\n|---|---|---|---|\n")
	for _, t := range res.Tables {
		for _, g := range t.Goals {
			measured := "—"
			if !strings.HasPrefix(g.Verdict, "not measured") {
				if g.Metric == metricIdle {
					measured = fmt.Sprintf("%.1f KiB", g.Measured)
				} else {
					measured = fmt.Sprintf("%.2f× (%s)", g.Measured, g.Metric)
				}
			}
			p.f("| %s | %s, %s | %s | %s |\n", g.Text, t.ID, g.Row, measured, g.Verdict)
		}
	}
	p.f("\nWhere a goal is short, the way to find out why is a profile of the side that is short: " +
		"`go test -run '^$' -bench . -cpuprofile cpu.out ./tlsmitm/` for the TLS stack, or a CPU profile " +
		"of the running `edge` under the same workload (`go tool pprof`).\n\n")
	if notes = strings.TrimSpace(notes); notes != "" {
		p.f("%s\n\n", notes)
	}

	m := res.Machine
	p.f("## Machine and versions\n\n")
	p.f("- Date: %s\n- Machine: %d cores, %s; Linux %s; %s\n", res.Date.Format("2006-01-02 15:04:05 UTC"), m.Cores, m.CPU, m.Kernel, m.OS)
	p.f("- Server CPU: %s; load generator CPU: %s (shared with the inspection origin and Lucid's CA)\n", c.ServerCPU, c.LoadCPU)
	for _, v := range res.Versions {
		p.f("- %s: %s\n", v.Name, v.Version)
	}
	p.f("- Command: `%s`\n", c.Command)
	for _, n := range res.Notes {
		p.f("- %s\n", n)
	}
	p.f("\n")

	for _, t := range res.Tables {
		res.writeTable(p, t)
	}

	if len(charts) > 0 {
		p.f("## Requests/s against concurrency\n\n")
		p.f("One round per point below the highest concurrency; the highest is the table's median.\n\n")
		for _, ch := range charts {
			p.f("![%s](%s)\n\n", strings.TrimSuffix(filepath.Base(ch), ".svg"), filepath.ToSlash(ch))
		}
	}
	if micro != "" {
		p.f("## Go microbenchmarks\n\n`make bench` runs the microbenchmarks of the TLS stack's packages "+
			"(BENCHPKGS) before the comparison; benchstat's summary:\n\n```\n%s\n```\n", strings.TrimRight(micro, "\n"))
	}
	return p.err
}

func (res *Results) writeTable(p *printer, t *Table) {
	p.f("## %s\n\n%s\n\n", t.Title, t.Note)
	p.f("Command: `%s` (concurrency %d).\n\n", t.Command, t.Concurrency)
	for _, s := range t.Skipped {
		p.f("- %s\n", s)
	}
	if len(t.Skipped) > 0 {
		p.f("\n")
	}
	if len(t.Sides) == 0 {
		p.f("No side of this table ran.\n\n")
		return
	}
	ref := t.Sides[0]
	if t.ID == "idle" {
		p.f("| side | KiB per idle connection | %s ÷ side (below 1: %s holds less) | server CPU ms per connection set up | errors |\n|---|---|---|---|---|\n", ref, ref)
		for _, row := range t.Rows {
			r0, ok0 := median(row.Runs[ref], idle)
			for _, s := range t.Sides {
				kib, ok := median(row.Runs[s], idle)
				ratio := "—"
				if ok && ok0 && s != ref && kib > 0 {
					ratio = fmt.Sprintf("%.2f", r0/kib)
				}
				p.f("| %s | %s | %s | %s | %s |\n", s, num(kib, ok, "%.1f"), ratio, fig(row.Runs[s], cpuPerReq, "%.3f"), fig(row.Runs[s], errorsOf, "%.0f"))
			}
		}
		res.writeFailures(p, t)
		return
	}
	proxied := len(t.Rows) > 0 && t.Rows[0].viaProxy
	head := []string{"row", "side", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "req per server CPU-s"}
	if proxied {
		head = append(head, "origin CPU ms/req")
	}
	head = append(head, "load-gen CPU ms/req", "errors", ref+" ÷ side, req/s", ref+" ÷ side, per CPU-s")
	p.f("| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, row := range t.Rows {
		refRPS, okR := median(row.Runs[ref], rps)
		refCPU, okC := median(row.Runs[ref], perCPUSecond)
		for _, s := range t.Sides {
			runs := row.Runs[s]
			label := row.Label
			if row.opts.Resume {
				if v, ok := median(runs, resumed); ok {
					label += fmt.Sprintf(" (%.0f%% resumed)", v*100)
				}
			}
			r1, ok1 := median(runs, rps)
			c1, ok2 := median(runs, perCPUSecond)
			cells := []string{label, s, num(r1, ok1, "%.0f"), fig(runs, p50, "%.2f"), fig(runs, p99, "%.2f"),
				fig(runs, cpuPerReq, "%.3f"), num(c1, ok2, "%.0f")}
			if proxied {
				cells = append(cells, fig(runs, originCPU, "%.3f"))
			}
			cells = append(cells, fig(runs, loadgenCPU, "%.3f"), fig(runs, errorsOf, "%.0f"),
				ratio(s == ref, refRPS, r1, okR && ok1), ratio(s == ref, refCPU, c1, okC && ok2))
			p.f("| %s |\n", strings.Join(cells, " | "))
		}
	}
	res.writeFailures(p, t)
	if cost := inspectionCost(t); len(cost) > 0 {
		p.f("Cost of inspection (server CPU ms per request, inspected ÷ tunnelled, medians): %s.\n\n", strings.Join(cost, "; "))
	}
	if protos := protocolLines(t); len(protos) > 0 {
		p.f("Connections by the protocol each side negotiated with the client (all rounds): %s.\n\n", strings.Join(protos, "; "))
		for _, s := range fallbacks(t) {
			p.f("**%s did not speak HTTP/2 to the client on every connection: its figures here are (partly) its HTTP/1.1 "+
				"fallback, through the same client, not HTTP/2.**\n\n", s)
		}
	}
	if split := perProcess(t); len(split) > 0 {
		p.f("Server CPU ms/req by process (medians): %s.\n\n", strings.Join(split, "; "))
	}
	if pr := t.Profile; pr != nil {
		if pr.Err != "" {
			p.f("No profile of %s: %s.\n\n", pr.Side, pr.Err)
		} else {
			list := func(fs []Frame) string {
				var parts []string
				for _, f := range fs {
					parts = append(parts, fmt.Sprintf("`%s` %.0f%%", f.Name, f.Percent))
				}
				return strings.Join(parts, ", ")
			}
			p.f("Where the CPU of %s went (perf, one extra run of the %s row, not in the medians): %.0f%% of the samples "+
				"in the kernel. Functions with their callees: %s. Samples landed most in: %s.\n\n",
				pr.Side, pr.Row, pr.Kernel, list(pr.Frames), list(pr.Self))
		}
	}
	if limited := loadgenLimited(t); len(limited) > 0 {
		p.f("The load generator's core (with the origin, for inspection) spent more CPU per request than the server's for %s: there the load generator, "+
			"not the server, set the pace, so req/s compares little; the per-CPU-s figures still hold.\n\n",
			strings.Join(limited, "; "))
	}
}

// inspectionCost compares, per side, the inspected row's server CPU per
// request with the tunnelled row's (tables that have both).
func inspectionCost(t *Table) []string {
	var inspected, tunnelled *Row
	for _, row := range t.Rows {
		if row.tunnelled {
			tunnelled = row
		} else if inspected == nil {
			inspected = row
		}
	}
	if inspected == nil || tunnelled == nil {
		return nil
	}
	var out []string
	for _, s := range t.Sides {
		in, ok1 := median(inspected.Runs[s], cpuPerReq)
		tu, ok2 := median(tunnelled.Runs[s], cpuPerReq)
		if ok1 && ok2 && tu > 0 {
			out = append(out, fmt.Sprintf("%s %.2f× (%.3f ÷ %.3f)", s, in/tu, in, tu))
		}
	}
	return out
}

// protocolLines lists, for the rows whose runs counted ALPN protocols
// (h2), what each side's connections negotiated.
func protocolLines(t *Table) []string {
	var out []string
	for _, row := range t.Rows {
		for _, s := range t.Sides {
			sum := map[string]int64{}
			for _, r := range row.Runs[s] {
				for k, n := range r.Protocols {
					sum[k] += n
				}
			}
			if len(sum) == 0 {
				continue
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(sum)) {
				parts = append(parts, fmt.Sprintf("%s %d", k, sum[k]))
			}
			out = append(out, fmt.Sprintf("%s, %s: %s", row.Label, s, strings.Join(parts, ", ")))
		}
	}
	return out
}

// fallbacks names the sides of which some inspected h2 connection was
// not HTTP/2 on the client's side.
func fallbacks(t *Table) []string {
	var out []string
	for _, s := range t.Sides {
		for _, row := range t.Rows {
			if row.tunnelled || !slices.ContainsFunc(row.Runs[s], func(r bench.Result) bool { return r.Fallback() }) {
				continue
			}
			out = append(out, s)
			break
		}
	}
	return out
}

// perProcess splits the server CPU of the sides watched as more than one
// process (Lucid's edge and CA, squid and its helpers), row by row.
func perProcess(t *Table) []string {
	var out []string
	for _, row := range t.Rows {
		for _, s := range t.Sides {
			runs := row.Runs[s]
			names := map[string]bool{}
			for _, r := range runs {
				for k := range r.ServerCPUmsPerReq {
					if k != originWatch {
						names[k] = true
					}
				}
			}
			if len(names) < 2 {
				continue
			}
			var parts []string
			for _, k := range sortedKeys(names) {
				v, ok := median(runs, func(r bench.Result) (float64, bool) {
					x, ok := r.ServerCPUmsPerReq[k]
					return x, ok
				})
				if ok {
					parts = append(parts, fmt.Sprintf("%s %.3f", k, v))
				}
			}
			out = append(out, fmt.Sprintf("%s, %s: %s", row.Label, s, strings.Join(parts, ", ")))
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// loadgenLimited lists the row/side pairs where the load generator's CPU
// per request (with the origin's, which shares its core) exceeded the
// server's: with each on one core, the load generator's saturated first.
func loadgenLimited(t *Table) []string {
	var out []string
	for _, row := range t.Rows {
		var sides []string
		for _, s := range t.Sides {
			lg, ok1 := median(row.Runs[s], loadgenCPU)
			if o, ok := median(row.Runs[s], originCPU); ok {
				lg += o // the origin shares the load generator's core
			}
			sv, ok2 := median(row.Runs[s], cpuPerReq)
			if ok1 && ok2 && lg > sv {
				sides = append(sides, s)
			}
		}
		if len(sides) > 0 {
			out = append(out, row.Label+" ("+strings.Join(sides, ", ")+")")
		}
	}
	return out
}

func (res *Results) writeFailures(p *printer, t *Table) {
	var lines []string
	for _, row := range t.Rows {
		for _, s := range t.Sides {
			for _, f := range row.Failures[s] {
				lines = append(lines, fmt.Sprintf("- %s, %s: %s", row.Label, s, f))
			}
		}
	}
	if len(lines) > 0 {
		p.f("\nRounds without a figure (left out of the medians):\n\n%s\n", strings.Join(lines, "\n"))
	}
	p.f("\n")
}

func fig(runs []bench.Result, m metric, format string) string {
	v, ok := median(runs, m)
	return num(v, ok, format)
}

func num(v float64, ok bool, format string) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func ratio(self bool, ref, v float64, ok bool) string {
	if self || !ok || v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", ref/v)
}

// WriteCharts writes one SVG per sweep into dir and returns their paths.
func (res *Results) WriteCharts(dir string) ([]string, error) {
	if len(res.Sweeps) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, sw := range res.Sweeps {
		var series []bench.Series
		for _, s := range sw.Sides {
			var pts []bench.Point
			for _, c := range sw.Concurrency {
				if y, ok := sw.Points[s][c]; ok {
					pts = append(pts, bench.Point{X: float64(c), Y: y})
				}
			}
			if len(pts) > 0 {
				series = append(series, bench.Series{Name: s, Points: pts})
			}
		}
		if len(series) == 0 {
			continue
		}
		path := filepath.Join(dir, "bench-"+sw.Table+".svg")
		f, err := os.Create(path)
		if err != nil {
			return paths, err
		}
		err = bench.WriteSVGChart(f, sw.Title, "concurrency (connections in flight)", "requests/s", series)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// printer keeps the first write error, so the report reads straight.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
