// Package storetest is the one test suite that every store.Store backend
// runs, so that the backends cannot drift apart. Run covers the Store
// interface; the helpers in raw.go check what only raw SQL can reach, given
// a backend's own *sql.DB on the same database.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// Run runs the suite. open returns a new, empty store for one subtest and
// closes it when that test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Vault", testVault},
		{"Orgs", testOrgs},
		{"Keys", testKeys},
		{"Intermediates", testIntermediates},
		{"Activate", testActivate},
		{"ActivateIsAtomic", testActivateIsAtomic},
		{"Revocations", testRevocations},
		{"Edges", testEdges},
		{"Audit", testAudit},
		{"Concurrent", testConcurrent},
		{"Backup", testBackup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// t0 is the fixtures' time: UTC, to the microsecond, as stores keep it.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomID(t testing.TB) string { return hex.EncodeToString(randomBytes(t, 8)) }

func newOrg(id string) store.Org {
	return store.Org{ID: id, Name: "Org " + id, FailMode: "tunnel", CreatedAt: t0}
}

// newKey is a sealed key and data key of random bytes, so that a test can
// look for them in a backup or a file.
func newKey(t testing.TB, orgID string) (store.SealedKey, store.DataKey) {
	id := randomID(t)
	return store.SealedKey{ID: id, OrgID: orgID, Algorithm: "ecdsa-p256", Ciphertext: randomBytes(t, 150), CreatedAt: t0},
		store.DataKey{KeyID: id, Sealed: randomBytes(t, 60), KDF: "argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA"}
}

func ok(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t testing.TB, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func wantEqual[T any](t testing.TB, got, want T, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
