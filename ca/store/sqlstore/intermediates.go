package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lucid-edge/lucid/ca/store"
)

const intermediateColumns = `id, org_id, key_id, state, csr, cert, chain, not_after, created_at`

// PutIntermediate adds an intermediate or updates one: an update may change
// its state, CSR, certificate, chain and expiry, never its org or key
// (ErrExists if it tries). An org has at most one active intermediate
// (ErrExists for a second); Activate is how one replaces another.
func (s *Store) PutIntermediate(ctx context.Context, in store.Intermediate) error {
	if err := checkState(in.State); err != nil {
		return err
	}
	return s.putIntermediate(ctx, s.db, in)
}

// Intermediate returns an intermediate by ID.
func (s *Store) Intermediate(ctx context.Context, id string) (store.Intermediate, error) {
	in, err := scanIntermediate(s.db.QueryRowContext(ctx,
		s.q(`SELECT `+intermediateColumns+` FROM intermediates WHERE id = ?`), id))
	if err != nil {
		return store.Intermediate{}, notFound(err, fmt.Sprintf("store: intermediate %q", id))
	}
	return in, nil
}

// Intermediates lists an org's intermediates, newest first.
func (s *Store) Intermediates(ctx context.Context, orgID string) ([]store.Intermediate, error) {
	return list(ctx, s.db,
		s.q(`SELECT `+intermediateColumns+` FROM intermediates WHERE org_id = ? ORDER BY created_at DESC, id DESC`),
		[]any{orgID}, fmt.Sprintf("store: intermediates of %q", orgID), scanIntermediate)
}

// Activate makes in its org's active intermediate in one transaction: the
// previous active one is retired, and its key and data key are deleted.
// in's key must exist and differ from the retired one's, and in must carry
// its certificate.
func (s *Store) Activate(ctx context.Context, in store.Intermediate) error {
	if len(in.Cert) == 0 {
		return fmt.Errorf("store: activate intermediate %q: no certificate", in.ID)
	}
	in.State = store.IntermediateActive
	destroyed := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		what := fmt.Sprintf("store: activate intermediate %q", in.ID)
		var orgID string
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM orgs WHERE id = ?`+s.d.ForUpdate), in.OrgID).Scan(&orgID)
		if err != nil {
			return notFound(err, fmt.Sprintf("%s: org %q", what, in.OrgID))
		}
		var keyID string
		err = tx.QueryRowContext(ctx, s.q(`SELECT id FROM keys WHERE id = ?`), in.KeyID).Scan(&keyID)
		if err != nil {
			return notFound(err, fmt.Sprintf("%s: key %q", what, in.KeyID))
		}
		var oldID, oldKey string
		err = tx.QueryRowContext(ctx, s.q(`SELECT id, key_id FROM intermediates WHERE org_id = ? AND state = 'active' AND id <> ?`),
			in.OrgID, in.ID).Scan(&oldID, &oldKey)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case oldKey == in.KeyID:
			return fmt.Errorf("%s: it reuses the key of %q, which activation deletes", what, oldID)
		default:
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE intermediates SET state = 'retired' WHERE id = ?`), oldID); err != nil {
				return fmt.Errorf("%s: retire %q: %w", what, oldID, err)
			}
			err := s.destroyKey(ctx, tx, oldKey)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			destroyed = err == nil
		}
		return s.putIntermediate(ctx, tx, in)
	})
	if err != nil {
		return err
	}
	if destroyed {
		return s.afterDestroy(ctx)
	}
	return nil
}

func (s *Store) putIntermediate(ctx context.Context, q querier, in store.Intermediate) error {
	what := fmt.Sprintf("store: intermediate %q", in.ID)
	chain, err := encodeChain(in.Chain)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := q.ExecContext(ctx, s.q(`
		INSERT INTO intermediates (`+intermediateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			state = excluded.state, csr = excluded.csr, cert = excluded.cert,
			chain = excluded.chain, not_after = excluded.not_after
		WHERE intermediates.org_id = excluded.org_id AND intermediates.key_id = excluded.key_id`),
		in.ID, in.OrgID, in.KeyID, in.State, in.CSR, in.Cert, chain, micros(in.NotAfter), micros(in.CreatedAt))
	if err != nil {
		return s.constraint(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s belongs to another org or key: %w", what, store.ErrExists)
	}
	return nil
}

func checkState(state string) error {
	switch state {
	case store.IntermediatePending, store.IntermediateActive, store.IntermediateRetired:
		return nil
	}
	return fmt.Errorf("store: unknown intermediate state %q", state)
}

func scanIntermediate(r scanner) (store.Intermediate, error) {
	var in store.Intermediate
	var chain string
	var notAfter, created int64
	err := r.Scan(&in.ID, &in.OrgID, &in.KeyID, &in.State, &in.CSR, &in.Cert, &chain, &notAfter, &created)
	if err != nil {
		return store.Intermediate{}, err
	}
	if in.Chain, err = decodeChain(chain); err != nil {
		return store.Intermediate{}, fmt.Errorf("intermediate %q: %w", in.ID, err)
	}
	in.NotAfter = fromMicros(notAfter)
	in.CreatedAt = fromMicros(created)
	return in, nil
}

// encodeChain stores a chain as a JSON array of base64 DER certificates.
func encodeChain(chain [][]byte) (string, error) {
	if len(chain) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(chain)
	return string(b), err
}

func decodeChain(s string) ([][]byte, error) {
	var chain [][]byte
	if err := json.Unmarshal([]byte(s), &chain); err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	if len(chain) == 0 {
		return nil, nil
	}
	return chain, nil
}
