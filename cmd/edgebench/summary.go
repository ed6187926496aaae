package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/lucid-edge/lucid/bench"
)

// printSummary writes a Result for people.
func printSummary(w io.Writer, r bench.Result) {
	procs := ""
	if r.Procs > 1 {
		procs = fmt.Sprintf(" in %d processes", r.Procs)
	}
	label := r.Workload
	if r.Label != "" {
		label = r.Label + " " + r.Workload
	}
	if r.Workload == "idle" {
		fmt.Fprintf(w, "%s: %d connections set up in %.2fs, %d at a time, group %s\n", label, r.Requests, r.Seconds, r.Concurrency, r.Group)
	} else {
		fmt.Fprintf(w, "%s: %d requests in %.2fs, %d connections%s, group %s\n", label, r.Requests, r.Seconds, r.Concurrency, procs, r.Group)
	}
	switch {
	case r.Streams > 0:
		fmt.Fprintf(w, "  streams   %d per connection%s\n", r.Streams, protocols(r))
	case r.Depth > 0:
		fmt.Fprintf(w, "  pipeline  %d requests per write\n", r.Depth)
	}
	fmt.Fprintf(w, "  rate      %.1f requests/s\n", r.RequestsPerSec)
	fmt.Fprintf(w, "  latency   p50 %.3f ms   p90 %.3f ms   p99 %.3f ms   max %.3f ms\n", r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	if r.Handshakes > 0 {
		fmt.Fprintf(w, "  resumed   %.1f%% of %d handshakes\n", 100*r.Resumed, r.Handshakes)
	}
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "  errors    none")
	} else {
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(w, "  errors    %-8s %d   e.g. %s\n", k, r.Errors[k], r.ErrorSamples[k])
		}
	}
	var cpu []string
	for _, k := range slices.Sorted(maps.Keys(r.ServerCPUmsPerReq)) {
		cpu = append(cpu, fmt.Sprintf("%s %.3f ms", k, r.ServerCPUmsPerReq[k]))
	}
	cpu = append(cpu, fmt.Sprintf("loadgen %.3f ms", r.LoadgenCPUmsPerReq))
	fmt.Fprintf(w, "  CPU/req   %s\n", strings.Join(cpu, "   "))
	for _, k := range slices.Sorted(maps.Keys(r.IdleBytesPerConn)) {
		fmt.Fprintf(w, "  idle mem  %s %.0f bytes (%.1f KiB) per held connection\n", k, r.IdleBytesPerConn[k], r.IdleBytesPerConn[k]/1024)
	}
}

// protocols says what the connections of an h2 run negotiated, and says
// it loudly when it was not HTTP/2: the figures are then HTTP/1.1's.
func protocols(r bench.Result) string {
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(r.Protocols)) {
		parts = append(parts, fmt.Sprintf("%s %d", p, r.Protocols[p]))
	}
	s := ", connections by ALPN: " + strings.Join(parts, ", ")
	if r.Fallback() {
		s += "\n  NOTE      the server chose HTTP/1.1 on some connections: their requests went over HTTP/1.1 keep-alive, not HTTP/2"
	}
	return s
}
