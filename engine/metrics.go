package engine

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/tlsmitm"
)

// Process-wide counters, exported at /metrics on the admin address.
var (
	connsAccepted   = metrics.NewCounter("lucid_connections_accepted_total")
	connsClosed     = metrics.NewCounter("lucid_connections_closed_total")
	connsTimedOut   = metrics.NewCounter("lucid_connections_timed_out_total")
	connsOverflowed = metrics.NewCounter("lucid_connections_output_overflow_total")
	handshakesDone  = metrics.NewCounter("lucid_tls_handshakes_total")
	httpRequests    = metrics.NewCounter("lucid_http_requests_total")
	_               = metrics.NewGauge("lucid_connections_open", func() float64 {
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
