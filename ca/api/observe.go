package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/internal/nodump"
)

// Metrics counts what the three APIs do. One Metrics serves one CA
// process; the admin API serves it at /metrics.
type Metrics struct {
	set         *metrics.Set
	keysIssued  *metrics.Counter
	keysRefused *metrics.Counter
}

// NewMetrics makes an empty set of the CA's metrics.
func NewMetrics() *Metrics {
	s := metrics.NewSet()
	s.NewGauge("lucid_process_dumpable", nodump.GaugeValue)
	return &Metrics{
		set:         s,
		keysIssued:  s.NewCounter("lucid_ca_keys_issued_total"),
		keysRefused: s.NewCounter("lucid_ca_keys_refused_total"),
	}
}

// WritePrometheus writes the CA's metrics and the process's in Prometheus
// text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}

// request counts one answered request. endpoint is the route's pattern,
// never the path, so organisation IDs do not become label values.
func (m *Metrics) request(api, endpoint string, status int) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`lucid_ca_requests_total{api=%q,endpoint=%q,status="%d"}`, api, endpoint, status)).Inc()
}

// observe logs one line per request (never a body, a query or a header)
// and counts it. It wraps a ServeMux, which records the matched pattern in
// r.Pattern.
func observe(api string, log *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		aborted := true
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			endpoint := r.Pattern
			if endpoint == "" {
				endpoint = "unmatched"
			}
			m.request(api, endpoint, status)
			attrs := []any{"api", api, "method", r.Method, "path", r.URL.Path, "status", status,
				"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr}
			if aborted {
				attrs = append(attrs, "aborted", true)
			}
			log.Info("request", attrs...)
		}()
		next.ServeHTTP(sw, r)
		aborted = false
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
