// Package suite runs Lucid side by side with its peers on one machine, in
// one run, and writes BENCHMARKS.md from what it measured: handshakes
// (`edge terminate` against Go crypto/tls and nginx), inspection (the edge
// against squid ssl-bump and a goproxy MITM), inspected HTTP/2 streams and
// pipelined HTTP/1.1 requests on kept-alive connections (the edge against
// goproxy, each also tunnelling the same traffic), memory per idle
// inspected connection, and one event loop against two.
//
// Each server under test runs pinned to one core (taskset, GOMAXPROCS=1,
// one loop, one worker); the load generator (package bench, in this
// process) runs on another. The sides of a table take turns, A B C A B C
// ..., for Rounds rounds, and every figure is the median of its rounds. A
// peer that is not installed or does not start is skipped with a line
// saying why; no figure is ever filled in for it.
package suite

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Tables, in the order they run. Config.Only picks a subset.
var TableIDs = []string{"handshake", "mlkem", "loops", "inspect", "h2", "pipeline", "idle"}

// Config says what to run and how long.
type Config struct {
	Bin         string        // folder with edge, ca, gotls and goproxymitm
	Rounds      int           // turns each side takes per figure
	Duration    time.Duration // measured window of each run
	Warmup      time.Duration // unmeasured start of each run
	Concurrency []int         // the tables run at the last; the charts sweep all
	Names       []int         // origin names of the inspection rows (1 and many)
	IdleConns   int           // connections held by the idle table
	Only        []string      // table IDs; nil runs all
	ServerCPU   string        // taskset list for the server under test
	LoadCPU     string        // for the load generator, the origin and Lucid's CA
	OriginAddr  string        // the bench origin; port 443, since squid dials the CONNECT port
	Command     string        // the edgebench command line, recorded with each table
	Progress    io.Writer     `json:"-"` // the load generator's live line; nil for none
	Log         io.Writer     `json:"-"` // what the suite starts and skips
	KeepDir     bool          // keep the run's temp folder (configs, logs)
	Profile     bool          // one extra run per table under perf, for where Lucid's CPU goes
}

// Defaults returns the configuration of `make bench`: about ten minutes on
// a two-core machine.
func Defaults() Config {
	return Config{
		Bin:         "bin",
		Rounds:      3,
		Duration:    4 * time.Second,
		Warmup:      time.Second,
		Concurrency: []int{1, 8, 32},
		Names:       []int{1, 200},
		IdleConns:   2000,
		ServerCPU:   "0",
		LoadCPU:     "1",
		OriginAddr:  "127.0.0.77:443",
	}
}

func (c Config) check() error {
	if c.Rounds < 1 || c.Rounds > 50 {
		return fmt.Errorf("rounds %d: want 1 to 50", c.Rounds)
	}
	if c.Duration <= 0 || c.Duration > 10*time.Minute {
		return fmt.Errorf("duration %v: want more than 0 and at most 10m", c.Duration)
	}
	if c.Warmup < 0 || c.Warmup > time.Minute {
		return fmt.Errorf("warmup %v: want 0 to 1m", c.Warmup)
	}
	if len(c.Concurrency) == 0 {
		return fmt.Errorf("no concurrency: give at least one, e.g. -concurrency 32")
	}
	for _, n := range c.Concurrency {
		if n < 1 || n > 5000 {
			return fmt.Errorf("concurrency %d: want 1 to 5000", n)
		}
	}
	if len(c.Names) == 0 {
		return fmt.Errorf("no origin name counts: give e.g. -names 1,200")
	}
	for _, n := range c.Names {
		if n < 1 || n > 100000 {
			return fmt.Errorf("names %d: want 1 to 100000", n)
		}
	}
	if c.IdleConns < 1 || c.IdleConns > 20000 {
		return fmt.Errorf("idle connections %d: want 1 to 20000", c.IdleConns)
	}
	for _, id := range c.Only {
		if !slices.Contains(TableIDs, id) {
			return fmt.Errorf("table %q: want one of %s", id, strings.Join(TableIDs, ", "))
		}
	}
	return nil
}

func (c Config) wants(id string) bool { return len(c.Only) == 0 || slices.Contains(c.Only, id) }

// tableConcurrency is the concurrency every table runs at: the last listed.
func (c Config) tableConcurrency() int { return c.Concurrency[len(c.Concurrency)-1] }

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "edgebench compare: "+format+"\n", args...)
	}
}
