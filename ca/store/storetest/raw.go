package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

// AuditAppendOnly checks that the audit log refuses changes made in SQL,
// past the Store: s is a store and db a raw connection to its database.
// UPDATE and DELETE are always tried; tamper adds the backend's own ways
// of emptying a table (TRUNCATE).
func AuditAppendOnly(t *testing.T, s store.Store, db *sql.DB, tamper ...string) {
	ctx := context.Background()
	for i := range 3 {
		ok(t, s.Audit(ctx, store.AuditEntry{Time: t0, Actor: "admin", Action: "test", Detail: fmt.Sprint(i)}), "Audit")
	}
	want, err := s.AuditLog(ctx, 0, 0)
	ok(t, err, "AuditLog")

	stmts := append([]string{
		`UPDATE audit SET detail = 'forged'`,
		`DELETE FROM audit`,
		fmt.Sprintf(`DELETE FROM audit WHERE seq = %d`, want[1].Seq),
	}, tamper...)
	for _, stmt := range stmts {
		_, err := db.ExecContext(ctx, stmt)
		if err == nil {
			t.Errorf("%s: succeeded", stmt)
			continue
		}
		if !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", stmt, err)
		}
	}
	got, err := s.AuditLog(ctx, 0, 0)
	ok(t, err, "AuditLog")
	wantEqual(t, got, want, "audit log after tampering")
}

// Migrations checks schema versioning. open opens the store on one and the
// same database each time; db is a raw connection to it. Opening a
// migrated database again must change nothing, and a database that a newer
// build migrated must be refused, with an error that says so.
func Migrations(t *testing.T, open func() (store.Store, error), db *sql.DB) {
	s, err := open()
	ok(t, err, "open a new database")
	ok(t, s.Close(), "Close")
	applied := migrationRows(t, db)
	if len(applied) != sqlstore.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(applied), sqlstore.SchemaVersion(), applied)
	}
	for i, row := range applied {
		if row[0] != int64(i+1) || row[1] == 0 {
			t.Fatalf("schema_migrations row %d = %v", i, row)
		}
	}

	s, err = open()
	ok(t, err, "open a migrated database")
	ok(t, s.Close(), "Close")
	wantEqual(t, migrationRows(t, db), applied, "schema_migrations after a second open")

	newer := sqlstore.SchemaVersion() + 1
	_, err = db.Exec(fmt.Sprintf(`INSERT INTO schema_migrations (version, applied_at) VALUES (%d, 1)`, newer))
	ok(t, err, "pretend a newer build migrated the database")
	s, err = open()
	if err == nil {
		_ = s.Close()
		t.Fatal("opened a database of a newer schema")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d, newer", newer)) {
		t.Fatalf("open of a newer database: %v, want it to say the schema is newer", err)
	}
	_, err = db.Exec(fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, newer))
	ok(t, err, "undo")
	s, err = open()
	ok(t, err, "open after undoing")
	ok(t, s.Close(), "Close")
}

func migrationRows(t *testing.T, db *sql.DB) [][2]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	ok(t, err, "read schema_migrations")
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var r [2]int64
		ok(t, rows.Scan(&r[0], &r[1]), "scan schema_migrations")
		out = append(out, r)
	}
	ok(t, rows.Err(), "read schema_migrations")
	return out
}

// ConcurrentOpen opens a new database from several goroutines at once, as
// CA nodes starting together do: all must succeed and agree on the schema.
func ConcurrentOpen(t *testing.T, open func() (store.Store, error)) {
	const n = 4
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = open() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		ok(t, stores[i].CreateOrg(context.Background(), newOrg(fmt.Sprintf("org-%d", i))), "CreateOrg")
		ok(t, stores[i].Close(), "Close")
	}
}
