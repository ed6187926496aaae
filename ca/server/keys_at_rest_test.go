package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

// TestBackupShredsRotatedKeys takes a backup, rotates an organisation,
// and shows that the old key is then unreadable everywhere, backup
// included, with the right password; and that the same procedure does
// recover a key whose data key still exists, so the test would notice.
func TestBackupShredsRotatedKeys(t *testing.T) {
	cfg := loadConfig(t, writeConfig(t, ""))
	s := initAndStart(t, cfg)
	cl := adminClient(t, s, cfg)
	ctx := context.Background()
	for _, org := range []string{"acme", "keep"} {
		if _, err := cl.CreateOrg(ctx, api.CreateOrgRequest{ID: org}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := cl.IssueIntermediate(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	keep, err := cl.IssueIntermediate(ctx, "keep", "")
	if err != nil {
		t.Fatal(err)
	}
	// What a thief with the data key would need; captured only to prove
	// below that it is gone from the disk and that it would have worked.
	_, oldDK, err := s.store.Key(ctx, old.KeyID)
	if err != nil {
		t.Fatal(err)
	}

	var backup bytes.Buffer
	if err := cl.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	rotated, err := cl.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyID == old.KeyID {
		t.Fatal("rotation kept the key")
	}

	snap, err := sqlstore.ReadBackup(bytes.NewReader(backup.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Vault == nil {
		t.Fatal("the backup has no vault record")
	}
	oldCT, keepCT := ciphertextOf(t, snap, old.KeyID), ciphertextOf(t, snap, keep.KeyID)

	// The right password, and the KDF parameters from the backup itself.
	p, err := keyseal.ParseParams(snap.Vault.KDF)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := keyseal.DeriveKEK([]byte(testPassword), p)
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Close()

	// Control: a key that still exists opens from the backup's
	// ciphertext and the live data key, and is the intermediate's key.
	_, keepDK, err := s.store.Key(ctx, keep.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	der, err := kek.Open(keep.KeyID, keepCT, keepDK.Sealed)
	if err != nil {
		t.Fatalf("control: the live key does not open from the backup: %v", err)
	}
	checkKeyOf(t, der, keep.CertificatePEM)
	// Control: the old key did open with its data key, before rotation.
	if der, err := kek.Open(old.KeyID, oldCT, oldDK.Sealed); err != nil {
		t.Fatalf("control: the old key's data key did not open it: %v", err)
	} else {
		checkKeyOf(t, der, old.CertificatePEM)
	}

	// The live store has no data key for the old key.
	if _, _, err := s.store.Key(ctx, old.KeyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the live store still has the old key: %v", err)
	}
	// No data key the CA still holds opens it: each is bound to its own
	// key ID, and the old one's is destroyed.
	live := liveDataKeys(t, s)
	for id, dk := range live {
		if _, err := kek.Open(old.KeyID, oldCT, dk.Sealed); err == nil {
			t.Fatalf("the data key of %s opens the old key", id)
		}
	}
	// The backup holds no data key, live or old, in any encoding.
	raw := decompress(t, backup.Bytes())
	for id, dk := range live {
		if containsAny(raw, dk.Sealed) {
			t.Errorf("the backup holds the data key of %s", id)
		}
	}
	if containsAny(raw, oldDK.Sealed) {
		t.Error("the backup holds the old key's data key")
	}
	// And the store's files no longer hold the old data key.
	for _, f := range storeFiles(t, cfg) {
		if containsAny(f.data, oldDK.Sealed) {
			t.Errorf("%s still holds the old key's data key", f.name)
		}
	}
}

func ciphertextOf(t *testing.T, snap *sqlstore.Snapshot, keyID string) []byte {
	t.Helper()
	for _, k := range snap.Keys {
		if k.ID == keyID {
			return k.Ciphertext
		}
	}
	t.Fatalf("the backup has no ciphertext of key %s", keyID)
	return nil
}

// liveDataKeys returns the data key of every key the store holds now.
func liveDataKeys(t *testing.T, s *Server) map[string]store.DataKey {
	t.Helper()
	var now bytes.Buffer
	if err := s.store.Backup(context.Background(), &now); err != nil {
		t.Fatal(err)
	}
	snap, err := sqlstore.ReadBackup(&now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DataKey{}
	for _, k := range snap.Keys {
		_, dk, err := s.store.Key(context.Background(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[k.ID] = dk
	}
	if len(out) == 0 {
		t.Fatal("no live keys")
	}
	return out
}

func checkKeyOf(t *testing.T, der []byte, certPEM string) {
	t.Helper()
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	cert := mustParse(t, pemBytes(t, certPEM))
	if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Error("the key opened is not the intermediate's")
	}
}

func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// containsAny reports whether hay holds secret raw, in hex, or in base64
// (how JSON carries bytes) at any alignment.
func containsAny(hay, secret []byte) bool {
	if bytes.Contains(hay, secret) || bytes.Contains(bytes.ToLower(hay), []byte(hex.EncodeToString(secret))) {
		return true
	}
	for k := range 3 {
		// Base64 of secret[k:] as it reads when it starts a 3-byte group,
		// without the last group, which depends on what follows.
		enc := base64.StdEncoding.EncodeToString(secret[k:])
		if bytes.Contains(hay, []byte(enc[:len(enc)-4])) {
			return true
		}
	}
	return false
}

type storeFile struct {
	name string
	data []byte
}

// storeFiles reads the SQLite file and its write-ahead log as bytes.
func storeFiles(t *testing.T, cfg Config) []storeFile {
	t.Helper()
	var out []storeFile
	for _, name := range []string{cfg.Store.Path, cfg.Store.Path + "-wal"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) && name != cfg.Store.Path {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, storeFile{name, b})
	}
	return out
}

// TestStoreHoldsNoPlaintextKeys fetches ECDSA and RSA keys through the key
// API and looks for them, whole and in parts, in the raw store files.
func TestStoreHoldsNoPlaintextKeys(t *testing.T) {
	cfg := loadConfig(t, writeConfig(t, ""))
	s := initAndStart(t, cfg)
	cl := adminClient(t, s, cfg)
	ctx := context.Background()
	var keyIDs []string
	for org, alg := range map[string]string{"ec": "ecdsa-p256", "rsa": "rsa-2048"} {
		if _, err := cl.CreateOrg(ctx, api.CreateOrgRequest{ID: org}); err != nil {
			t.Fatal(err)
		}
		in, err := cl.IssueIntermediate(ctx, org, alg)
		if err != nil {
			t.Fatal(err)
		}
		keyIDs = append(keyIDs, in.KeyID)
	}
	edge := testEdge(t, cl, "")

	// secrets are byte strings of the private keys, each long enough
	// that finding it by chance is impossible.
	var secrets [][]byte
	for _, org := range []string{"ec", "rsa"} {
		_, der := fetchKey(t, s, edge, org)
		secrets = append(secrets, bytes.Clone(der))
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		switch k := priv.(type) {
		case *ecdsa.PrivateKey:
			b, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, b)
		case *rsa.PrivateKey:
			secrets = append(secrets, k.D.Bytes(), k.Primes[0].Bytes(), k.Primes[1].Bytes(),
				k.Precomputed.Dp.Bytes(), k.Precomputed.Dq.Bytes(), k.Precomputed.Qinv.Bytes())
		default:
			t.Fatalf("%s: key of type %T", org, priv)
		}
	}
	if len(secrets) != 9 {
		t.Fatalf("%d secrets", len(secrets))
	}

	scan := func(when string) {
		files := storeFiles(t, cfg)
		var all []byte
		for _, f := range files {
			all = append(all, f.data...)
			for i, sec := range secrets {
				if containsAny(f.data, sec) {
					t.Errorf("%s: %s holds secret %d in plaintext", when, f.name, i)
				}
			}
		}
		// Control: the files do hold the sealed keys, so the scan reads
		// the right bytes.
		for _, id := range keyIDs {
			sk, _, err := s.store.Key(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(all, sk.Ciphertext) {
				t.Errorf("%s: the store files do not hold the ciphertext of %s", when, id)
			}
		}
	}
	scan("running")
	// After shutdown the log is checkpointed into the main file.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	s.store = st
	defer st.Close()
	scan("stopped")
}

func pemBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM in %q", s)
	}
	return b.Bytes
}

// TestContainsAny checks the scanner the tests above rely on: it finds a
// secret however it is embedded.
func TestContainsAny(t *testing.T) {
	secret := []byte("0123456789abcdefghijklmnopqrstuv")
	for pad := range 3 {
		blob := append(bytes.Repeat([]byte{0xAA}, pad), secret...)
		blob = append(blob, 0x55, 0x66)
		for name, hay := range map[string][]byte{
			"raw":    append([]byte("xx"), blob...),
			"base64": []byte(`{"k":"` + base64.StdEncoding.EncodeToString(blob) + `"}`),
			"hex":    []byte(strings.ToUpper(hex.EncodeToString(blob))),
		} {
			if !containsAny(hay, secret) {
				t.Errorf("%s, offset %d: not found", name, pad)
			}
		}
	}
	if containsAny([]byte("nothing to see"), secret) {
		t.Error("found in nothing")
	}
}
