package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Options describe one run. Run checks them and fills in the defaults.
type Options struct {
	// Workload is "handshake", "inspect", "keepalive", "h2", "pipeline"
	// or "idle".
	Workload string
	// Target is the TLS server's host:port when Proxy is empty. Through a
	// proxy it is the origin to CONNECT to; with Names > 1 its host is a
	// pattern holding "%d", e.g. "o%d.bench.test:443".
	Target string
	// Proxy is the host:port of an HTTP CONNECT proxy; "" goes direct.
	Proxy string
	// ServerName is the SNI when going direct (default: Target's host);
	// with Names > 1 it may hold "%d" as well.
	ServerName string
	// CAFile holds the PEM roots the client trusts. Required.
	CAFile string
	// Names is how many distinct origin names the run cycles through
	// (default 1).
	Names int
	// Concurrency is the number of parallel connections (default 1).
	Concurrency int
	// Duration and Count bound the run; it stops at whichever comes first.
	// For idle, Duration is how long the connections are held (default 3s).
	Duration time.Duration
	Count    int
	// Warmup runs before the measured window and is not counted.
	Warmup time.Duration
	// Group is the key exchange: "x25519" (default), "x25519mlkem768",
	// "p256" or "p384".
	Group string
	// Suite restricts TLS 1.3 to one cipher suite: "aes128gcm",
	// "aes256gcm" or "chacha20"; "" offers all.
	Suite string
	// Resume keeps a session cache per worker, so that all but each
	// worker's first handshake can resume.
	Resume bool
	// Path is the request path (default "/").
	Path string
	// IdleConns is how many inspected connections the idle workload holds.
	IdleConns int
	// Streams is, for h2, how many requests each connection keeps in
	// flight as concurrent streams (default 16; the server's
	// SETTINGS_MAX_CONCURRENT_STREAMS lowers it).
	Streams int
	// Depth is, for pipeline, how many requests are written back to back
	// on a connection before the first response is read (default 8).
	Depth int
	// Watch lists server PIDs whose CPU time and RSS are sampled;
	// WatchNames, if given, names them in the Result (same order).
	Watch      []int
	WatchNames []string
	// Progress receives a live progress line once per second; nil = none.
	Progress io.Writer
	// OnProgress, if set, is called once per second with the requests
	// that succeeded and failed so far in the measured window (both 0
	// during the warmup): how `edgebench run -procs N` sums its processes.
	OnProgress func(done, failed int64)
	// Label names the run in its Result, e.g. the peer it measured; charts
	// draw one line per label.
	Label string
	// Timeout bounds each connection's dial, handshake and request
	// (default 10s); a request that takes longer counts as "timeout".
	Timeout time.Duration
	// StartAt, when set, delays the start until that time, so that the
	// processes of `edgebench run -procs N` measure the same window.
	StartAt time.Time
}

// Upper bounds: every run is bounded, even one started by mistake.
const (
	MaxDuration    = time.Hour
	MaxCount       = 100_000_000
	MaxConcurrency = 10_000
	MaxNames       = 1_000_000
	MaxIdleConns   = 20_000
	MaxStreams     = 1000
	MaxDepth       = 1000
)

// workloads lists the valid values of Options.Workload, as the errors
// name them.
const workloads = "handshake, inspect, keepalive, h2, pipeline or idle"

var groups = map[string]tls.CurveID{
	"x25519":         tls.X25519,
	"x25519mlkem768": tls.X25519MLKEM768,
	"p256":           tls.CurveP256,
	"p384":           tls.CurveP384,
}

var suites = map[string]uint16{
	"aes128gcm": tls.TLS_AES_128_GCM_SHA256,
	"aes256gcm": tls.TLS_AES_256_GCM_SHA384,
	"chacha20":  tls.TLS_CHACHA20_POLY1305_SHA256,
}

