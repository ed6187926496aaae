package authority

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
)

// testParams are the cheapest Argon2id parameters keyseal accepts; the
// tests exercise the sealing, not the work factor.
func testParams(t *testing.T) keyseal.Params {
	p, err := keyseal.DefaultParams()
	if err != nil {
		t.Fatal(err)
	}
	p.MemoryKiB, p.Time, p.Threads = 8<<10, 1, 1
	return p
}

type fixture struct {
	a     *Authority
	st    store.Store
	kek   *keyseal.KEK
	path  string
	ctx   context.Context
	edges map[string][]byte // name -> client certificate DER
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ca.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek, err := keyseal.DeriveKEK([]byte("correct horse battery staple"), testParams(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kek.Close)
	a, err := Open(ctx, Config{Store: st, KEK: kek, PublicURL: "http://ca.test"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{a: a, st: st, kek: kek, path: path, ctx: ctx, edges: map[string][]byte{}}
}

func (f *fixture) org(t *testing.T, id string, privateOnly bool) store.Intermediate {
	t.Helper()
	if _, err := f.a.CreateOrg(f.ctx, OrgSpec{ID: id, PrivateOnly: privateOnly}); err != nil {
		t.Fatal(err)
	}
	in, err := f.a.IssueIntermediate(f.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (f *fixture) enrol(t *testing.T, name, orgID string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := f.a.EnrolEdge(f.ctx, orgID, csr)
	if err != nil {
		t.Fatal(err)
	}
	f.edges[name] = der
	return der
}

func wantStatus(t *testing.T, err error, status int, contains string) {
	t.Helper()
	if err == nil || Status(err) != status || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (status %d), want status %d mentioning %q", err, Status(err), status, contains)
	}
}

func TestIntermediateChainsToServiceRoot(t *testing.T) {
	f := newFixture(t)
	in := f.org(t, "acme", false)
	cert, err := x509.ParseCertificate(in.Cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.a.Root())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("the intermediate does not chain to the service root: %v", err)
	}
	if !cert.IsCA || !cert.MaxPathLenZero || cert.MaxPathLen != 0 {
		t.Fatal("the intermediate must be a CA that signs only leaves")
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(cert.UnknownExtKeyUsage) != 0 {
		t.Fatalf("the intermediate's extended key usage is %v, want serverAuth alone", cert.ExtKeyUsage)
	}
}

func TestOrgValidation(t *testing.T) {
	f := newFixture(t)
	_, err := f.a.CreateOrg(f.ctx, OrgSpec{ID: "Bad Name"})
	wantStatus(t, err, 400, "lowercase")
	_, err = f.a.CreateOrg(f.ctx, OrgSpec{ID: "acme", FailMode: "explode"})
	wantStatus(t, err, 400, "fail_mode")
	f.org(t, "acme", false)
	_, err = f.a.CreateOrg(f.ctx, OrgSpec{ID: "acme"})
	wantStatus(t, err, 409, "already exists")
	_, err = f.a.IssueIntermediate(f.ctx, "nobody", "")
	wantStatus(t, err, 404, "no organisation")
}

func TestEntitlement(t *testing.T) {
	f := newFixture(t)
	pub := f.org(t, "public-org", false)
	f.org(t, "private-org", true)
	f.org(t, "other", false)
	public := f.enrol(t, "public-edge", "")
	private := f.enrol(t, "private-edge", "private-org")

	meta, der, err := f.a.KeyFor(f.ctx, public, "public-org")
	if err != nil {
		t.Fatalf("public edge, public org: %v", err)
	}
	checkKeyMatches(t, der, meta.Chain[0])
	if meta.KeyID != pub.KeyID || meta.CRLURL != "http://ca.test/crl/public-org" {
		t.Fatalf("meta %+v", meta)
	}
	keyseal.Wipe(der)

	// A refusal names no reason the edge could learn the org's standing
	// from; the audit keeps it.
	_, _, err = f.a.KeyFor(f.ctx, public, "private-org")
	wantStatus(t, err, 403, `may not have organisation "private-org"'s key`)
	if _, _, err := f.a.KeyFor(f.ctx, private, "private-org"); err != nil {
		t.Fatalf("private edge, its own org: %v", err)
	}
	_, _, err = f.a.KeyFor(f.ctx, private, "other")
	wantStatus(t, err, 403, `may not have organisation "other"'s key`)
	_, _, err = f.a.KeyFor(f.ctx, private, "no-such-org")
	wantStatus(t, err, 403, `may not have organisation "no-such-org"'s key`)

	stranger := selfSignedDER(t)
	_, _, err = f.a.KeyFor(f.ctx, stranger, "public-org")
	wantStatus(t, err, 403, "no enrolled edge")

	log, err := f.a.AuditLog(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var issued int
	var reasons []string
	for _, e := range log {
		switch e.Action {
		case "key.issued":
			issued++
		case "key.refused":
			reasons = append(reasons, e.Detail)
		}
	}
	if issued != 2 || len(reasons) != 3 || !strings.Contains(strings.Join(reasons, "|"), "private edges") ||
		!strings.Contains(strings.Join(reasons, "|"), "serves only") || !strings.Contains(strings.Join(reasons, "|"), "no such organisation") {
		t.Fatalf("audit log has %d issuances and refusals %q, want 2 and the three reasons", issued, reasons)
	}
}

func TestRotationDestroysTheOldKey(t *testing.T) {
	f := newFixture(t)
	old := f.org(t, "acme", false)
	edge := f.enrol(t, "e", "")
	next, err := f.a.Rotate(f.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if next.KeyID == old.KeyID || next.State != store.IntermediateActive {
		t.Fatalf("rotation gave %+v", next)
	}
	if _, _, err := f.st.Key(f.ctx, old.KeyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old key is still in the store (err %v)", err)
	}
	meta, der, err := f.a.KeyFor(f.ctx, edge, "acme")
	if err != nil || meta.KeyID != next.KeyID {
		t.Fatalf("after rotation the edge got key %s, %v", meta.KeyID, err)
	}
	checkKeyMatches(t, der, next.Cert)
}

func TestCSRUploadFlow(t *testing.T) {
	f := newFixture(t)
	if _, err := f.a.CreateOrg(f.ctx, OrgSpec{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	orgRoot, orgRootKey := newRoot(t, "Acme Corporate Root")

	_, err := f.a.UploadIntermediate(f.ctx, "acme", orgRoot.Raw, [][]byte{orgRoot.Raw})
	wantStatus(t, err, 409, "no pending CSR")

	pending, err := f.a.RequestCSR(f.ctx, "acme", AlgRSA2048)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(pending.CSR)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v", err)
	}
	// A certificate for some other key is refused: the CA could never sign with it.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrong := signIntermediate(t, orgRoot, orgRootKey, otherKey.Public(), true)
	_, err = f.a.UploadIntermediate(f.ctx, "acme", wrong, [][]byte{orgRoot.Raw})
	wantStatus(t, err, 400, "not the key of any pending CSR")
	// Not a CA.
	notCA := signIntermediate(t, orgRoot, orgRootKey, csr.PublicKey, false)
	_, err = f.a.UploadIntermediate(f.ctx, "acme", notCA, [][]byte{orgRoot.Raw})
	wantStatus(t, err, 400, "not a CA")
	// Not verifiable under the chain given.
	strangerRoot, _ := newRoot(t, "Someone Else")
	good := signIntermediate(t, orgRoot, orgRootKey, csr.PublicKey, true)
	_, err = f.a.UploadIntermediate(f.ctx, "acme", good, [][]byte{strangerRoot.Raw})
	wantStatus(t, err, 400, "does not verify")

	in, err := f.a.UploadIntermediate(f.ctx, "acme", good, [][]byte{orgRoot.Raw})
	if err != nil {
		t.Fatal(err)
	}
	edge := f.enrol(t, "e", "")
	meta, der, err := f.a.KeyFor(f.ctx, edge, "acme")
	if err != nil || meta.Algorithm != AlgRSA2048 || len(meta.Chain) != 2 {
		t.Fatalf("key for an uploaded intermediate: %+v, %v", meta, err)
	}
	checkKeyMatches(t, der, in.Cert)

	// Rotating an org that signs its own intermediate asks for a new CSR
	// and keeps the current one active until the upload.
	rot, err := f.a.Rotate(f.ctx, "acme")
	if err != nil || rot.State != store.IntermediatePending {
		t.Fatalf("rotation of a CSR org: %+v, %v", rot, err)
	}
	if meta2, _, err := f.a.KeyFor(f.ctx, edge, "acme"); err != nil || meta2.KeyID != in.KeyID {
		t.Fatalf("the current key must stay active until the upload: %v", err)
	}
}

func TestRevokedSerialInCRL(t *testing.T) {
	f := newFixture(t)
	in := f.org(t, "acme", false)
	serial := big.NewInt(0x1234abcd)
	if err := f.a.Revoke(f.ctx, "acme", serial, 1); err != nil {
		t.Fatal(err)
	}
	der, next, err := f.a.CRL(f.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := x509.ParseCertificate(in.Cert)
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("the CRL is not signed by the org's intermediate: %v", err)
	}
	found := false
	for _, e := range crl.RevokedCertificateEntries {
		found = found || e.SerialNumber.Cmp(serial) == 0
	}
	if !found {
		t.Fatal("the revoked serial is missing from the CRL")
	}
	if !crl.NextUpdate.Equal(next) || next.Before(time.Now()) {
		t.Fatalf("nextUpdate %v vs %v", crl.NextUpdate, next)
	}
	err = f.a.Revoke(f.ctx, "acme", big.NewInt(5), 7)
	wantStatus(t, err, 400, "CRLReason")
}

func TestReopenKeepsTheServiceRoot(t *testing.T) {
	f := newFixture(t)
	first := f.a.Root()
	a2, err := Open(f.ctx, Config{Store: f.st, KEK: f.kek, PublicURL: "http://ca.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a2.Root().Raw, first.Raw) {
		t.Fatal("reopening the CA made a new service root")
	}
}

func checkKeyMatches(t *testing.T, keyDER, certDER []byte) {
	t.Helper()
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Fatal("the key handed out is not the intermediate's")
	}
}

func newRoot(t *testing.T, cn string) (*x509.Certificate, crypto.Signer) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func signIntermediate(t *testing.T, root *x509.Certificate, rootKey crypto.Signer, pub crypto.PublicKey, isCA bool) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Acme Inspection CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, pub, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func selfSignedDER(t *testing.T) []byte {
	c, _ := newRoot(t, "stranger")
	return c.Raw
}
