package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

// testBackup fills a store, backs it up, rotates and deletes keys, and
// checks that the backup holds everything as it was but no data key, so
// the deleted keys are unreadable everywhere.
func testBackup(t *testing.T, s store.Store) {
	ctx := context.Background()
	vault := store.Vault{KDF: "argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA", Verifier: randomBytes(t, 44)}
	ok(t, s.InitVault(ctx, vault), "InitVault")
	acme, beta := newOrg("acme"), newOrg("beta")
	beta.PrivateOnly = true
	ok(t, s.CreateOrg(ctx, acme), "CreateOrg")
	ok(t, s.CreateOrg(ctx, beta), "CreateOrg")

	root, rootDK := newKey(t, "")
	ok(t, s.PutKey(ctx, root, rootDK), "PutKey root")
	dataKeys := [][]byte{rootDK.Sealed}
	activate := func(orgID string, created time.Time) store.Intermediate {
		in := signed(t, newIntermediate(t, s, orgID, created))
		ok(t, s.Activate(ctx, in), "Activate")
		_, dk, err := s.Key(ctx, in.KeyID)
		ok(t, err, "Key")
		dataKeys = append(dataKeys, dk.Sealed)
		in.State = store.IntermediateActive
		return in
	}
	acmeOld := activate("acme", at(0))
	betaIn := activate("beta", at(0))
	ok(t, s.Revoke(ctx, store.Revocation{OrgID: "acme", Serial: []byte{9, 9}, RevokedAt: t0, Reason: 1}), "Revoke")
	ok(t, s.CreateEdge(ctx, store.Edge{ID: "e1", CertSHA256: sha256.Sum256([]byte("e1")), CertSerial: []byte{1}, CreatedAt: t0}), "CreateEdge")
	ok(t, s.Audit(ctx, store.AuditEntry{Time: t0, Actor: "admin", Action: "backup.test", OrgID: "acme"}), "Audit")

	want := snapshotOf(t, s, []string{root.ID, acmeOld.KeyID, betaIn.KeyID}, vault)
	var backup bytes.Buffer
	ok(t, s.Backup(ctx, &backup), "Backup")

	// After the backup: rotate acme (deleting its key) and delete the root key.
	acmeNew := activate("acme", at(time.Hour))
	ok(t, s.DeleteKey(ctx, root.ID), "DeleteKey root")

	got, err := sqlstore.ReadBackup(bytes.NewReader(backup.Bytes()))
	ok(t, err, "ReadBackup")
	if got.Schema != sqlstore.SchemaVersion() || got.TakenAt.IsZero() || got.Source == "" {
		t.Fatalf("backup header: schema %d, source %q, taken at %v", got.Schema, got.Source, got.TakenAt)
	}
	got.Schema, got.Source, got.TakenAt = 0, "", time.Time{}
	wantEqual(t, *got, want, "backup")

	for _, id := range []string{root.ID, acmeOld.KeyID} {
		_, _, err := s.Key(ctx, id)
		wantErr(t, err, store.ErrNotFound, "a key deleted after the backup")
	}
	plain := decompress(t, backup.Bytes())
	for _, k := range got.Keys {
		if !bytes.Contains(plain, []byte(base64.StdEncoding.EncodeToString(k.Ciphertext))) {
			t.Fatalf("the backup lacks key %s's ciphertext in base64: the data key check below would prove nothing", k.ID)
		}
	}
	assertNoDataKeys(t, "backup", plain, dataKeys)

	// A backup taken now holds neither deleted key, and still no data key.
	var later bytes.Buffer
	ok(t, s.Backup(ctx, &later), "second Backup")
	snap, err := sqlstore.ReadBackup(&later)
	ok(t, err, "ReadBackup second")
	var ids []string
	for _, k := range snap.Keys {
		ids = append(ids, k.ID)
	}
	wantIDs := []string{betaIn.KeyID, acmeNew.KeyID}
	slices.Sort(wantIDs)
	wantEqual(t, ids, wantIDs, "keys in the second backup")
	assertNoDataKeys(t, "second backup", decompress(t, later.Bytes()), dataKeys)
}

// snapshotOf is what a backup of s must decode to now.
func snapshotOf(t *testing.T, s store.Store, keyIDs []string, vault store.Vault) sqlstore.Snapshot {
	ctx := context.Background()
	snap := sqlstore.Snapshot{Vault: &vault}
	var err error
	snap.Orgs, err = s.Orgs(ctx)
	ok(t, err, "Orgs")
	for _, id := range slices.Sorted(slices.Values(keyIDs)) {
		k, _, err := s.Key(ctx, id)
		ok(t, err, "Key")
		snap.Keys = append(snap.Keys, k)
	}
	for _, o := range snap.Orgs {
		ins, err := s.Intermediates(ctx, o.ID)
		ok(t, err, "Intermediates")
		for i := len(ins) - 1; i >= 0; i-- { // the backup has them oldest first
			snap.Intermediates = append(snap.Intermediates, ins[i])
		}
		revs, err := s.Revocations(ctx, o.ID)
		ok(t, err, "Revocations")
		snap.Revocations = append(snap.Revocations, revs...)
	}
	snap.Edges, err = s.Edges(ctx)
	ok(t, err, "Edges")
	snap.Audit, err = s.AuditLog(ctx, 0, 0)
	ok(t, err, "AuditLog")
	return snap
}

func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	ok(t, err, "zstd")
	defer zr.Close()
	plain, err := io.ReadAll(zr)
	ok(t, err, "decompress backup")
	return plain
}

// assertNoDataKeys checks that no data key is in b, raw or in base64.
func assertNoDataKeys(t *testing.T, what string, b []byte, dataKeys [][]byte) {
	t.Helper()
	for i, dk := range dataKeys {
		if bytes.Contains(b, dk) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(dk))) {
			t.Fatalf("%s holds data key %d", what, i)
		}
	}
}
