package engine

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/internal/secmem"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// Counters every application of the engine shares, exported at /metrics
// on the admin address. The applications count what only they see
// themselves.
var (
	ConnsAccepted   = metrics.NewCounter("lucid_connections_accepted_total")
	ConnsClosed     = metrics.NewCounter("lucid_connections_closed_total")
	ConnsTimedOut   = metrics.NewCounter("lucid_connections_timed_out_total")
	ConnsOverflowed = metrics.NewCounter("lucid_connections_output_overflow_total")
	HandshakesDone  = metrics.NewCounter("lucid_tls_handshakes_total")
	HTTPRequests    = metrics.NewCounter("lucid_http_requests_total")
	TLS12Handoffs   = metrics.NewCounter("lucid_tls12_handoffs_total")
	// ClientResumptions counts client handshakes that resumed a session
	// from one of our tickets (no leaf, no signature).
	ClientResumptions = metrics.NewCounter("lucid_tls_resumed_handshakes_total")
	_                 = metrics.NewGauge("lucid_connections_open", func() float64 {
		return float64(ConnsAccepted.Get()) - float64(ConnsClosed.Get())
	})
)

// CountTLSFailure counts the fatal alert inside err, by alert: one this
// process sent (tlsmitm.AlertError) or one its peer sent
// (tlsmitm.PeerAlertError).
func CountTLSFailure(err error) {
	var sent *tlsmitm.AlertError
	var got *tlsmitm.PeerAlertError
	switch {
	case errors.As(err, &sent):
		metrics.GetOrCreateCounter(`lucid_tls_alerts_sent_total{alert="` + sent.Alert.String() + `"}`).Inc()
	case errors.As(err, &got):
		metrics.GetOrCreateCounter(`lucid_tls_alerts_received_total{alert="` + got.Alert.String() + `"}`).Inc()
	}
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
func reportMemoryLock(logger *slog.Logger, loops []*Loop) {
	for _, ls := range loops {
		if st := ls.Mem.Stats(); !st.Locked {
			logger.Warn("key memory is not locked and may be swapped", "reason", st.LockErr, "bytes", st.Size)
			return
		}
	}
	logger.Info("key memory locked", "loops", len(loops))
}
