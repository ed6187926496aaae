package suite

import (
	"strconv"

	"github.com/lucid-edge/lucid/bench"
)

// Table is one comparison: its sides (Sides[0] is the reference, the one
// the ratios divide by the others), its rows (workload variants), the
// rounds measured for each, and the goals it checks.
type Table struct {
	ID          string
	Title       string
	Note        string // how it is set up, and what to keep in mind reading it
	Command     string
	Concurrency int
	Sides       []string
	Skipped     []string // "nginx: not installed ..." (never a figure)
	Rows        []*Row
	Goals       []Goal
	Profile     *Profile // with Config.Profile: where the first side's CPU went
	// fresh starts each side anew for each run (the idle table: RSS growth
	// is only meaningful in a process that has not served load before).
	fresh    bool
	starters []starter
}

// Row is one workload variant, measured for every side and round.
type Row struct {
	Label    string
	opts     bench.Options // Target/Proxy/CAFile/Watch are filled per side
	viaProxy bool
	// tunnelled rows send the same traffic to a name each side relays
	// without inspection (opts.CAFile is then the origin's own root).
	tunnelled bool
	Runs      map[string][]bench.Result // side → one per successful round
	Failures  map[string][]string       // side → why a round has no figure
}

// starter starts one side of a table.
type starter struct {
	name  string
	start func() (*side, error)
}

// Goal is one of the targets, checked against a table's medians.
type Goal struct {
	Text   string  // "full handshakes per core ≥1.5× Go crypto/tls"
	Row    string  // the row it reads
	Side   string  // the peer (ratio goals), "" for an absolute one
	Metric string  // metricPerCPU, metricRPS or metricIdle
	Target float64 // the ratio to reach, or the ceiling for metricIdle
	Scale  float64 // multiplies the measured ratio (a projection); 0 is 1
	// Filled in by evaluate.
	Measured float64
	Verdict  string
}

const (
	metricRPS    = "req/s"
	metricPerCPU = "req per server CPU-s"
	metricIdle   = "KiB per idle connection"
)

func newRow(label string, o bench.Options, viaProxy bool) *Row {
	return &Row{Label: label, opts: o, viaProxy: viaProxy,
		Runs: map[string][]bench.Result{}, Failures: map[string][]string{}}
}

// handshakeOptions is a handshake row's workload; the target is the side.
func (r *runner) handshakeOptions(group string, resume bool) bench.Options {
	return bench.Options{Workload: "handshake", ServerName: hsName, Group: group, Resume: resume,
		Concurrency: r.cfg.tableConcurrency(), Duration: r.cfg.Duration, Warmup: r.cfg.Warmup}
}

// inspectOptions is an inspection row's workload through the side's proxy.
func (r *runner) inspectOptions(names int) bench.Options {
	target := "o1.bench.test:443"
	if names > 1 {
		target = "o%d.bench.test:443"
	}
	return bench.Options{Workload: "inspect", Target: target, Names: names, Group: "x25519",
		Concurrency: r.cfg.tableConcurrency(), Duration: r.cfg.Duration, Warmup: r.cfg.Warmup}
}

func (r *runner) handshakeTable(id, title, group string, withNginx bool) *Table {
	t := &Table{ID: id, Title: title, Concurrency: r.cfg.tableConcurrency()}
	t.Note = "Each server alone on CPU " + r.cfg.ServerCPU + " (taskset), GOMAXPROCS=1, one loop / one worker; " +
		"the same ECDSA P-256 certificate, made for the run; a new TLS 1.3 connection, one HTTP/1.1 request, close. " +
		"The load generator runs on CPU " + r.cfg.LoadCPU + "."
	t.starters = []starter{
		{"Lucid", func() (*side, error) { return r.env.startLucidTerminate("Lucid", r.cfg.ServerCPU, 1) }},
		{"Go crypto/tls", r.env.startGoTLS},
	}
	if withNginx {
		t.starters = append(t.starters, starter{"nginx", r.env.startNginx})
	} else {
		t.Skipped = append(t.Skipped, "nginx: left out of this table, because Debian's nginx links OpenSSL 3.0, which has no ML-KEM")
	}
	t.Rows = []*Row{
		newRow("full", r.handshakeOptions(group, false), false),
		newRow("resumed", r.handshakeOptions(group, true), false),
	}
	t.Goals = []Goal{{Text: "full handshakes per core ≥1.5× Go crypto/tls", Row: "full",
		Side: "Go crypto/tls", Metric: metricPerCPU, Target: 1.5}}
	return t
}

