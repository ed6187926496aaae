package suite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/bench"
)

// Results is everything one compare run measured, for the report.
type Results struct {
	Date     time.Time
	Machine  Machine
	Versions []Version
	Config   Config
	Tables   []*Table
	Sweeps   []*Sweep
	Notes    []string // things the run could not do, said once
}

// Sweep is requests/s against concurrency for each side of one workload:
// the data of one chart.
type Sweep struct {
	Title string
	Table string // the table it extends
	Row   string
	// Points[side][i] pairs with Concurrency[i]; a missing figure is absent
	// from the map for that side (never a zero).
	Concurrency []int
	Points      map[string]map[int]float64
	Sides       []string
}

type runner struct {
	ctx       context.Context
	cfg       Config
	env       *env
	ca        *lucidCA
	caErr     error
	origin    *proc
	originErr error
	// The origin of the h2 and pipeline tables, started for the first.
	h2Origin     *proc
	h2OriginAddr string
	h2OriginErr  error
	tableOrigin  *proc // the origin the current table's proxies forward to
	res          *Results
}

// Run starts the sides of each table in turn, measures them, stops them,
// and returns what it measured. It fails only when nothing at all can be
// compared (no bin/edge, a bad configuration); a peer that cannot start
// is a skipped side, recorded in its table.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	for _, b := range []string{"edge", "ca"} {
		if _, err := os.Stat(cfg.Bin + "/" + b); err != nil {
			return nil, fmt.Errorf("%s/%s is missing: run `make build` first", cfg.Bin, b)
		}
	}
	dir, err := os.MkdirTemp("", "edgebench-compare-")
	if err != nil {
		return nil, err
	}
	if cfg.KeepDir {
		cfg.logf("the run's folder (configurations, logs, throwaway keys) is %s; it is kept", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r := &runner{ctx: ctx, cfg: cfg,
		env: &env{dir: dir, bin: cfg.Bin, serverCPU: cfg.ServerCPU, loadCPU: cfg.LoadCPU, originAddr: cfg.OriginAddr},
		res: &Results{Date: time.Now().UTC(), Config: cfg}}
	if err := r.env.makeCerts(); err != nil {
		return nil, fmt.Errorf("making the run's certificates: %w", err)
	}
	r.res.Machine = readMachine()
	r.res.Versions = readVersions(cfg.Bin)
	defer r.stopShared()

	var tables []*Table
	if cfg.wants("handshake") {
		tables = append(tables, r.handshakeTable("handshake", "Handshakes, X25519 (one core each)", "x25519", true))
	}
	if cfg.wants("mlkem") {
		tables = append(tables, r.handshakeTable("mlkem", "Handshakes, X25519MLKEM768 (one core each)", "x25519mlkem768", false))
	}
	if cfg.wants("loops") {
		tables = append(tables, r.loopsTable())
	}
	if cfg.wants("inspect") {
		tables = append(tables, r.inspectTable())
	}
	for _, id := range []string{"h2", "pipeline"} {
		if cfg.wants(id) {
			tables = append(tables, r.multiplexTable(id))
		}
	}
	if cfg.wants("idle") {
		tables = append(tables, r.idleTable())
	}
	cfg.logf("%d tables, about %s of measuring", len(tables), r.estimate(tables).Round(time.Second))
	for _, t := range tables {
		t.Command = cfg.Command + " -only " + t.ID
		if err := r.runTable(t); err != nil {
			return r.res, err
		}
		r.res.Tables = append(r.res.Tables, t)
		if sw := r.sweep(t); sw != nil {
			r.res.Sweeps = append(r.res.Sweeps, sw)
		}
		for i := range t.Goals {
			t.Goals[i].evaluate(t)
		}
	}
	return r.res, nil
}

// estimate is the measuring time the tables and sweeps will take.
func (r *runner) estimate(tables []*Table) time.Duration {
	per := r.cfg.Duration + r.cfg.Warmup
	var n int
	for _, t := range tables {
		n += len(t.Rows) * len(t.starters) * r.cfg.Rounds
		if t.ID == "handshake" || t.ID == "inspect" {
			n += (len(r.cfg.Concurrency) - 1) * len(t.starters)
		}
	}
	return time.Duration(n) * per
}

// shared starts what the inspection tables share: the origin and Lucid's
// CA. A failure of the CA skips Lucid, not the peers.
func (r *runner) shared() error {
	if r.origin != nil {
		return nil
	}
	if r.originErr != nil {
		return r.originErr
	}
	addr, err := freeLoopbackPort(r.cfg.OriginAddr)
	if err != nil {
		r.originErr = fmt.Errorf("the bench origin cannot listen on %s (squid needs port 443: run as root, or give -origin): %w", r.cfg.OriginAddr, err)
		return r.originErr
	}
	if addr != r.cfg.OriginAddr {
		r.cfg.logf("origin: %s is busy (the last run's connections in TIME_WAIT?), so the origin listens on %s", r.cfg.OriginAddr, addr)
	}
	r.env.originAddr = addr
	p, err := r.env.startOrigin()
	if err != nil {
		r.originErr = fmt.Errorf("the bench origin did not start on %s (squid needs port 443: run as root, or give -origin): %w", r.cfg.OriginAddr, err)
		return r.originErr
	}
	r.origin = p
	r.cfg.logf("origin: edge terminate on %s (CPU %s)", r.env.originAddr, r.cfg.LoadCPU)
	r.startCA()
	return nil
}

// sharedH2 starts what the h2 and pipeline tables share: their origin
// and Lucid's CA.
func (r *runner) sharedH2() error {
	if r.h2Origin == nil && r.h2OriginErr == nil {
		r.h2Origin, r.h2OriginAddr, r.h2OriginErr = r.env.startH2Origin()
		if r.h2OriginErr != nil {
			r.h2OriginErr = fmt.Errorf("the HTTP/2 origin (gotls -h2) did not start: %w", r.h2OriginErr)
		} else {
			r.cfg.logf("HTTP/2 origin: gotls -h2 on %s (CPU %s)", r.h2OriginAddr, r.cfg.LoadCPU)
		}
	}
	if r.h2OriginErr != nil {
		return r.h2OriginErr
	}
	r.startCA()
	return nil
}

// startCA starts Lucid's CA once; a failure skips Lucid, not the peers.
func (r *runner) startCA() {
	if r.ca != nil || r.caErr != nil {
		return
	}
	if r.ca, r.caErr = r.env.startLucidCA(r.ctx); r.caErr != nil {
		r.caErr = fmt.Errorf("the CA (ca serve) did not start: %w", r.caErr)
	} else {
		r.cfg.logf("Lucid's CA: ca serve, organisation %q, edge enrolled", benchOrg)
	}
}

func (r *runner) stopShared() {
	if r.ca != nil {
		r.ca.proc.stop(5 * time.Second)
	}
	if r.origin != nil {
		r.origin.stop(5 * time.Second)
	}
	if r.h2Origin != nil {
		r.h2Origin.stop(5 * time.Second)
	}
}

func (r *runner) runTable(t *Table) error {
	r.cfg.logf("table %s: %s", t.ID, t.Title)
	var start func() error
	switch t.ID {
	case "inspect", "idle":
		start = r.shared
	case "h2", "pipeline":
		start = r.sharedH2
	}
	r.tableOrigin = nil
	if start != nil {
		if err := start(); err != nil {
			// Without the origin nothing in this table can run.
			for _, st := range t.starters {
				r.skip(t, st.name, err)
			}
			return nil
		}
		r.tableOrigin = r.origin
		if t.ID == "h2" || t.ID == "pipeline" {
			r.tableOrigin = r.h2Origin
		}
	}
	if t.fresh {
		return r.runFresh(t)
	}
	var sides []*side
	defer func() {
		for _, s := range sides {
			s.stop()
		}
	}()
	for _, st := range t.starters {
		s, err := st.start()
		if err != nil {
			r.skip(t, st.name, err)
			continue
		}
		sides = append(sides, s)
		t.Sides = append(t.Sides, s.Name)
	}
	for _, row := range t.Rows {
		for round := 1; round <= r.cfg.Rounds; round++ {
			for _, s := range sides {
				if err := r.ctx.Err(); err != nil {
					return err
				}
				r.record(t, row, s, round)
			}
		}
	}
	if r.cfg.Profile && len(sides) > 0 && sides[0].Name == t.Sides[0] && len(t.Rows) > 0 {
		r.profile(t, sides[0])
	}
	return nil
}

// profile runs the first row once more against the reference side under
// perf; the run is not counted in the medians (perf costs CPU too).
func (r *runner) profile(t *Table, s *side) {
	row := t.Rows[0]
	pids, _ := s.watch()
	r.cfg.logf("table %s: profiling %s under perf (%s, one extra run)", t.ID, s.Name, row.Label)
	t.Profile = profileRun(r.ctx, r.env.dir, t.ID+"-"+s.Name, pids[0], func() {
		if _, err := r.measure(s, row.opts, row.viaProxy); err != nil {
			r.cfg.logf("table %s: the profiled run failed: %v", t.ID, firstLine(err))
		}
	})
	t.Profile.Side, t.Profile.Row = s.Name, row.Label
	if t.Profile.Err != "" {
		r.cfg.logf("table %s: no profile: %s", t.ID, t.Profile.Err)
	}
}

// runFresh starts each side for one run and stops it after.
func (r *runner) runFresh(t *Table) error {
	skipped := map[string]bool{}
	for _, row := range t.Rows {
		for round := 1; round <= r.cfg.Rounds; round++ {
			for _, st := range t.starters {
				if err := r.ctx.Err(); err != nil {
					return err
				}
				if skipped[st.name] {
					continue
				}
				s, err := st.start()
				if err != nil {
					skipped[st.name] = true
					r.skip(t, st.name, err)
					continue
				}
				if !containsString(t.Sides, s.Name) {
					t.Sides = append(t.Sides, s.Name)
				}
				r.record(t, row, s, round)
				s.stop()
			}
		}
	}
	return nil
}

func (r *runner) skip(t *Table, name string, err error) {
	line := fmt.Sprintf("%s: skipped, %v", name, firstLine(err))
	t.Skipped = append(t.Skipped, line)
	r.cfg.logf("table %s: %s", t.ID, line)
	if msg := err.Error(); strings.Contains(msg, "\n") {
		r.cfg.logf("  %s", strings.ReplaceAll(msg, "\n", "\n  "))
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// record runs row's workload against s once and files the result.
func (r *runner) record(t *Table, row *Row, s *side, round int) {
	res, err := r.measure(s, row.opts, row.viaProxy)
	if err != nil {
		why := fmt.Sprintf("round %d: %v", round, firstLine(err))
		row.Failures[s.Name] = append(row.Failures[s.Name], why)
		r.cfg.logf("table %s, %s, %s: no figure, %s", t.ID, row.Label, s.Name, why)
		return
	}
	row.Runs[s.Name] = append(row.Runs[s.Name], res)
	r.cfg.logf("table %s, %s, %s, round %d: %s", t.ID, row.Label, s.Name, round, summary(res))
}

// measure runs one workload against one side.
func (r *runner) measure(s *side, o bench.Options, viaProxy bool) (bench.Result, error) {
	if viaProxy {
		o.Proxy = s.Addr
	} else {
		o.Target = s.Addr
	}
	if o.CAFile == "" { // a tunnelled row trusts the origin's root instead
		o.CAFile = s.CAFile
	}
	o.Watch, o.WatchNames = s.watch()
	if viaProxy && r.tableOrigin != nil {
		o.Watch = append(o.Watch, r.tableOrigin.pid())
		o.WatchNames = append(o.WatchNames, originWatch)
	}
	o.Progress = r.cfg.Progress
	res, err := bench.Run(r.ctx, o)
	if err != nil {
		return res, err
	}
	if res.Requests == 0 {
		return res, errors.New("no request succeeded")
	}
	return res, nil
}

// sweep measures the first row of the handshake and inspect tables at the
// other concurrencies (one round each), for the charts; the table's own
// medians give the last point.
func (r *runner) sweep(t *Table) *Sweep {
	if (t.ID != "handshake" && t.ID != "inspect") || len(t.Rows) == 0 {
		return nil
	}
	row := t.Rows[0]
	sw := &Sweep{Title: t.Title + ", " + row.Label, Table: t.ID, Row: row.Label,
		Concurrency: r.cfg.Concurrency, Points: map[string]map[int]float64{}}
	var sides []*side
	defer func() {
		for _, s := range sides {
			s.stop()
		}
	}()
	if len(r.cfg.Concurrency) > 1 {
		for _, st := range t.starters {
			if !containsString(t.Sides, st.name) {
				continue
			}
			s, err := st.start()
			if err != nil {
				r.cfg.logf("sweep %s: %s did not start again: %v", t.ID, st.name, firstLine(err))
				continue
			}
			sides = append(sides, s)
		}
	}
	for _, name := range t.Sides {
		sw.Sides = append(sw.Sides, name)
		sw.Points[name] = map[int]float64{}
		if m, ok := median(row.Runs[name], rps); ok {
			sw.Points[name][t.Concurrency] = m
		}
	}
	for _, c := range r.cfg.Concurrency[:len(r.cfg.Concurrency)-1] {
		for _, s := range sides {
			o := row.opts
			o.Concurrency = c
			res, err := r.measure(s, o, row.viaProxy)
			if err != nil {
				r.cfg.logf("sweep %s, %s at concurrency %d: no figure, %v", t.ID, s.Name, c, firstLine(err))
				continue
			}
			sw.Points[s.Name][c] = res.RequestsPerSec
			r.cfg.logf("sweep %s, %s at concurrency %d: %s", t.ID, s.Name, c, summary(res))
		}
	}
	return sw
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func summary(res bench.Result) string {
	s := fmt.Sprintf("%.0f req/s, p50 %.2f ms, p99 %.2f ms, server CPU %.3f ms/req", res.RequestsPerSec, res.P50ms, res.P99ms, serverCPU(res))
	if n := errorCount(res); n > 0 {
		s += fmt.Sprintf(", %d errors", n)
	}
	if len(res.IdleBytesPerConn) > 0 {
		s += fmt.Sprintf(", %.1f KiB per idle connection", idleKiB(res))
	}
	return s
}
