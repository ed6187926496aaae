package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// newIntermediate is a pending intermediate of org with a fresh key.
func newIntermediate(t *testing.T, s store.Store, orgID string, created time.Time) store.Intermediate {
	t.Helper()
	k, dk := newKey(t, orgID)
	ok(t, s.PutKey(context.Background(), k, dk), "PutKey")
	return store.Intermediate{
		ID: randomID(t), OrgID: orgID, KeyID: k.ID, State: store.IntermediatePending,
		CSR: randomBytes(t, 80), CreatedAt: created,
	}
}

// signed is in as its signed certificate came back.
func signed(t *testing.T, in store.Intermediate) store.Intermediate {
	in.Cert = randomBytes(t, 300)
	in.Chain = [][]byte{randomBytes(t, 200), randomBytes(t, 250)}
	in.NotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // RFC 5280's "no expiry"
	return in
}

func testIntermediates(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok(t, s.CreateOrg(ctx, newOrg("acme")), "CreateOrg acme")
	ok(t, s.CreateOrg(ctx, newOrg("beta")), "CreateOrg beta")

	old := newIntermediate(t, s, "acme", at(0))
	mid := newIntermediate(t, s, "acme", at(time.Hour))
	mid.State = store.IntermediateRetired
	newest := newIntermediate(t, s, "acme", at(2*time.Hour))
	for _, in := range []store.Intermediate{mid, newest, old} {
		ok(t, s.PutIntermediate(ctx, in), "PutIntermediate")
	}
	got, err := s.Intermediate(ctx, old.ID)
	ok(t, err, "Intermediate")
	wantEqual(t, got, old, "pending Intermediate")

	old = signed(t, old)
	old.State = store.IntermediateActive
	ok(t, s.PutIntermediate(ctx, old), "PutIntermediate update")
	got, err = s.Intermediate(ctx, old.ID)
	ok(t, err, "Intermediate")
	wantEqual(t, got, old, "updated Intermediate")

	list, err := s.Intermediates(ctx, "acme")
	ok(t, err, "Intermediates")
	wantEqual(t, list, []store.Intermediate{newest, mid, old}, "Intermediates, newest first")
	list, err = s.Intermediates(ctx, "beta")
	ok(t, err, "Intermediates beta")
	if len(list) != 0 {
		t.Fatalf("Intermediates of beta = %v", list)
	}
	_, err = s.Intermediate(ctx, "nothing")
	wantErr(t, err, store.ErrNotFound, "Intermediate nothing")

	second := signed(t, newest)
	second.State = store.IntermediateActive
	wantErr(t, s.PutIntermediate(ctx, second), store.ErrExists, "a second active intermediate")

	moved := newest
	moved.OrgID = "beta"
	wantErr(t, s.PutIntermediate(ctx, moved), store.ErrExists, "PutIntermediate moving one to another org")
	rekeyed := newest
	rekeyed.KeyID = old.KeyID
	wantErr(t, s.PutIntermediate(ctx, rekeyed), store.ErrExists, "PutIntermediate changing its key")

	orphan := newIntermediate(t, s, "nobody", t0)
	wantErr(t, s.PutIntermediate(ctx, orphan), store.ErrNotFound, "PutIntermediate of an unknown org")
	bad := newest
	bad.State = "revoked"
	if err := s.PutIntermediate(ctx, bad); err == nil {
		t.Fatal("PutIntermediate took an unknown state")
	}
	got, err = s.Intermediate(ctx, newest.ID)
	ok(t, err, "Intermediate")
	wantEqual(t, got, newest, "Intermediate after refused updates")
}