func (r *runner) loopsTable() *Table {
	both := r.cfg.ServerCPU + "," + r.cfg.LoadCPU
	t := &Table{ID: "loops", Title: "Two event loops against one (full handshakes, X25519)", Concurrency: r.cfg.tableConcurrency()}
	t.Note = "`edge terminate -loops 2` with GOMAXPROCS=2 on CPUs " + both + " against `-loops 1` with GOMAXPROCS=1 on CPU " +
		r.cfg.ServerCPU + ". This machine has only the two cores, so with two loops the server shares CPU " +
		r.cfg.LoadCPU + " with the load generator: the ratio understates what a second, free core gives."
	t.starters = []starter{
		{"Lucid, 2 loops", func() (*side, error) { return r.env.startLucidTerminate("Lucid, 2 loops", both, 2) }},
		{"Lucid, 1 loop", func() (*side, error) { return r.env.startLucidTerminate("Lucid, 1 loop", r.cfg.ServerCPU, 1) }},
	}
	t.Rows = []*Row{newRow("full", r.handshakeOptions("x25519", false), false)}
	t.Goals = []Goal{
		{Text: "two loops ≥1.8× one loop (measured req/s; the load generator shares the cores)", Row: "full",
			Side: "Lucid, 1 loop", Metric: metricRPS, Target: 1.8},
		// The load generator cannot drive two loops on a two-core machine, so
		// the req/s ratio tells more about it than about Lucid. What does carry
		// over to a machine with a free second core is how much CPU each
		// request costs with two loops against one: 2 × that ratio is what two
		// cores would give, if nothing else were in the way.
		{Text: "two loops ≥1.8× one loop (projected: 2 × per-CPU-s ratio)", Row: "full",
			Side: "Lucid, 1 loop", Metric: metricPerCPU, Target: 1.8, Scale: 2},
	}
	return t
}

func (r *runner) inspectTable() *Table {
	t := &Table{ID: "inspect", Title: "Inspected new connections (CONNECT, TLS to the proxy, one request to the origin, close)",
		Concurrency: r.cfg.tableConcurrency()}
	t.Note = "Each proxy alone on CPU " + r.cfg.ServerCPU + " (taskset, one process / GOMAXPROCS=1), verifying the origin " +
		"against the bench origin root, leaves cached. The origin is `edge terminate` (*.bench.test, one loop) on " +
		"port 443 of a loopback address, on CPU " + r.cfg.LoadCPU + " with the load generator, the same for every proxy. " +
		"Lucid's CPU counts the edge and its CA (`ca serve`); squid's counts its certificate generator helpers. " +
		"The request asks to close the connection, which every proxy passes on, so each inspected connection " +
		"is also a new origin connection for each proxy; the origin CPU column shows what those cost the origin."
	t.starters = r.inspectStarters()
	for _, n := range r.cfg.Names {
		label := "1 name"
		if n > 1 {
			label = itoa(n) + " names"
		}
		t.Rows = append(t.Rows, newRow(label, r.inspectOptions(n), true))
		t.Goals = append(t.Goals,
			Goal{Text: "inspected new connections per core ≥5× squid", Row: label, Side: "squid", Metric: metricPerCPU, Target: 5},
			Goal{Text: "inspected new connections per core ≥3× goproxy", Row: label, Side: "goproxy", Metric: metricPerCPU, Target: 3})
	}
	return t
}

func (r *runner) idleTable() *Table {
	t := &Table{ID: "idle", Title: "Memory per idle inspected connection", fresh: true}
	t.Note = "Each proxy is started afresh for each round, then holds " + itoa(r.cfg.IdleConns) +
		" inspected connections (handshakes and one request done on each) for " + r.cfg.Duration.String() +
		"; the figure is the growth of its resident memory (RSS, from /proc) divided by the connections."
	t.Concurrency = min(r.cfg.tableConcurrency(), r.cfg.IdleConns)
	t.starters = r.inspectStarters()
	o := r.inspectOptions(1)
	o.Workload, o.IdleConns, o.Warmup = "idle", r.cfg.IdleConns, 0
	o.Concurrency = t.Concurrency
	t.Rows = []*Row{newRow("idle", o, true)}
	t.Goals = []Goal{{Text: "memory per idle inspected connection ≤8 KiB", Row: "idle", Metric: metricIdle, Target: 8}}
	return t
}

