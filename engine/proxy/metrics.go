package proxy

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/internal/policy"
)

// The proxy's own counters, exported at /metrics beside the engine's.
var (
	proxyRefusedFull = metrics.NewCounter("lucid_proxy_refused_max_connections_total")
	authRateLimited  = metrics.NewCounter("lucid_proxy_auth_rate_limited_total")
	upstreamFailures = metrics.NewCounter("lucid_upstream_failures_total")
	upstreamInvalid  = metrics.NewCounter("lucid_upstream_invalid_certificates_total")
	mirrorFallbacks  = metrics.NewCounter("lucid_upstream_mirror_fallbacks_total")
	bytesRelayed     = metrics.NewCounter("lucid_bytes_relayed_to_clients_total")
	pathsBlocked     = metrics.NewCounter("lucid_proxy_paths_blocked_total")
	inputPaused      = metrics.NewCounter("lucid_proxy_client_input_paused_total")
	// Handshake latency by side: upstream is the origin's dial, its TLS
	// handshake and the org's key; client is from the client's hello to its
	// Finished, which includes the upstream side and the leaf.
	upstreamLatency = metrics.NewHistogram(`lucid_handshake_duration_seconds{side="upstream"}`)
	clientLatency   = metrics.NewHistogram(`lucid_handshake_duration_seconds{side="client"}`)
)

// decisions counts the policy's answers by action.
func decisions(a policy.Action) *metrics.Counter {
	return metrics.GetOrCreateCounter(`lucid_proxy_decisions_total{action="` + a.String() + `"}`)
}
