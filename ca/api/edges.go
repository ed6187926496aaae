package api

import (
	"encoding/pem"
	"net/http"
	"strconv"
	"time"
)

func (a *admin) enrolEdge(w http.ResponseWriter, r *http.Request) error {
	var req EnrolRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	b, rest := pem.Decode([]byte(req.CSRPEM))
	if b == nil || (b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST") {
		return badRequest(`csr_pem holds no PEM "CERTIFICATE REQUEST" block: send the edge's CSR`)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return badRequest("csr_pem holds more than one PEM block: send one CSR")
	}
	e, der, err := a.auth.EnrolEdge(r.Context(), req.Org, b.Bytes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, EnrolResponse{ID: e.ID, CertificatePEM: certPEM(der), RootPEM: certPEM(a.auth.Root().Raw)})
	return nil
}

func (a *admin) listEdges(w http.ResponseWriter, r *http.Request) error {
	edges, err := a.auth.Edges(r.Context())
	if err != nil {
		return err
	}
	out := make([]Edge, 0, len(edges))
	for _, e := range edges {
		out = append(out, edgeView(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Audit log pages.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

func (a *admin) auditLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := queryInt(q.Get("after"), "after", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(q.Get("limit"), "limit", defaultAuditLimit)
	if err != nil {
		return err
	}
	if limit < 1 || limit > maxAuditLimit {
		return badRequest("limit=%d: ask for 1 to %d entries", limit, maxAuditLimit)
	}
	entries, err := a.auth.AuditLog(r.Context(), after, int(limit))
	if err != nil {
		return err
	}
	out := make([]AuditEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditView(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func queryInt(s, name string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s=%q: give a whole number, 0 or more", name, s)
	}
	return n, nil
}

// backup streams the store's backup. Once the first byte is out the
// status is sent, so a failure after that aborts the connection instead:
// the client sees a broken transfer, never a short file that looks whole.
func (a *admin) backup(w http.ResponseWriter, r *http.Request) error {
	bw := &startedWriter{w: w, start: func() {
		name := "lucid-ca-" + time.Now().UTC().Format("20060102T150405Z") + ".zst"
		w.Header().Set("Content-Type", "application/zstd")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}}
	err := a.auth.Backup(r.Context(), bw)
	if err == nil {
		if !bw.started {
			bw.start()
		}
		return nil
	}
	if !bw.started {
		return err
	}
	a.log.Error("backup failed mid-stream", "err", err)
	panic(http.ErrAbortHandler)
}

// startedWriter sends the response head just before the first byte.
type startedWriter struct {
	w       http.ResponseWriter
	start   func()
	started bool
}

func (s *startedWriter) Write(b []byte) (int, error) {
	if !s.started {
		s.started = true
		s.start()
	}
	return s.w.Write(b)
}

func (a *admin) root(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write([]byte(certPEM(a.auth.Root().Raw)))
	return nil
}
