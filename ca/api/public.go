package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/ca/authority"
)

// PublicConfig configures the public listener.
type PublicConfig struct {
	Authority *authority.Authority
	Logger    *slog.Logger
	Metrics   *Metrics
}

// NewPublic returns what the CA serves to anyone: CRLs (GET /crl/{org},
// and /crl/root for the service root's) and a health check.
func NewPublic(cfg PublicConfig) (http.Handler, error) {
	if cfg.Authority == nil || cfg.Logger == nil || cfg.Metrics == nil {
		return nil, errors.New("api: the public listener needs an authority, a logger and metrics")
	}
	a := cfg.Authority
	mux := http.NewServeMux()
	mux.Handle("GET /crl/{org}", handle(cfg.Logger, func(w http.ResponseWriter, r *http.Request) error {
		der, nextUpdate, err := a.CRL(r.Context(), r.PathValue("org"))
		if err != nil {
			return err
		}
		// Caches may keep the CRL until it expires and no longer: a
		// revocation shows in the next CRL the CA signs.
		maxAge := max(int64(time.Until(nextUpdate)/time.Second), 0)
		h := w.Header()
		h.Set("Content-Type", "application/pkix-crl")
		h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(maxAge, 10))
		h.Set("Expires", nextUpdate.UTC().Format(http.TimeFormat))
		h.Set("Content-Length", strconv.Itoa(len(der)))
		_, _ = w.Write(der)
		return nil
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	return observe("public", cfg.Logger, cfg.Metrics, mux), nil
}
