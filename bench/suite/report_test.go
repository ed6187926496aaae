package suite

import (
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/bench"
)

// run is a measured round as the load generator reports it.
func run(rps, cpuMs float64) bench.Result {
	return bench.Result{RequestsPerSec: rps, Requests: int64(rps), ServerCPUmsPerReq: map[string]float64{"server": cpuMs}}
}

func TestGoalVerdicts(t *testing.T) {
	row := newRow("full", bench.Options{}, false)
	// Medians: Lucid 0.20 ms/req (5000 per CPU-s), the peer 0.25 (4000).
	row.Runs["Lucid"] = []bench.Result{run(900, 0.20), run(1000, 0.19), run(1100, 0.30)}
	row.Runs["peer"] = []bench.Result{run(1000, 0.25), run(1000, 0.25), run(1000, 0.20)}
	tab := &Table{Sides: []string{"Lucid", "peer", "absent"}, Rows: []*Row{row}}

	cases := []struct {
		g    Goal
		want string
	}{
		{Goal{Row: "full", Side: "peer", Metric: metricPerCPU, Target: 1.25}, "met"},
		{Goal{Row: "full", Side: "peer", Metric: metricPerCPU, Target: 1.6}, "short by 22%"},
		{Goal{Row: "full", Side: "peer", Metric: metricPerCPU, Target: 1.6, Scale: 2}, "met"},
		{Goal{Row: "full", Side: "absent", Metric: metricPerCPU, Target: 1.5}, "not measured: no figure for absent"},
		{Goal{Row: "other", Side: "peer", Metric: metricPerCPU, Target: 1.5}, "not measured"},
	}
	for _, c := range cases {
		g := c.g
		g.evaluate(tab)
		if g.Verdict != c.want {
			t.Errorf("goal %+v: verdict %q (measured %.3f), want %q", c.g, g.Verdict, g.Measured, c.want)
		}
	}

	idleRow := newRow("idle", bench.Options{}, true)
	idleRow.Runs["Lucid"] = []bench.Result{{IdleBytesPerConn: map[string]float64{"edge": 10 * 1024, originWatch: 99 * 1024}}}
	g := Goal{Row: "idle", Metric: metricIdle, Target: 8}
	g.evaluate(&Table{Sides: []string{"Lucid"}, Rows: []*Row{idleRow}})
	if g.Verdict != "short: 25% over the ceiling" || g.Measured != 10 {
		t.Errorf("idle goal: %q, %.1f KiB (the origin's memory must not count)", g.Verdict, g.Measured)
	}
}

// A side that failed every round is listed with why, and every one of its
// cells is a dash: the report never shows a figure it did not measure.
func TestReportHasNoFigureForFailedSide(t *testing.T) {
	row := newRow("1 name", bench.Options{}, true)
	row.Runs["Lucid"] = []bench.Result{run(700, 1.0)}
	row.Failures["squid"] = []string{"round 1: every request failed: 21 status (status 502)"}
	tab := &Table{ID: "inspect", Title: "Inspection", Sides: []string{"Lucid", "squid"}, Rows: []*Row{row},
		Skipped: []string{"goproxy: skipped, bin/goproxymitm is missing"}}
	res := &Results{Config: Defaults(), Tables: []*Table{tab}}
	var b strings.Builder
	if err := res.WriteMarkdown(&b, nil, "", "## Why Lucid is short\n\nBecause of X.\n"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if g, n := strings.Index(md, "## Goals"), strings.Index(md, "## Why Lucid is short\n\nBecause of X."); n < g || g < 0 {
		t.Errorf("the notes are not after the goals (goals at %d, notes at %d)", g, n)
	}
	for _, want := range []string{
		"| 1 name | squid | — | — | — | — | — | — | — | — | — | — |",
		"- goproxy: skipped, bin/goproxymitm is missing",
		"- 1 name, squid: round 1: every request failed",
		"| 1 name | Lucid | 700 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

// The h2 table reports the cost of inspection per side, and says loudly
// when a side's inspected HTTP/2 figure is an HTTP/1.1 fallback.
func TestReportCostOfInspectionAndFallback(t *testing.T) {
	h2run := func(cpuMs float64, protos map[string]int64) bench.Result {
		r := run(1000, cpuMs)
		r.Protocols = protos
		return r
	}
	in := newRow("inspected", bench.Options{}, true)
	in.Runs["Lucid"] = []bench.Result{h2run(0.06, map[string]int64{"h2": 4})}
	in.Runs["goproxy"] = []bench.Result{h2run(0.20, map[string]int64{"http/1.1": 4})}
	tun := newRow("tunnelled", bench.Options{}, true)
	tun.tunnelled = true
	tun.Runs["Lucid"] = []bench.Result{h2run(0.02, map[string]int64{"h2": 4})}
	tun.Runs["goproxy"] = []bench.Result{h2run(0.05, map[string]int64{"h2": 4})}
	tab := &Table{ID: "h2", Title: "HTTP/2", Sides: []string{"Lucid", "goproxy"}, Rows: []*Row{in, tun}}
	var b strings.Builder
	if err := (&Results{Config: Defaults(), Tables: []*Table{tab}}).WriteMarkdown(&b, nil, "", ""); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"Cost of inspection (server CPU ms per request, inspected ÷ tunnelled, medians): Lucid 3.00× (0.060 ÷ 0.020); goproxy 4.00× (0.200 ÷ 0.050).",
		"inspected, goproxy: http/1.1 4",
		"**goproxy did not speak HTTP/2 to the client on every connection",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "**Lucid did not speak HTTP/2") {
		t.Errorf("Lucid spoke h2 on every connection, yet the report says it fell back:\n%s", md)
	}
}
