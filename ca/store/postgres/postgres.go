// Package postgres is the store's backend for several CA nodes over one
// replicated PostgreSQL database, through pgx's database/sql driver.
//
// Nodes that start together migrate one at a time under an advisory lock.
// The audit table refuses UPDATE, DELETE and TRUNCATE with triggers; only
// a role that may drop them (the table's owner) can get around that, so run
// the CA as a role that does not own the schema where that matters.
//
// Deleted rows stay in the table's pages until vacuum reuses them, and in
// the write-ahead log and its archive: a pg_dump or base backup taken for
// disaster recovery must leave data_keys out (pg_dump
// --exclude-table-data=data_keys) or be protected like the live database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

// Store is the store on a PostgreSQL database.
type Store = sqlstore.Store

// Open connects to the database that dsn names (a libpq connection string
// or URL), and migrates it to the current schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	s, err := sqlstore.New(ctx, db, &Dialect)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Advisory locks, named in ASCII: migrations take "lucid_ca", audit
// inserts "lucid_au". Unlike LOCK TABLE they need no privilege on a table,
// so the CA's role can be left with INSERT and SELECT on audit.
const (
	migrationLockID = 0x6c756369645f6361
	auditLockID     = 0x6c756369645f6175
)

// Dialect is PostgreSQL's SQL.
var Dialect = sqlstore.Dialect{
	Name:           "postgres",
	NumberedParams: true,
	Blob:           "BYTEA",
	AuditSeq:       "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
	AppendOnly: func(table string) []string {
		return []string{
			fmt.Sprintf(`CREATE FUNCTION %[1]s_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION '%[1]s is append-only'; END $$`, table),
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_change BEFORE UPDATE OR DELETE ON %[1]s
				FOR EACH ROW EXECUTE FUNCTION %[1]s_append_only()`, table),
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_truncate BEFORE TRUNCATE ON %[1]s
				FOR EACH STATEMENT EXECUTE FUNCTION %[1]s_append_only()`, table),
		}
	},
	MigrationLock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLockID),
	ForUpdate:     " FOR UPDATE",
	// Identity values are drawn before commit, so without this two inserts
	// could commit out of seq order and a reader paging by seq could pass
	// an entry that was not yet visible. Readers do not take it.
	AuditLock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, auditLockID),
	Snapshot:  sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Violation: violation,
}

func violation(err error) sqlstore.Violation {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return sqlstore.NoViolation
	}
	switch e.Code {
	case "23505": // unique_violation
		return sqlstore.UniqueViolation
	case "23503": // foreign_key_violation
		return sqlstore.ForeignKeyViolation
	}
	return sqlstore.NoViolation
}
