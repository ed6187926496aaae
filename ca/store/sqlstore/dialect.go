package sqlstore

import (
	"context"
	"database/sql"
)

// Dialect is what differs between the SQL backends. The queries are
// written once, with ? placeholders and the column types and constraint
// syntax that SQLite and PostgreSQL share; a Dialect supplies the rest.
type Dialect struct {
	// Name identifies the backend in errors and in a backup's header.
	Name string
	// NumberedParams rewrites the ? placeholders to $1, $2, ...
	NumberedParams bool
	// Blob is the column type of byte strings.
	Blob string
	// AuditSeq is the column definition of audit.seq: an integer primary
	// key the database assigns, never reused.
	AuditSeq string
	// AppendOnly returns the statements that make table refuse UPDATE and
	// DELETE (and whatever else would empty it) at the SQL level.
	AppendOnly func(table string) []string

	// MigrationLock, when set, runs first in every migration transaction so
	// that nodes starting together migrate one at a time. SQLite needs none:
	// its write transactions begin with the database's write lock.
	MigrationLock string
	// ForUpdate is appended to a SELECT in a write transaction to lock the
	// rows it reads; "" where the transaction already holds the write lock.
	ForUpdate string
	// AuditLock, when set, runs before an audit insert so that entries
	// commit in seq order and a reader paging by seq never skips one.
	AuditLock string
	// Snapshot are the options of Backup's read transaction: it must see
	// one consistent state of every table.
	Snapshot sql.TxOptions

	// Violation classifies a constraint error.
	Violation func(err error) Violation
	// AfterDestroy, when set, runs after a transaction that deleted data
	// keys committed, to push their bytes out of files the database keeps
	// (SQLite's write-ahead log). Its error is returned to the caller, the
	// deletion itself stands.
	AfterDestroy func(ctx context.Context, db *sql.DB) error
}

// Violation is the kind of constraint an error reports.
type Violation int

// Constraint kinds the store turns into store errors.
const (
	NoViolation Violation = iota
	UniqueViolation
	ForeignKeyViolation
)
