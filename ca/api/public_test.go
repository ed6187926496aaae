package api_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// getCRL fetches and parses a CRL from the public listener, checking its
// caching headers against its nextUpdate.
func (ca *testCA) getCRL(t *testing.T, name string) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(ca.publicURL + "/crl/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /crl/%s: %d %s", name, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("Content-Type %q", ct)
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatal(err)
	}
	cc := resp.Header.Get("Cache-Control")
	maxAge, ok := strings.CutPrefix(cc, "public, max-age=")
	secs, err := strconv.Atoi(maxAge)
	if !ok || err != nil {
		t.Fatalf("Cache-Control %q", cc)
	}
	if d := time.Until(crl.NextUpdate) - time.Duration(secs)*time.Second; d < -3*time.Second || d > 3*time.Second {
		t.Errorf("max-age=%d but nextUpdate is in %v", secs, time.Until(crl.NextUpdate))
	}
	exp, err := http.ParseTime(resp.Header.Get("Expires"))
	if err != nil || !exp.Equal(crl.NextUpdate.Truncate(time.Second)) {
		t.Errorf("Expires %q, nextUpdate %v", resp.Header.Get("Expires"), crl.NextUpdate)
	}
	return crl
}

func revoked(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

func TestCRL(t *testing.T) {
	ca := newTestCA(t)
	ctx := context.Background()
	in := ca.makeOrg(t, "acme", false, "ecdsa-p256")
	b, _ := pem.Decode([]byte(in.CertificatePEM))
	inter, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	crl := ca.getCRL(t, "acme")
	if err := crl.CheckSignatureFrom(inter); err != nil {
		t.Fatalf("acme's CRL is not signed by its intermediate: %v", err)
	}
	serial := big.NewInt(0x0abcdef1234)
	if revoked(crl, serial) {
		t.Fatal("serial revoked before it was")
	}
	res, err := ca.admin.Revoke(ctx, "acme", "0A:BC:DE:F1:23:4", 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Serial != "abcdef1234" {
		t.Errorf("revoked serial %q", res.Serial)
	}
	crl = ca.getCRL(t, "acme")
	if err := crl.CheckSignatureFrom(inter); err != nil {
		t.Fatalf("acme's CRL is not signed by its intermediate: %v", err)
	}
	if !revoked(crl, big.NewInt(0xabcdef1234)) {
		t.Errorf("serial not in the CRL: %+v", crl.RevokedCertificateEntries)
	}

	// The service root's CRL lists revoked intermediates.
	if _, err := ca.admin.RevokeIntermediate(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}
	rootCRL := ca.getCRL(t, "root")
	if err := rootCRL.CheckSignatureFrom(ca.auth.Root()); err != nil {
		t.Fatalf("the root CRL is not signed by the root: %v", err)
	}
	if !revoked(rootCRL, inter.SerialNumber) {
		t.Error("the revoked intermediate is not on the root's CRL")
	}

	if resp, err := http.Get(ca.publicURL + "/crl/nope"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown org's CRL: %v %v", resp.StatusCode, err)
	}
	resp, err := http.Get(ca.publicURL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v", err)
	}
}
