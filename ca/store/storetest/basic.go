package storetest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

func testVault(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.Vault(ctx)
	wantErr(t, err, store.ErrNotFound, "Vault of a new store")

	v := store.Vault{KDF: "argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA", Verifier: []byte("sealed known value")}
	ok(t, s.InitVault(ctx, v), "InitVault")
	got, err := s.Vault(ctx)
	ok(t, err, "Vault")
	wantEqual(t, got, v, "Vault")

	wantErr(t, s.InitVault(ctx, store.Vault{KDF: "other", Verifier: []byte("x")}), store.ErrExists, "second InitVault")
	got, err = s.Vault(ctx)
	ok(t, err, "Vault")
	wantEqual(t, got, v, "Vault after a refused InitVault")
}

func testOrgs(t *testing.T, s store.Store) {
	ctx := context.Background()
	beta, acme := newOrg("beta"), newOrg("acme")
	acme.PrivateOnly = true
	acme.FailMode = "block"
	ok(t, s.CreateOrg(ctx, beta), "CreateOrg beta")
	ok(t, s.CreateOrg(ctx, acme), "CreateOrg acme")
	wantErr(t, s.CreateOrg(ctx, newOrg("acme")), store.ErrExists, "CreateOrg acme again")

	got, err := s.Org(ctx, "acme")
	ok(t, err, "Org")
	wantEqual(t, got, acme, "Org acme")
	_, err = s.Org(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "Org nobody")

	orgs, err := s.Orgs(ctx)
	ok(t, err, "Orgs")
	wantEqual(t, orgs, []store.Org{acme, beta}, "Orgs, by ID")

	changed := beta
	changed.Name = "Beta Corp"
	changed.PrivateOnly = true
	changed.FailMode = "block"
	changed.CreatedAt = t0.Add(time.Hour) // not changeable: ignored
	ok(t, s.UpdateOrg(ctx, changed), "UpdateOrg")
	got, err = s.Org(ctx, "beta")
	ok(t, err, "Org")
	changed.CreatedAt = beta.CreatedAt
	wantEqual(t, got, changed, "Org after UpdateOrg")
	wantErr(t, s.UpdateOrg(ctx, newOrg("nobody")), store.ErrNotFound, "UpdateOrg nobody")
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok(t, s.CreateOrg(ctx, newOrg("acme")), "CreateOrg")
	root, rootDK := newKey(t, "") // the CA's own root key has no org
	k, dk := newKey(t, "acme")
	ok(t, s.PutKey(ctx, root, rootDK), "PutKey root")
	ok(t, s.PutKey(ctx, k, dk), "PutKey")

	gotK, gotDK, err := s.Key(ctx, k.ID)
	ok(t, err, "Key")
	wantEqual(t, gotK, k, "Key")
	wantEqual(t, gotDK, dk, "data key")
	gotK, gotDK, err = s.Key(ctx, root.ID)
	ok(t, err, "Key root")
	wantEqual(t, gotK, root, "root Key")
	wantEqual(t, gotDK, rootDK, "root data key")

	other, otherDK := newKey(t, "acme")
	other.ID, otherDK.KeyID = k.ID, k.ID
	wantErr(t, s.PutKey(ctx, other, otherDK), store.ErrExists, "PutKey with a taken ID")
	gotK, gotDK, err = s.Key(ctx, k.ID)
	ok(t, err, "Key")
	wantEqual(t, gotK, k, "Key after a refused PutKey")
	wantEqual(t, gotDK, dk, "data key after a refused PutKey")

	mismatched, mismatchedDK := newKey(t, "acme")
	mismatchedDK.KeyID = randomID(t)
	if err := s.PutKey(ctx, mismatched, mismatchedDK); err == nil {
		t.Fatal("PutKey took a data key for another key")
	}
	_, _, err = s.Key(ctx, mismatched.ID)
	wantErr(t, err, store.ErrNotFound, "Key after a refused PutKey")

	_, _, err = s.Key(ctx, "nothing")
	wantErr(t, err, store.ErrNotFound, "Key nothing")

	ok(t, s.DeleteKey(ctx, k.ID), "DeleteKey")
	_, _, err = s.Key(ctx, k.ID)
	wantErr(t, err, store.ErrNotFound, "Key after DeleteKey")
	wantErr(t, s.DeleteKey(ctx, k.ID), store.ErrNotFound, "DeleteKey again")
	_, _, err = s.Key(ctx, root.ID)
	ok(t, err, "Key root after deleting another key")
}

