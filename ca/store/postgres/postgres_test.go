package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/postgres"
	"github.com/lucid-edge/lucid/ca/store/storetest"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawDB is a plain connection to the database, past the Store.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestStore(t *testing.T) {
	requireServer(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, newDatabase(t))
	})
}

func TestAuditAppendOnly(t *testing.T) {
	dsn := newDatabase(t)
	storetest.AuditAppendOnly(t, open(t, dsn), rawDB(t, dsn), `TRUNCATE audit`)
}

func TestMigrations(t *testing.T) {
	dsn := newDatabase(t)
	storetest.Migrations(t, func() (store.Store, error) {
		return postgres.Open(context.Background(), dsn)
	}, rawDB(t, dsn))
}

func TestConcurrentOpen(t *testing.T) {
	dsn := newDatabase(t)
	storetest.ConcurrentOpen(t, func() (store.Store, error) {
		return postgres.Open(context.Background(), dsn)
	})
}
