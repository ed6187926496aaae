// Package sqlstore implements store.Store on database/sql, once for both
// SQL backends (packages sqlite and postgres), which supply a Dialect and
// an open *sql.DB.
//
// The schema is versioned: New applies the migrations the database lacks,
// each in its own transaction, and refuses a database that a newer build
// has migrated further. Times are stored as Unix microseconds (BIGINT; 0 is
// the zero time), which spans a certificate's 9999-12-31 "no expiry" date
// as nanoseconds would not, and read back in UTC.
//
// Key material is destroyed, not just unlinked: DeleteKey and Activate
// delete the data key in the same transaction as its key, data_keys is
// also declared ON DELETE CASCADE, and Backup never reads it.
//
// A Store is safe for concurrent use.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// Store is a store.Store on a SQL database.
type Store struct {
	db *sql.DB
	d  *Dialect
}

var _ store.Store = (*Store)(nil)

// New migrates db to the current schema and returns a Store on it. The
// Store owns db from then on: Close closes it. On error db is left open.
func New(ctx context.Context, db *sql.DB, d *Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q rewrites query's ? placeholders for the dialect. The queries of this
// package never hold a ? inside a literal.
func (s *Store) q(query string) string {
	if !s.d.NumberedParams || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// write runs fn in a write transaction and commits it if fn succeeds.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// afterDestroy lets the dialect push deleted key material out of its files.
func (s *Store) afterDestroy(ctx context.Context) error {
	if s.d.AfterDestroy == nil {
		return nil
	}
	if err := s.d.AfterDestroy(ctx, s.db); err != nil {
		return fmt.Errorf("store: after deleting a key: %w", err)
	}
	return nil
}

// constraint turns a constraint violation into ErrExists or ErrNotFound
// (a row that refers to a missing one), naming what; other errors are
// wrapped as they are.
func (s *Store) constraint(err error, what string) error {
	switch s.d.Violation(err) {
	case UniqueViolation:
		return fmt.Errorf("%s: %w", what, store.ErrExists)
	case ForeignKeyViolation:
		return fmt.Errorf("%s refers to a missing row: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// notFound turns sql.ErrNoRows into ErrNotFound, naming what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mustAffect reports ErrNotFound, naming what, when res changed no row.
func mustAffect(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// micros is how a time is stored: Unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros reads a stored time back, in UTC.
func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}
