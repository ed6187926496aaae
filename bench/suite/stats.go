package suite

import (
	"fmt"
	"math"
	"sort"

	"github.com/lucid-edge/lucid/bench"
)

// A metric reads one figure from a run.
type metric func(bench.Result) (float64, bool)

func rps(r bench.Result) (float64, bool) { return r.RequestsPerSec, true }
func p50(r bench.Result) (float64, bool) { return r.P50ms, true }
func p99(r bench.Result) (float64, bool) { return r.P99ms, true }

// cpuPerReq is the server side's CPU per request: the sum over its
// watched processes (the edge and its CA; squid and its helpers).
func cpuPerReq(r bench.Result) (float64, bool) {
	for k := range r.ServerCPUmsPerReq {
		if k != originWatch {
			return serverCPU(r), true
		}
	}
	return 0, false
}

// perCPUSecond is requests per second of server CPU: the throughput one
// core would give, read from CPU time rather than from the clock, so it
// holds when the load generator, not the server, was the limit.
func perCPUSecond(r bench.Result) (float64, bool) {
	ms, ok := cpuPerReq(r)
	if !ok || ms <= 0 {
		return 0, false
	}
	return 1000 / ms, true
}

func loadgenCPU(r bench.Result) (float64, bool) {
	return r.LoadgenCPUmsPerReq, r.LoadgenCPUmsPerReq > 0
}
func errorsOf(r bench.Result) (float64, bool) { return float64(errorCount(r)), true }
func resumed(r bench.Result) (float64, bool)  { return r.Resumed, r.Resumed > 0 }

func idle(r bench.Result) (float64, bool) {
	if len(r.IdleBytesPerConn) == 0 {
		return 0, false
	}
	return idleKiB(r), true
}

// originWatch is the watch name of the bench origin in inspection runs:
// its CPU is shown apart, never added to a proxy's.
const originWatch = "origin"

func serverCPU(r bench.Result) float64 {
	var sum float64
	for k, v := range r.ServerCPUmsPerReq {
		if k != originWatch {
			sum += v
		}
	}
	return sum
}

// originCPU is the origin's CPU per request: it shows how many of the
// proxy's upstream connections were new handshakes.
func originCPU(r bench.Result) (float64, bool) {
	v, ok := r.ServerCPUmsPerReq[originWatch]
	return v, ok
}

func idleKiB(r bench.Result) float64 {
	var sum float64
	for k, v := range r.IdleBytesPerConn {
		if k != originWatch {
			sum += v
		}
	}
	return sum / 1024
}

func errorCount(r bench.Result) int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// median is the median of m over runs that have it.
func median(runs []bench.Result, m metric) (float64, bool) {
	var xs []float64
	for _, r := range runs {
		if v, ok := m(r); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2], true
	}
	return (xs[n/2-1] + xs[n/2]) / 2, true
}

func metricOf(name string) metric {
	switch name {
	case metricRPS:
		return rps
	case metricPerCPU:
		return perCPUSecond
	case metricIdle:
		return idle
	}
	panic("unknown metric " + name)
}

// evaluate reads the goal's figure from t's medians and says whether it is
// met, short by how much, or cannot be told (a side without figures).
func (g *Goal) evaluate(t *Table) {
	var row *Row
	for _, r := range t.Rows {
		if r.Label == g.Row {
			row = r
		}
	}
	if row == nil || len(t.Sides) == 0 {
		g.Verdict = "not measured"
		return
	}
	m := metricOf(g.Metric)
	ref, ok := median(row.Runs[t.Sides[0]], m)
	if !ok {
		g.Verdict = "not measured: no figure for " + t.Sides[0]
		return
	}
	if g.Side == "" { // a ceiling on the reference's own figure
		g.Measured = ref
		if ref <= g.Target {
			g.Verdict = "met"
		} else {
			g.Verdict = fmt.Sprintf("short: %.0f%% over the ceiling", (ref/g.Target-1)*100)
		}
		return
	}
	peer, ok := median(row.Runs[g.Side], m)
	if !ok || peer == 0 {
		g.Verdict = "not measured: no figure for " + g.Side
		return
	}
	g.Measured = ref / peer
	if g.Scale != 0 {
		g.Measured *= g.Scale
	}
	if g.Measured >= g.Target {
		g.Verdict = "met"
	} else {
		g.Verdict = fmt.Sprintf("short by %.0f%%", (1-g.Measured/g.Target)*100)
	}
}
