package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int { return len(migrations) }

// migrate brings the database to SchemaVersion, one transaction per
// version, and refuses one that is already past it: an older build must
// not write to a schema it does not know.
func (s *Store) migrate(ctx context.Context) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.migrationLock(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %s: create schema_migrations: %w", s.d.Name, err)
	}
	for {
		done := false
		err := s.write(ctx, func(tx *sql.Tx) error {
			if err := s.migrationLock(ctx, tx); err != nil {
				return err
			}
			v, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v > len(migrations) {
				return fmt.Errorf("store: %s: the database has schema version %d, newer than this build's %d: run a newer lucid",
					s.d.Name, v, len(migrations))
			}
			if v == len(migrations) {
				done = true
				return nil
			}
			for _, stmt := range migrations[v](s.d) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("store: %s: migrate to version %d: %w", s.d.Name, v+1, err)
				}
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
				v+1, micros(time.Now()))
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrationLock(ctx context.Context, tx *sql.Tx) error {
	if s.d.MigrationLock == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
		return fmt.Errorf("store: %s: migration lock: %w", s.d.Name, err)
	}
	return nil
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}
