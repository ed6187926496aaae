package bench

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Result is the outcome of one run. Its JSON field names are a contract
// with scripts (`edgebench run -json`) and the peer comparison.
type Result struct {
	Label       string `json:"label,omitempty"`
	Workload    string `json:"workload"`
	Concurrency int    `json:"concurrency"`
	Procs       int    `json:"procs,omitempty"`
	Group       string `json:"group,omitempty"`
	Names       int    `json:"names,omitempty"`
	// Streams (h2) and Depth (pipeline) are the requests in flight per
	// connection that the run asked for.
	Streams        int     `json:"streams,omitempty"`
	Depth          int     `json:"depth,omitempty"`
	Requests       int64   `json:"requests"`
	Seconds        float64 `json:"seconds"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50ms          float64 `json:"p50_ms"`
	P90ms          float64 `json:"p90_ms"`
	P99ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	// Errors counts failed requests by kind: dial, connect, tls, http,
	// status, timeout.
	Errors map[string]int64 `json:"errors"`
	// ErrorSamples holds the first message seen of each kind.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// ServerCPUmsPerReq is each watched process's CPU time (user + system,
	// from /proc) over the measured window divided by the requests in it;
	// ServerCPUms is that CPU time itself.
	ServerCPUmsPerReq map[string]float64 `json:"server_cpu_ms_per_req"`
	ServerCPUms       map[string]float64 `json:"server_cpu_ms,omitempty"`
	// LoadgenCPUmsPerReq is the load generator's own CPU per request,
	// summed over all its processes; LoadgenCPUms is the total.
	LoadgenCPUmsPerReq float64 `json:"loadgen_cpu_ms_per_req"`
	LoadgenCPUms       float64 `json:"loadgen_cpu_ms"`
	// Resumed is the share of handshakes that resumed a session (Resume).
	Resumed float64 `json:"resumed_ratio,omitempty"`
	// IdleBytesPerConn is, for idle, each watched process's RSS growth
	// divided by the connections held.
	IdleBytesPerConn map[string]float64 `json:"idle_bytes_per_conn,omitempty"`
	// Protocols counts, for h2, the connections by the protocol the server
	// (or the proxy) chose by ALPN: "h2", or "http/1.1" for a server that
	// does not speak HTTP/2, whose requests were then sent over HTTP/1.1
	// keep-alive by the same client.
	Protocols map[string]int64 `json:"protocols,omitempty"`
	// Handshakes and ResumedHandshakes are the counts behind Resumed.
	Handshakes        int64 `json:"handshakes,omitempty"`
	ResumedHandshakes int64 `json:"resumed_handshakes,omitempty"`
}

// Report is a Result with the histogram it was computed from, the unit
// that `edgebench run -procs N` merges across processes.
type Report struct {
	Result    Result     `json:"result"`
	Histogram *Histogram `json:"histogram"`
}

// ms converts to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fill computes the derived figures of r from its counts and h.
func (r *Result) fill(h *Histogram) {
	r.Requests = h.Count()
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = ms(h.Quantile(0.5)), ms(h.Quantile(0.9)), ms(h.Quantile(0.99)), ms(h.Max())
	r.RequestsPerSec = 0
	if r.Seconds > 0 {
		r.RequestsPerSec = float64(r.Requests) / r.Seconds
	}
	r.ServerCPUmsPerReq = map[string]float64{}
	r.LoadgenCPUmsPerReq = 0
	if r.Requests > 0 {
		for k, v := range r.ServerCPUms {
			r.ServerCPUmsPerReq[k] = v / float64(r.Requests)
		}
		r.LoadgenCPUmsPerReq = r.LoadgenCPUms / float64(r.Requests)
	}
	r.Resumed = 0
	if r.Handshakes > 0 {
		r.Resumed = float64(r.ResumedHandshakes) / float64(r.Handshakes)
	}
	if r.Errors == nil {
		r.Errors = map[string]int64{}
	}
}

// failure is the error of a run without a single successful request.
func (r *Result) failure() error {
	if r.Requests > 0 {
		return nil
	}
	if len(r.Errors) == 0 {
		return errors.New("no request completed in the measured window: lengthen the run or check the target")
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%d %s (%s)", r.Errors[k], k, r.ErrorSamples[k]))
	}
	return fmt.Errorf("every request failed: %s", strings.Join(parts, "; "))
}

// MergeReports combines the reports of processes that ran the same
// workload over the same window: histograms merge, counts and the load
// generator's CPU add up. Every process watched the same servers over
// (nearly) the same window, so each saw the CPU all of them caused: the
// widest window, the largest figure, is the servers' CPU, not the sum.
func MergeReports(reports []Report) (Report, error) {
	if len(reports) == 0 {
		return Report{}, errors.New("no reports to merge")
	}
	h := NewHistogram()
	m := Result{
		Label: reports[0].Result.Label, Workload: reports[0].Result.Workload, Group: reports[0].Result.Group, Names: reports[0].Result.Names,
		Procs: len(reports), Errors: map[string]int64{}, ErrorSamples: map[string]string{},
		ServerCPUms: map[string]float64{}, IdleBytesPerConn: nil,
	}
	for _, rep := range reports {
		r := rep.Result
		if r.Workload != m.Workload {
			return Report{}, fmt.Errorf("cannot merge a %s report into a %s one", r.Workload, m.Workload)
		}
		if rep.Histogram != nil {
			h.Merge(rep.Histogram)
		}
		m.Concurrency += r.Concurrency
		m.Seconds = max(m.Seconds, r.Seconds)
		for k, v := range r.Errors {
			m.Errors[k] += v
		}
		for k, v := range r.ErrorSamples {
			if _, ok := m.ErrorSamples[k]; !ok {
				m.ErrorSamples[k] = v
			}
		}
		for k, v := range r.ServerCPUms {
			m.ServerCPUms[k] = max(m.ServerCPUms[k], v)
		}
		m.LoadgenCPUms += r.LoadgenCPUms
		m.Handshakes += r.Handshakes
		m.ResumedHandshakes += r.ResumedHandshakes
		m.Streams, m.Depth = r.Streams, r.Depth
		for k, v := range r.Protocols {
			if m.Protocols == nil {
				m.Protocols = map[string]int64{}
			}
			m.Protocols[k] += v
		}
	}
	if len(m.ErrorSamples) == 0 {
		m.ErrorSamples = nil
	}
	m.fill(h)
	return Report{Result: m, Histogram: h}, nil
}

// Fallback says whether an h2 run was not HTTP/2 end to end on the
// client's side: some connections negotiated something else than h2.
func (r *Result) Fallback() bool {
	for p, n := range r.Protocols {
		if p != "h2" && n > 0 {
			return true
		}
	}
	return false
}
