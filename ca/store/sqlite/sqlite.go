// Package sqlite is the store's single-node backend: one SQLite file in the
// CA's data folder, through modernc.org/sqlite (pure Go, no cgo).
//
// The file is created 0600 and tightened to 0600 if it was looser: it
// holds sealed keys and their data keys side by side, so only the CA
// password stands between a copy of it and every key. For that reason a
// copy of the file is not a backup to hand around; Store.Backup is.
//
// Connections run in WAL mode with synchronous=FULL (a committed rotation
// survives a power cut), foreign keys on, a busy timeout, and write
// transactions that begin IMMEDIATE, so two writers queue instead of
// failing on a lock upgrade. secure_delete zeroes deleted rows in place,
// and after a key is deleted the write-ahead log is checkpointed and
// truncated, so the file no longer holds its data key.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

// Store is the store on a SQLite file.
type Store = sqlstore.Store

// busyTimeoutMS is how long a statement waits for another connection's lock.
const busyTimeoutMS = 10000

// Open opens the store in the SQLite file at path, creating it if needed,
// and migrates it to the current schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: sqlite: unsupported file name %q", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+"?"+dsnParams().Encode())
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	s, err := sqlstore.New(ctx, db, &Dialect)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate creates the database file readable by its owner only, or
// tightens an existing one to that. SQLite gives the -wal and -shm files
// it creates beside it the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	return nil
}

func dsnParams() url.Values {
	v := url.Values{}
	v.Set("_txlock", "immediate")
	v.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	v.Set("_foreign_keys", "1")
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", "FULL")
	v.Add("_pragma", "secure_delete(1)")
	// A checkpoint that resets the log truncates it, so that log frames
	// holding a deleted data key do not linger in the file.
	v.Add("_pragma", "journal_size_limit(0)")
	return v
}

// Dialect is SQLite's SQL.
var Dialect = sqlstore.Dialect{
	Name:     "sqlite",
	Blob:     "BLOB",
	AuditSeq: "INTEGER PRIMARY KEY AUTOINCREMENT",
	AppendOnly: func(table string) []string {
		var stmts []string
		for _, op := range []string{"UPDATE", "DELETE"} {
			stmts = append(stmts, fmt.Sprintf(
				`CREATE TRIGGER %[1]s_no_%[2]s BEFORE %[2]s ON %[1]s BEGIN SELECT RAISE(ABORT, '%[1]s is append-only'); END`,
				table, strings.ToLower(op)))
		}
		return stmts
	},
	// Transactions begin IMMEDIATE (see dsnParams): a write transaction
	// holds the database's one write lock from its start.
	Snapshot:     sql.TxOptions{ReadOnly: true},
	Violation:    violation,
	AfterDestroy: truncateLog,
}

func violation(err error) sqlstore.Violation {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.NoViolation
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.UniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKeyViolation
	}
	return sqlstore.NoViolation
}

// truncateLog copies the write-ahead log into the database file, where
// secure_delete has zeroed the deleted rows, and truncates the log. With a
// reader still open (a backup in progress) SQLite cannot restart the log
// and says so in the result; the frames are then overwritten by later
// writes and dropped at a later checkpoint, which is as far as it can go.
func truncateLog(ctx context.Context, db *sql.DB) error {
	var busy, logFrames, checkpointed int
	err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
