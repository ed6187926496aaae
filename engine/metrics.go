package engine

import (
	"log/slog"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// Process-wide counters, exported at /metrics on the admin address.
var (
	connsAccepted   = metrics.NewCounter("lucid_connections_accepted_total")
	connsClosed     = metrics.NewCounter("lucid_connections_closed_total")
	connsTimedOut   = metrics.NewCounter("lucid_connections_timed_out_total")
	connsOverflowed = metrics.NewCounter("lucid_connections_output_overflow_total")

	proxyRefusedFull = metrics.NewCounter("lucid_proxy_refused_max_connections_total")
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
	handshakesDone  = metrics.NewCounter("lucid_tls_handshakes_total")
	httpRequests    = metrics.NewCounter("lucid_http_requests_total")
	tls12Handoffs   = metrics.NewCounter("lucid_tls12_handoffs_total")
	// clientResumptions counts client handshakes that resumed a session
	// from one of our tickets (no leaf, no signature).
	clientResumptions = metrics.NewCounter("lucid_tls_resumed_handshakes_total")
	_                 = metrics.NewGauge("lucid_connections_open", func() float64 {
		return float64(connsAccepted.Get()) - float64(connsClosed.Get())
	})
)

// alertSent counts fatal alerts this process sent, by alert; alertReceived
// those its peers sent.
func alertSent(a tlsmitm.Alert) {
	metrics.GetOrCreateCounter(`lucid_tls_alerts_sent_total{alert="` + a.String() + `"}`).Inc()
}

func alertReceived(a tlsmitm.Alert) {
	metrics.GetOrCreateCounter(`lucid_tls_alerts_received_total{alert="` + a.String() + `"}`).Inc()
}

// The loops' slabs, for the gauges below; registered when made, dropped
// when closed.
var (
	arenasMu sync.Mutex
	arenas   = map[*secmem.Arena]struct{}{}
)

func registerArena(a *secmem.Arena) {
	arenasMu.Lock()
	arenas[a] = struct{}{}
	arenasMu.Unlock()
}

func unregisterArena(a *secmem.Arena) {
	arenasMu.Lock()
	delete(arenas, a)
	arenasMu.Unlock()
}

// sumArenas adds up one figure over every live slab; Stats is safe to read
// from the metrics goroutine.
func sumArenas(f func(secmem.Stats) float64) float64 {
	arenasMu.Lock()
	defer arenasMu.Unlock()
	var sum float64
	for a := range arenas {
		sum += f(a.Stats())
	}
	return sum
}

var (
	_ = metrics.NewGauge("lucid_slab_bytes", func() float64 {
		return sumArenas(func(s secmem.Stats) float64 { return float64(s.Size) })
	})
	_ = metrics.NewGauge("lucid_slab_bytes_in_use", func() float64 {
		return sumArenas(func(s secmem.Stats) float64 { return float64(s.InUse) })
	})
	_ = metrics.NewGauge("lucid_slab_exhausted_total", func() float64 {
		return sumArenas(func(s secmem.Stats) float64 { return float64(s.Exhausted) })
	})
	// lucid_slab_unlocked_bytes is slab memory the kernel refused to lock:
	// it may be written to swap.
	_ = metrics.NewGauge("lucid_slab_unlocked_bytes", func() float64 {
		return sumArenas(func(s secmem.Stats) float64 {
			if s.Locked {
				return 0
			}
			return float64(s.Size)
		})
	})
)

// reportMemoryLock says at start-up whether the key memory is locked.
func reportMemoryLock(logger *slog.Logger, loops []*loopState) {
	for _, ls := range loops {
		if st := ls.mem.Stats(); !st.Locked {
			logger.Warn("key memory is not locked and may be swapped", "reason", st.LockErr, "bytes", st.Size)
			return
		}
	}
	logger.Info("key memory locked", "loops", len(loops))
}

// decisions counts the policy's answers by action.
func decisions(action string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`lucid_proxy_decisions_total{action="` + action + `"}`)
}