// withDefaults checks o and returns it with every default filled in.
func (o Options) withDefaults() (Options, error) {
	switch o.Workload {
	case "handshake", "inspect", "keepalive", "h2", "pipeline", "idle":
	case "":
		return o, errors.New("no workload: pick " + workloads)
	default:
		return o, fmt.Errorf("unknown workload %q: pick %s", o.Workload, workloads)
	}
	if o.Target == "" {
		return o, errors.New("no target: give the TLS server's (or, with a proxy, the origin's) host:port")
	}
	if _, _, err := net.SplitHostPort(o.Target); err != nil {
		return o, fmt.Errorf("target %q: %v", o.Target, err)
	}
	if o.Workload == "inspect" && o.Proxy == "" {
		return o, errors.New("inspect goes through a proxy: give its host:port")
	}
	if o.Proxy != "" {
		if _, _, err := net.SplitHostPort(o.Proxy); err != nil {
			return o, fmt.Errorf("proxy %q: %v", o.Proxy, err)
		}
	}
	if o.CAFile == "" {
		return o, errors.New("no CA file: give the PEM roots that the server's (or proxy's) certificates chain to")
	}
	if o.Names == 0 {
		o.Names = 1
	}
	if o.Names < 0 || o.Names > MaxNames {
		return o, fmt.Errorf("names %d: want 1 to %d", o.Names, MaxNames)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Concurrency < 0 || o.Concurrency > MaxConcurrency {
		return o, fmt.Errorf("concurrency %d: want 1 to %d", o.Concurrency, MaxConcurrency)
	}
	if o.Duration < 0 || o.Duration > MaxDuration || o.Warmup < 0 || o.Warmup > MaxDuration {
		return o, fmt.Errorf("duration %v, warmup %v: want each between 0 and %v", o.Duration, o.Warmup, MaxDuration)
	}
	if o.Count < 0 || o.Count > MaxCount {
		return o, fmt.Errorf("count %d: want 0 to %d", o.Count, MaxCount)
	}
	if o.Workload == "idle" {
		if o.IdleConns <= 0 || o.IdleConns > MaxIdleConns {
			return o, fmt.Errorf("idle holds 1 to %d connections: set IdleConns (-idle-conns)", MaxIdleConns)
		}
		if o.Duration == 0 {
			o.Duration = 3 * time.Second
		}
	} else if o.Duration == 0 && o.Count == 0 {
		return o, errors.New("the run is unbounded: set a duration, a count or both")
	}
	if err := o.checkMultiplexing(); err != nil {
		return o, err
	}
	if o.Group == "" {
		o.Group = "x25519"
	}
	if _, ok := groups[o.Group]; !ok {
		return o, fmt.Errorf("group %q: want x25519, x25519mlkem768, p256 or p384", o.Group)
	}
	if _, ok := suites[o.Suite]; o.Suite != "" && !ok {
		return o, fmt.Errorf("suite %q: want aes128gcm, aes256gcm or chacha20", o.Suite)
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, " \r\n") {
		return o, fmt.Errorf("path %q: want an absolute path without spaces", o.Path)
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if len(o.WatchNames) != 0 && len(o.WatchNames) != len(o.Watch) {
		return o, fmt.Errorf("%d watch names for %d PIDs: give one name per PID or none", len(o.WatchNames), len(o.Watch))
	}
	if o.ServerName == "" {
		o.ServerName, _, _ = net.SplitHostPort(o.Target)
	}
	if o.Names > 1 && !strings.Contains(o.nameHost(), "%d") {
		return o, fmt.Errorf("names %d: the origin host needs a %%d to number them, e.g. o%%d.bench.test:443", o.Names)
	}
	return o, nil
}

// nameHost is the host pattern numbered by Names: the CONNECT target's
// host through a proxy, the SNI when direct.
func (o Options) nameHost() string {
	if o.Proxy != "" {
		h, _, _ := net.SplitHostPort(o.Target)
		return h
	}
	return o.ServerName
}

// checkMultiplexing checks and defaults Streams and Depth, which only
// their workloads use.
func (o *Options) checkMultiplexing() error {
	if o.Workload == "h2" {
		if o.Streams == 0 {
			o.Streams = 16
		}
		if o.Streams < 0 || o.Streams > MaxStreams {
			return fmt.Errorf("streams %d: want 1 to %d", o.Streams, MaxStreams)
		}
	} else if o.Streams != 0 {
		return fmt.Errorf("streams is for the h2 workload, not %s", o.Workload)
	}
	if o.Workload == "pipeline" {
		if o.Depth == 0 {
			o.Depth = 8
		}
		if o.Depth < 0 || o.Depth > MaxDepth {
			return fmt.Errorf("depth %d: want 1 to %d", o.Depth, MaxDepth)
		}
	} else if o.Depth != 0 {
		return fmt.Errorf("depth is for the pipeline workload, not %s", o.Workload)
	}
	return nil
}

// alpn is the protocols the client offers: h2 first for the h2 workload
// (HTTP/1.1 after it, so that a server without h2 is measured on its
// fallback and the Result says so), none otherwise, as before.
func (o Options) alpn() []string {
	if o.Workload == "h2" {
		return []string{"h2", "http/1.1"}
	}
	return nil
}
