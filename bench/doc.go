// Package bench is the load generator behind `edgebench`: it opens TLS
// connections to a server, directly or through an HTTP CONNECT proxy, and
// measures requests per second, latency percentiles, errors by kind, and
// the CPU time that each watched server process spends per request.
//
// # Workloads
//
//   - handshake: a new TLS connection per request, closed after it; full
//     or resumed, with a chosen key-exchange group and cipher suite.
//   - inspect: TCP to the proxy, CONNECT, TLS with the origin's name
//     through the tunnel (the proxy's minted certificate), one request,
//     close; with Names > 1 the origin name cycles through o1..oN.
//   - keepalive: requests back to back on Concurrency open connections.
//   - h2: Concurrency HTTP/2 connections (ALPN h2, directly or through
//     CONNECT), each keeping Streams GET streams in flight, within the
//     server's SETTINGS_MAX_CONCURRENT_STREAMS. A connection on which the
//     server picks HTTP/1.1 runs as keepalive does: Result.Protocols
//     counts the connections by protocol, so a fallback shows.
//   - pipeline: Depth HTTP/1.1 requests written back to back in one write
//     on each of Concurrency connections, then their responses read in
//     order, then the next batch.
//   - idle: IdleConns fully set-up connections held open, to read each
//     watched process's memory per connection.
//
// # Measurement
//
// Each worker owns one connection at a time, its buffers and its own
// Histogram; nothing is shared in the hot path but a few atomic counters.
// A request counts if it starts inside the measured window (after Warmup)
// and ends before the window closes (Duration, or when Count requests have
// been started); one still in flight at the end counts neither as a
// success nor as an error. CPU figures are the difference of two samples
// taken when the window opens and closes: /proc/PID/stat for watched
// servers, getrusage for the load generator itself. On a shared machine
// the servers' CPU per request is the stable figure; requests per second
// also depend on what else runs.
//
// The client is cheap by construction: raw HTTP/1.1 written and parsed by
// hand (no net/http), HTTP/2 framed with x/net's Framer and HPACK on the
// worker's own goroutine (no http2.Transport), and certificate chains verified once per distinct
// chain and name, then answered from a cache. What remains is the TLS
// handshake's own cost, which for a full TLS 1.3 handshake with an ECDSA
// certificate is higher on the client (key share plus signature
// verification) than on the server; Result.LoadgenCPUmsPerReq shows it,
// and `edgebench run -procs N` spreads it over N processes.
package bench
