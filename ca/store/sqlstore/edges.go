package sqlstore

import (
	"context"
	"fmt"

	"github.com/lucid-edge/lucid/ca/store"
)

const edgeColumns = `id, org_id, cert_sha256, cert_serial, created_at, revoked`

// CreateEdge enrols an edge; ErrExists if its ID or certificate is taken.
func (s *Store) CreateEdge(ctx context.Context, e store.Edge) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO edges (`+edgeColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
		e.ID, e.OrgID, e.CertSHA256[:], e.CertSerial, micros(e.CreatedAt), e.Revoked)
	if err != nil {
		return s.constraint(err, fmt.Sprintf("store: edge %q", e.ID))
	}
	return nil
}

// EdgeByCert returns the edge whose client certificate has this SHA-256.
func (s *Store) EdgeByCert(ctx context.Context, sha [32]byte) (store.Edge, error) {
	e, err := scanEdge(s.db.QueryRowContext(ctx, s.q(`SELECT `+edgeColumns+` FROM edges WHERE cert_sha256 = ?`), sha[:]))
	if err != nil {
		return store.Edge{}, notFound(err, fmt.Sprintf("store: edge with certificate %x", sha))
	}
	return e, nil
}

// Edges lists the edges in enrolment order.
func (s *Store) Edges(ctx context.Context) ([]store.Edge, error) {
	return list(ctx, s.db, `SELECT `+edgeColumns+` FROM edges ORDER BY created_at, id`, nil, "store: edges", scanEdge)
}

func scanEdge(r scanner) (store.Edge, error) {
	var e store.Edge
	var sha []byte
	var created int64
	if err := r.Scan(&e.ID, &e.OrgID, &sha, &e.CertSerial, &created, &e.Revoked); err != nil {
		return store.Edge{}, err
	}
	if len(sha) != len(e.CertSHA256) {
		return store.Edge{}, fmt.Errorf("edge %q: certificate hash of %d bytes", e.ID, len(sha))
	}
	copy(e.CertSHA256[:], sha)
	e.CreatedAt = fromMicros(created)
	return e, nil
}

const revocationColumns = `org_id, serial, revoked_at, reason`

// Revoke records a revoked serial; ErrExists if it already is, ErrNotFound
// if the org is unknown.
func (s *Store) Revoke(ctx context.Context, r store.Revocation) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO revocations (`+revocationColumns+`) VALUES (?, ?, ?, ?)`),
		r.OrgID, r.Serial, micros(r.RevokedAt), r.Reason)
	if err != nil {
		return s.constraint(err, fmt.Sprintf("store: revocation of %x in org %q", r.Serial, r.OrgID))
	}
	return nil
}

// Revocations lists an org's revoked serials in the order they were revoked.
func (s *Store) Revocations(ctx context.Context, orgID string) ([]store.Revocation, error) {
	return list(ctx, s.db, s.q(`SELECT `+revocationColumns+` FROM revocations WHERE org_id = ? ORDER BY revoked_at, serial`),
		[]any{orgID}, fmt.Sprintf("store: revocations of %q", orgID), scanRevocation)
}

func scanRevocation(r scanner) (store.Revocation, error) {
	var v store.Revocation
	var revoked int64
	if err := r.Scan(&v.OrgID, &v.Serial, &revoked, &v.Reason); err != nil {
		return store.Revocation{}, err
	}
	v.RevokedAt = fromMicros(revoked)
	return v, nil
}
