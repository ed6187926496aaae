package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
	"github.com/lucid-edge/lucid/ca/store/storetest"
)

func openFile(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawDB is a plain connection to the file, past the Store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "ca.db"))
	})
}

func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.db")
	s := openFile(t, path)
	storetest.AuditAppendOnly(t, s, rawDB(t, path))
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.db")
	storetest.Migrations(t, func() (store.Store, error) {
		return sqlite.Open(context.Background(), path)
	}, rawDB(t, path))
}

func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.db")
	storetest.ConcurrentOpen(t, func() (store.Store, error) {
		return sqlite.Open(context.Background(), path)
	})
}

// TestFileMode checks that the database and the files SQLite keeps beside
// it are readable by their owner only, even where an older file was not.
func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "ca.db"), loose} {
		s := openFile(t, path)
		if err := s.CreateOrg(context.Background(), store.Org{ID: "acme", FailMode: "tunnel"}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: mode %o, want 600", filepath.Base(name), mode)
			}
		}
	}
}

// TestDeleteKeyLeavesNoTrace checks that once DeleteKey returns, neither
// the database file nor its write-ahead log holds the data key: a copy of
// the files taken later cannot open the key.
func TestDeleteKeyLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ca.db")
	s := openFile(t, path)
	sealed := bytes.Repeat([]byte("data key! "), 6)
	k := store.SealedKey{ID: "k1", Algorithm: "ecdsa-p256", Ciphertext: []byte("ciphertext")}
	if err := s.PutKey(ctx, k, store.DataKey{KeyID: "k1", Sealed: sealed, KDF: "kdf"}); err != nil {
		t.Fatal(err)
	}
	if !filesContain(t, path, sealed) {
		t.Fatal("the files do not hold the data key after PutKey: the check below would prove nothing")
	}
	if err := s.DeleteKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if filesContain(t, path, sealed) {
		t.Fatal("the files still hold the data key after DeleteKey")
	}
}

func filesContain(t *testing.T, path string, b []byte) bool {
	t.Helper()
	for _, name := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(data, b) {
			return true
		}
	}
	return false
}

func TestRefusesURIs(t *testing.T) {
	for _, path := range []string{"", "file:ca.db", "ca.db?mode=ro", "ca.db#x"} {
		if s, err := sqlite.Open(context.Background(), path); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