func (r *runner) inspectStarters() []starter {
	maxNames := 1
	for _, n := range r.cfg.Names {
		maxNames = max(maxNames, n)
	}
	return []starter{
		{"Lucid", func() (*side, error) {
			if r.ca == nil {
				return nil, r.caErr
			}
			return r.env.startLucidEdge(r.ca, edgeSetup{origin: r.env.originAddr, names: maxNames})
		}},
		{"squid", func() (*side, error) { return r.env.startSquid(r.ctx, maxNames) }},
		{"goproxy", r.env.startGoproxy},
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The shape of the kept-alive tables: few connections, many requests in
// flight on each.
const (
	multiplexConns = 4  // connections of the h2 and pipeline tables
	h2Streams      = 16 // streams in flight per h2 connection
	pipelineDepth  = 8  // requests per pipelined write
	inspectedName  = "o1.bench.test"
	tunnelledName  = "t1.bench.test" // bypassed by every side's configuration
)

// multiplexOptions is a row of the h2 or pipeline table: the inspected
// name, or the tunnelled one, whose certificate the client checks against
// the origin's root (a tunnel shows the origin's own certificate).
func (r *runner) multiplexOptions(workload string, tunnelled bool) bench.Options {
	o := bench.Options{Workload: workload, Target: inspectedName + ":443", Group: "x25519",
		Concurrency: multiplexConns, Duration: r.cfg.Duration, Warmup: r.cfg.Warmup}
	if tunnelled {
		o.Target, o.CAFile = tunnelledName+":443", r.env.originRoot.CertFile
	}
	switch workload {
	case "h2":
		o.Streams = h2Streams
	case "pipeline":
		o.Depth = pipelineDepth
	}
	return o
}

// multiplexTable is the h2 or the pipeline table: Lucid and goproxy, each
// inspecting and each tunnelling the same requests, so that the cost of
// inspection is read off one run.
func (r *runner) multiplexTable(workload string) *Table {
	t := &Table{ID: workload, Concurrency: multiplexConns}
	shape := ""
	switch workload {
	case "h2":
		t.Title = "Inspected HTTP/2 requests on kept-alive connections (many streams on few connections)"
		shape = itoa(multiplexConns) + " connections, each keeping " + itoa(h2Streams) + " GET streams in flight " +
			"(TLS with ALPN h2 through the proxy's CONNECT; the origin speaks h2)"
	default:
		t.Title = "Inspected pipelined HTTP/1.1 requests on kept-alive connections"
		shape = itoa(multiplexConns) + " connections, each writing " + itoa(pipelineDepth) +
			" GET requests back to back before reading their responses"
	}
	t.Note = "Each proxy alone on CPU " + r.cfg.ServerCPU + " (taskset, GOMAXPROCS=1), " + shape + ". " +
		"The origin is Go's net/http (`gotls -h2`: h2 and HTTP/1.1 by ALPN, *.bench.test) on CPU " + r.cfg.LoadCPU +
		" with the load generator. Row *inspected* goes to " + inspectedName + ", which each proxy decrypts; row " +
		"*tunnelled* sends the same requests to " + tunnelledName + ", which each proxy relays end to end without " +
		"decrypting (Lucid: a bypass rule; goproxy: an accepted CONNECT), so the client sees the origin's own " +
		"certificate. The cost of inspection is the inspected row's server CPU per request over the tunnelled one's. " +
		"squid is left out of this table and the other of its kind: its ssl-bump does not speak HTTP/2, it reaches " +
		"origins only on the CONNECT port (443, the inspect table's origin), and the goal here names goproxy."
	if workload == "h2" {
		t.Note += " goproxy runs with its HTTP/2 MITM on (v1.9's AllowHTTP2: h2 to the client by ALPN, x/net's " +
			"http2.Server per connection, and ForceAttemptHTTP2 to the origin). The line of protocols under the " +
			"table says what each side's connections negotiated with the client: a side shown with http/1.1 was measured on its " +
			"HTTP/1.1 fallback through the same client, not on HTTP/2."
	}
	t.starters = []starter{
		{"Lucid", func() (*side, error) {
			if r.ca == nil {
				return nil, r.caErr
			}
			return r.env.startLucidEdge(r.ca, edgeSetup{origin: r.h2OriginAddr, names: 1, tunnel: []string{tunnelledName}})
		}},
		{"goproxy", func() (*side, error) {
			return r.env.startGoproxyFor(r.h2OriginAddr, workload == "h2", []string{tunnelledName})
		}},
	}
	t.Rows = []*Row{newRow("inspected", r.multiplexOptions(workload, false), true)}
	tun := newRow("tunnelled", r.multiplexOptions(workload, true), true)
	tun.tunnelled = true
	t.Rows = append(t.Rows, tun)
	if workload == "h2" {
		t.Goals = []Goal{{Text: "inspected HTTP/2 requests per core ≥3× goproxy", Row: "inspected",
			Side: "goproxy", Metric: metricPerCPU, Target: 3}}
	}
	return t
}
