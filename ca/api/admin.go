package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/lucid-edge/lucid/ca/authority"
)

// AdminConfig configures the admin API.
type AdminConfig struct {
	Authority *authority.Authority
	// TokenSHA256 is the SHA-256 of the bearer token administrators
	// present. Only the hash is kept, and a presented token is hashed and
	// compared in constant time, so neither the comparison's timing nor a
	// memory dump of the CA gives the token away.
	TokenSHA256 [32]byte
	Logger      *slog.Logger
	Metrics     *Metrics
}

type admin struct {
	auth  *authority.Authority
	token [32]byte
	log   *slog.Logger
}

// NewAdmin returns the admin API. Every route under /admin/v1/ needs the
// bearer token; /metrics does not, since it says only how many requests of
// each kind were answered.
func NewAdmin(cfg AdminConfig) (http.Handler, error) {
	if cfg.Authority == nil || cfg.Logger == nil || cfg.Metrics == nil {
		return nil, errors.New("api: the admin API needs an authority, a logger and metrics")
	}
	if cfg.TokenSHA256 == ([32]byte{}) {
		return nil, errors.New("api: the admin API needs a token")
	}
	a := &admin{auth: cfg.Authority, token: cfg.TokenSHA256, log: cfg.Logger}
	mux := http.NewServeMux()
	route := func(pattern string, f handlerFunc) {
		mux.Handle(pattern, a.authenticate(handle(a.log, f)))
	}
	route("POST /admin/v1/orgs", a.createOrg)
	route("GET /admin/v1/orgs", a.listOrgs)
	route("GET /admin/v1/orgs/{id}", a.showOrg)
	route("PATCH /admin/v1/orgs/{id}", a.updateOrg)
	route("POST /admin/v1/orgs/{id}/intermediate", a.issueIntermediate)
	route("POST /admin/v1/orgs/{id}/csr", a.requestCSR)
	route("POST /admin/v1/orgs/{id}/upload", a.uploadIntermediate)
	route("POST /admin/v1/orgs/{id}/rotate", a.rotate)
	route("POST /admin/v1/orgs/{id}/revoke", a.revoke)
	route("POST /admin/v1/orgs/{id}/revoke-intermediate", a.revokeIntermediate)
	route("POST /admin/v1/edges", a.enrolEdge)
	route("GET /admin/v1/edges", a.listEdges)
	route("GET /admin/v1/audit", a.auditLog)
	route("GET /admin/v1/backup", a.backup)
	route("GET /admin/v1/root", a.root)
	// Anything else under /admin/ is refused without a token like the
	// rest, so the routes cannot be mapped anonymously.
	route("/admin/", func(w http.ResponseWriter, r *http.Request) error {
		return &authority.Error{Status: http.StatusNotFound, Msg: "no admin endpoint " + r.Method + " " + r.URL.Path}
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		cfg.Metrics.WritePrometheus(w)
	})
	return observe("admin", cfg.Logger, cfg.Metrics, mux), nil
}

// authenticate lets a request through only with the admin bearer token
// (RFC 6750).
func (a *admin) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lucid-ca"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "send the admin token as 'Authorization: Bearer <token>'"})
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(sum[:], a.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lucid-ca", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "the admin token is not valid: use the one in the CA's admin_token_file"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
