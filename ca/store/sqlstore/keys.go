package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lucid-edge/lucid/ca/store"
)

const keyColumns = `id, org_id, algorithm, ciphertext, created_at`

// PutKey stores a sealed key and its data key in one transaction;
// ErrExists if the key ID is taken.
func (s *Store) PutKey(ctx context.Context, k store.SealedKey, dk store.DataKey) error {
	if dk.KeyID != k.ID {
		return fmt.Errorf("store: data key for %q given with key %q", dk.KeyID, k.ID)
	}
	what := fmt.Sprintf("store: key %q", k.ID)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?)`),
			k.ID, k.OrgID, k.Algorithm, k.Ciphertext, micros(k.CreatedAt))
		if err != nil {
			return s.constraint(err, what)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO data_keys (key_id, sealed, kdf) VALUES (?, ?, ?)`),
			dk.KeyID, dk.Sealed, dk.KDF)
		if err != nil {
			return s.constraint(err, what+" data key")
		}
		return nil
	})
}

// Key returns a sealed key and its data key. A key whose data key is gone
// is as good as gone: ErrNotFound.
func (s *Store) Key(ctx context.Context, id string) (store.SealedKey, store.DataKey, error) {
	var k store.SealedKey
	var dk store.DataKey
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`
		SELECT k.id, k.org_id, k.algorithm, k.ciphertext, k.created_at, d.key_id, d.sealed, d.kdf
		FROM keys k JOIN data_keys d ON d.key_id = k.id
		WHERE k.id = ?`), id).
		Scan(&k.ID, &k.OrgID, &k.Algorithm, &k.Ciphertext, &created, &dk.KeyID, &dk.Sealed, &dk.KDF)
	if err != nil {
		return store.SealedKey{}, store.DataKey{}, notFound(err, fmt.Sprintf("store: key %q", id))
	}
	k.CreatedAt = fromMicros(created)
	return k, dk, nil
}

// DeleteKey deletes a key and destroys its data key in one transaction.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return s.destroyKey(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	return s.afterDestroy(ctx)
}

// destroyKey deletes a key's data key, then the key. The data key goes
// first and explicitly, whether or not the database enforces the cascade.
func (s *Store) destroyKey(ctx context.Context, tx *sql.Tx, id string) error {
	what := fmt.Sprintf("store: delete key %q", id)
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM data_keys WHERE key_id = ?`), id); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM keys WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return mustAffect(res, what)
}

func scanKey(r scanner) (store.SealedKey, error) {
	var k store.SealedKey
	var created int64
	if err := r.Scan(&k.ID, &k.OrgID, &k.Algorithm, &k.Ciphertext, &created); err != nil {
		return store.SealedKey{}, err
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}
