package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

var update = flag.Bool("update", false, "rewrite testdata/backup.jsonl from a fresh backup")

const goldenPath = "testdata/backup.jsonl"

// TestBackupGolden pins the backup format: a store with fixed contents must
// back up to testdata/backup.jsonl (decompressed, taken_at blanked). The
// same file seeds FuzzReadLines.
func TestBackupGolden(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s)

	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	plain = regexp.MustCompile(`"taken_at":"[^"]*"`).ReplaceAll(plain, []byte(`"taken_at":"0001-01-01T00:00:00Z"`))
	if bytes.Contains(plain, []byte("sealed")) || bytes.Contains(plain, []byte("c2VhbGVk")) { // the data keys below begin "sealed"
		t.Fatal("the backup holds a data key")
	}
	if *update {
		if err := os.WriteFile(goldenPath, plain, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, want) {
		t.Fatalf("backup differs from %s (go test -update to rewrite it if the change is meant):\n%s", goldenPath, plain)
	}
}

func fill(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	steps := []func() error{
		func() error {
			return s.InitVault(ctx, store.Vault{KDF: "argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA", Verifier: []byte("verifier")})
		},
		func() error {
			return s.CreateOrg(ctx, store.Org{ID: "acme", Name: "Acme", FailMode: "tunnel", CreatedAt: t0})
		},
		func() error {
			return s.CreateOrg(ctx, store.Org{ID: "beta", Name: "Beta", PrivateOnly: true, FailMode: "block", CreatedAt: t0})
		},
		func() error {
			return s.PutKey(ctx, store.SealedKey{ID: "root", Algorithm: "ecdsa-p256", Ciphertext: []byte("root ciphertext"), CreatedAt: t0},
				store.DataKey{KeyID: "root", Sealed: []byte("sealed root"), KDF: "kdf"})
		},
		func() error {
			return s.PutKey(ctx, store.SealedKey{ID: "k1", OrgID: "acme", Algorithm: "rsa-2048", Ciphertext: []byte("acme ciphertext"), CreatedAt: t0},
				store.DataKey{KeyID: "k1", Sealed: []byte("sealed k1"), KDF: "kdf"})
		},
		func() error {
			return s.Activate(ctx, store.Intermediate{ID: "i1", OrgID: "acme", KeyID: "k1", Cert: []byte("cert"),
				Chain: [][]byte{[]byte("root cert")}, NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), CreatedAt: t0})
		},
		func() error {
			return s.PutIntermediate(ctx, store.Intermediate{ID: "i2", OrgID: "beta", KeyID: "k2", State: store.IntermediatePending,
				CSR: []byte("csr"), CreatedAt: t0})
		},
		func() error {
			return s.Revoke(ctx, store.Revocation{OrgID: "acme", Serial: []byte{1, 2}, RevokedAt: t0, Reason: 1})
		},
		func() error {
			return s.CreateEdge(ctx, store.Edge{ID: "e1", CertSHA256: sha256.Sum256([]byte("e1")), CertSerial: []byte{7}, CreatedAt: t0})
		},
		func() error {
			return s.Audit(ctx, store.AuditEntry{Time: t0, Actor: "edge:e1", Action: "key.issued", OrgID: "acme", KeyID: "k1"})
		},
		func() error {
			return s.Audit(ctx, store.AuditEntry{Time: t0, Actor: "admin", Action: "org.updated", OrgID: "beta", Detail: "fail mode \"block\""})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// TestReadBackupRoundTrip reads back a backup of the golden store.
func TestReadBackupRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s)
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	snap, err := sqlstore.ReadBackup(&buf)
	if err != nil {
		t.Fatal(err)
	}
	counts := []struct {
		name      string
		got, want int
	}{
		{"orgs", len(snap.Orgs), 2},
		{"keys", len(snap.Keys), 2},
		{"intermediates", len(snap.Intermediates), 2},
		{"revocations", len(snap.Revocations), 1},
		{"edges", len(snap.Edges), 1},
		{"audit", len(snap.Audit), 2},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s: %d rows, want %d", c.name, c.got, c.want)
		}
	}
	if snap.Vault == nil || string(snap.Vault.Verifier) != "verifier" {
		t.Errorf("vault = %+v", snap.Vault)
	}
	if snap.Source != "sqlite" || snap.Schema != sqlstore.SchemaVersion() {
		t.Errorf("header: source %q schema %d", snap.Source, snap.Schema)
	}
}

func TestReadBackupRefusesDamage(t *testing.T) {
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	packed := compress(t, golden)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not zstd", golden},
		{"truncated", packed[:len(packed)-10]},
		{"flipped byte", flip(packed, len(packed)/2)},
		{"trailing garbage", append(append([]byte(nil), packed...), []byte("garbage")...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sqlstore.ReadBackup(bytes.NewReader(tc.data)); err == nil {
				t.Fatal("ReadBackup took it")
			}
		})
	}
}

func compress(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0xff
	return out
}