func testActivate(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok(t, s.CreateOrg(ctx, newOrg("acme")), "CreateOrg")

	first := signed(t, newIntermediate(t, s, "acme", at(0)))
	ok(t, s.PutIntermediate(ctx, newIntermediate(t, s, "acme", at(-time.Hour))), "PutIntermediate")
	ok(t, s.Activate(ctx, first), "Activate first")
	first.State = store.IntermediateActive
	got, err := s.Intermediate(ctx, first.ID)
	ok(t, err, "Intermediate")
	wantEqual(t, got, first, "first, activated")

	// The usual path: a pending intermediate, then its signed certificate.
	second := newIntermediate(t, s, "acme", at(time.Hour))
	ok(t, s.PutIntermediate(ctx, second), "PutIntermediate second")
	second = signed(t, second)
	ok(t, s.Activate(ctx, second), "Activate second")
	second.State = store.IntermediateActive

	got, err = s.Intermediate(ctx, first.ID)
	ok(t, err, "Intermediate first")
	if got.State != store.IntermediateRetired {
		t.Fatalf("first after rotation: state %q, want retired", got.State)
	}
	_, _, err = s.Key(ctx, first.KeyID)
	wantErr(t, err, store.ErrNotFound, "the retired intermediate's key")
	_, _, err = s.Key(ctx, second.KeyID)
	ok(t, err, "the active intermediate's key")
	got, err = s.Intermediate(ctx, second.ID)
	ok(t, err, "Intermediate second")
	wantEqual(t, got, second, "second, activated")
	assertOneActive(t, s, "acme", second.ID)

	// Activating the active one again (say, with a new chain) retires nothing.
	second.Chain = [][]byte{randomBytes(t, 100)}
	ok(t, s.Activate(ctx, second), "Activate the active one again")
	_, _, err = s.Key(ctx, second.KeyID)
	ok(t, err, "the key of an intermediate activated again")

	reused := signed(t, newIntermediate(t, s, "acme", at(2*time.Hour)))
	reused.KeyID = second.KeyID
	if err := s.Activate(ctx, reused); err == nil {
		t.Fatal("Activate took the key of the intermediate it retires")
	}
	noCert := newIntermediate(t, s, "acme", at(2*time.Hour))
	if err := s.Activate(ctx, noCert); err == nil {
		t.Fatal("Activate took an intermediate without a certificate")
	}
	noKey := signed(t, newIntermediate(t, s, "acme", at(2*time.Hour)))
	noKey.KeyID = "missing"
	wantErr(t, s.Activate(ctx, noKey), store.ErrNotFound, "Activate with a missing key")
	noOrg := signed(t, newIntermediate(t, s, "nobody", at(2*time.Hour)))
	wantErr(t, s.Activate(ctx, noOrg), store.ErrNotFound, "Activate in an unknown org")

	_, _, err = s.Key(ctx, second.KeyID)
	ok(t, err, "the active key after refused activations")
	assertOneActive(t, s, "acme", second.ID)
}

// testActivateIsAtomic makes Activate fail at its last step, after it has
// retired the old intermediate and deleted its key, and checks that none of
// that happened.
func testActivateIsAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	ok(t, s.CreateOrg(ctx, newOrg("acme")), "CreateOrg acme")
	ok(t, s.CreateOrg(ctx, newOrg("beta")), "CreateOrg beta")
	active := signed(t, newIntermediate(t, s, "acme", at(0)))
	ok(t, s.Activate(ctx, active), "Activate")
	wantK, wantDK, err := s.Key(ctx, active.KeyID)
	ok(t, err, "Key")

	// An ID that beta's intermediate holds: the final insert conflicts.
	taken := newIntermediate(t, s, "beta", at(0))
	ok(t, s.PutIntermediate(ctx, taken), "PutIntermediate beta")
	clash := signed(t, newIntermediate(t, s, "acme", at(time.Hour)))
	clash.ID = taken.ID
	if err := s.Activate(ctx, clash); err == nil {
		t.Fatal("Activate took an intermediate ID of another org")
	}

	assertOneActive(t, s, "acme", active.ID)
	gotK, gotDK, err := s.Key(ctx, active.KeyID)
	ok(t, err, "the active key after a failed Activate")
	wantEqual(t, gotK, wantK, "key after a failed Activate")
	wantEqual(t, gotDK, wantDK, "data key after a failed Activate")
}

func assertOneActive(t *testing.T, s store.Store, orgID, wantID string) {
	t.Helper()
	list, err := s.Intermediates(context.Background(), orgID)
	ok(t, err, "Intermediates")
	var active []string
	for _, in := range list {
		if in.State == store.IntermediateActive {
			active = append(active, in.ID)
		}
	}
	wantEqual(t, active, []string{wantID}, "active intermediates of "+orgID)
}
