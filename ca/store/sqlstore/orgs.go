package sqlstore

import (
	"context"
	"fmt"

	"github.com/lucid-edge/lucid/ca/store"
)

// Vault returns the password record.
func (s *Store) Vault(ctx context.Context) (store.Vault, error) {
	var v store.Vault
	err := s.db.QueryRowContext(ctx, `SELECT kdf, verifier FROM vault WHERE id = 1`).Scan(&v.KDF, &v.Verifier)
	if err != nil {
		return store.Vault{}, notFound(err, "store: vault")
	}
	return v, nil
}

// InitVault stores the password record; ErrExists if there is one.
func (s *Store) InitVault(ctx context.Context, v store.Vault) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO vault (id, kdf, verifier) VALUES (1, ?, ?)`), v.KDF, v.Verifier)
	if err != nil {
		return s.constraint(err, "store: vault")
	}
	return nil
}

const orgColumns = `id, name, private_only, fail_mode, created_at`

// CreateOrg adds an org; ErrExists if its ID is taken.
func (s *Store) CreateOrg(ctx context.Context, o store.Org) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO orgs (`+orgColumns+`) VALUES (?, ?, ?, ?, ?)`),
		o.ID, o.Name, o.PrivateOnly, o.FailMode, micros(o.CreatedAt))
	if err != nil {
		return s.constraint(err, fmt.Sprintf("store: org %q", o.ID))
	}
	return nil
}

// Org returns an org by ID.
func (s *Store) Org(ctx context.Context, id string) (store.Org, error) {
	o, err := scanOrg(s.db.QueryRowContext(ctx, s.q(`SELECT `+orgColumns+` FROM orgs WHERE id = ?`), id))
	if err != nil {
		return store.Org{}, notFound(err, fmt.Sprintf("store: org %q", id))
	}
	return o, nil
}

// Orgs lists the orgs by ID.
func (s *Store) Orgs(ctx context.Context) ([]store.Org, error) {
	return list(ctx, s.db, `SELECT `+orgColumns+` FROM orgs ORDER BY id`, nil, "store: orgs", scanOrg)
}

// UpdateOrg replaces an org's fields but its ID and creation time.
func (s *Store) UpdateOrg(ctx context.Context, o store.Org) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE orgs SET name = ?, private_only = ?, fail_mode = ? WHERE id = ?`),
		o.Name, o.PrivateOnly, o.FailMode, o.ID)
	if err != nil {
		return fmt.Errorf("store: org %q: %w", o.ID, err)
	}
	return mustAffect(res, fmt.Sprintf("store: org %q", o.ID))
}

func scanOrg(r scanner) (store.Org, error) {
	var o store.Org
	var created int64
	if err := r.Scan(&o.ID, &o.Name, &o.PrivateOnly, &o.FailMode, &created); err != nil {
		return store.Org{}, err
	}
	o.CreatedAt = fromMicros(created)
	return o, nil
}