func testRevocations(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok(t, s.CreateOrg(ctx, newOrg("acme")), "CreateOrg acme")
	ok(t, s.CreateOrg(ctx, newOrg("beta")), "CreateOrg beta")
	r1 := store.Revocation{OrgID: "acme", Serial: []byte{0x01, 0x02}, RevokedAt: at(2 * time.Minute), Reason: 1}
	r2 := store.Revocation{OrgID: "acme", Serial: []byte{0x7f, 0xff, 0x00}, RevokedAt: at(time.Minute), Reason: 4}
	r3 := store.Revocation{OrgID: "beta", Serial: []byte{0x01, 0x02}, RevokedAt: at(time.Minute), Reason: 0}
	for _, r := range []store.Revocation{r1, r2, r3} {
		ok(t, s.Revoke(ctx, r), "Revoke")
	}
	again := r1
	again.Reason = 5
	wantErr(t, s.Revoke(ctx, again), store.ErrExists, "Revoke a revoked serial")
	wantErr(t, s.Revoke(ctx, store.Revocation{OrgID: "nobody", Serial: []byte{1}, RevokedAt: t0}),
		store.ErrNotFound, "Revoke in an unknown org")

	got, err := s.Revocations(ctx, "acme")
	ok(t, err, "Revocations")
	wantEqual(t, got, []store.Revocation{r2, r1}, "Revocations of acme, oldest first")
	got, err = s.Revocations(ctx, "beta")
	ok(t, err, "Revocations")
	wantEqual(t, got, []store.Revocation{r3}, "Revocations of beta")
	got, err = s.Revocations(ctx, "nobody")
	ok(t, err, "Revocations")
	if len(got) != 0 {
		t.Fatalf("Revocations of an unknown org = %v", got)
	}
}

func testEdges(t *testing.T, s store.Store) {
	ctx := context.Background()
	public := store.Edge{ID: "edge-1", CertSHA256: sha256.Sum256([]byte("cert 1")), CertSerial: []byte{1}, CreatedAt: at(time.Second)}
	private := store.Edge{ID: "edge-2", OrgID: "acme", CertSHA256: sha256.Sum256([]byte("cert 2")),
		CertSerial: []byte{2, 0}, CreatedAt: at(0), Revoked: true}
	ok(t, s.CreateEdge(ctx, public), "CreateEdge public")
	ok(t, s.CreateEdge(ctx, private), "CreateEdge private")

	sameID := private
	sameID.CertSHA256 = sha256.Sum256([]byte("cert 3"))
	wantErr(t, s.CreateEdge(ctx, sameID), store.ErrExists, "CreateEdge with a taken ID")
	sameCert := public
	sameCert.ID = "edge-3"
	wantErr(t, s.CreateEdge(ctx, sameCert), store.ErrExists, "CreateEdge with a taken certificate")

	got, err := s.EdgeByCert(ctx, private.CertSHA256)
	ok(t, err, "EdgeByCert")
	wantEqual(t, got, private, "EdgeByCert")
	_, err = s.EdgeByCert(ctx, sha256.Sum256([]byte("unknown")))
	wantErr(t, err, store.ErrNotFound, "EdgeByCert unknown")

	edges, err := s.Edges(ctx)
	ok(t, err, "Edges")
	wantEqual(t, edges, []store.Edge{private, public}, "Edges, in enrolment order")
}
