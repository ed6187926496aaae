package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/keywire"
)

func testCSR(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
}

// makeOrg creates an org with an intermediate under the service root.
func (ca *testCA) makeOrg(t *testing.T, id string, privateOnly bool, alg string) api.Intermediate {
	t.Helper()
	ctx := context.Background()
	if _, err := ca.admin.CreateOrg(ctx, api.CreateOrgRequest{ID: id, PrivateOnly: privateOnly}); err != nil {
		t.Fatal(err)
	}
	in, err := ca.admin.IssueIntermediate(ctx, id, alg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// checkKey checks an answer of the key API: the key is the
// intermediate's, and the metadata describes it.
func checkKey(t *testing.T, meta keywire.Meta, der []byte, org string, in api.Intermediate) {
	t.Helper()
	if meta.Org != org || meta.KeyID != in.KeyID || meta.FailMode == "" || !strings.HasSuffix(meta.CRLURL, "/crl/"+org) || meta.NotAfter.IsZero() {
		t.Errorf("metadata %+v", meta)
	}
	if len(meta.Chain) != 2 {
		t.Fatalf("chain of %d certificates, want the intermediate and the root", len(meta.Chain))
	}
	inter, err := x509.ParseCertificate(meta.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if inter.SerialNumber.Text(16) != in.Serial {
		t.Errorf("chain[0] serial %x, want %s", inter.SerialNumber, in.Serial)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("the key does not parse as PKCS #8: %v", err)
	}
	if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(inter.PublicKey) {
		t.Error("the key is not the intermediate's")
	}
}

func TestKeyAPIEntitlement(t *testing.T) {
	ca := newTestCA(t)
	acme := ca.makeOrg(t, "acme", false, "ecdsa-p256")
	ca.makeOrg(t, "beta", true, "rsa-2048")
	corp := ca.makeOrg(t, "corp", true, "rsa-2048")
	public := ca.enrol(t, "")
	corpEdge := ca.enrol(t, "corp")

	t.Run("public edge, normal org", func(t *testing.T) {
		status, meta, der := ca.fetchKey(t, public, "acme")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, der)
		}
		if meta.Algorithm != "ecdsa-p256" {
			t.Errorf("algorithm %q", meta.Algorithm)
		}
		checkKey(t, meta, der, "acme", acme)
	})
	t.Run("public edge, private-only org", func(t *testing.T) {
		status, _, body := ca.fetchKey(t, public, "beta")
		if status != http.StatusForbidden || strings.Contains(string(body), "private") {
			t.Fatalf("status %d %s, want 403 that does not say the org is private", status, body)
		}
		refused := ca.audit(t, "key.refused")
		if len(refused) != 1 || refused[0].Org != "beta" || refused[0].Actor != "edge:"+public.id {
			t.Errorf("audit of the refusal: %+v", refused)
		}
	})
	t.Run("private edge, its own org", func(t *testing.T) {
		status, meta, der := ca.fetchKey(t, corpEdge, "corp")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, der)
		}
		if meta.Algorithm != "rsa-2048" {
			t.Errorf("algorithm %q", meta.Algorithm)
		}
		checkKey(t, meta, der, "corp", corp)
	})
	t.Run("private edge, another org", func(t *testing.T) {
		for _, org := range []string{"beta", "acme"} {
			if status, _, body := ca.fetchKey(t, corpEdge, org); status != http.StatusForbidden {
				t.Errorf("%s: status %d %s, want 403", org, status, body)
			}
		}
	})
	t.Run("unknown org", func(t *testing.T) {
		// The same answer as for an org the edge may not have: the key
		// API does not tell an edge which organisations exist.
		_, _, forbidden := ca.fetchKey(t, public, "beta")
		status, _, body := ca.fetchKey(t, public, "nope")
		if status != http.StatusForbidden || strings.ReplaceAll(string(body), "nope", "beta") != string(forbidden) {
			t.Errorf("unknown org: %d %q; an org not the edge's: %q; want the same answer", status, body, forbidden)
		}
		if refused := ca.audit(t, "key.refused"); len(refused) == 0 || refused[len(refused)-1].Org != "nope" {
			t.Errorf("the refusal of an unknown org is not audited: %+v", refused)
		}
	})
	t.Run("org without intermediate", func(t *testing.T) {
		if _, err := ca.admin.CreateOrg(context.Background(), api.CreateOrgRequest{ID: "empty"}); err != nil {
			t.Fatal(err)
		}
		if status, _, body := ca.fetchKey(t, public, "empty"); status != http.StatusNotFound {
			t.Errorf("status %d %s, want 404", status, body)
		}
	})

	issued := ca.audit(t, "key.issued")
	if len(issued) != 2 {
		t.Errorf("%d key.issued audit entries, want 2", len(issued))
	}
	var m strings.Builder
	ca.metrics.WritePrometheus(&m)
	for _, want := range []string{
		"lucid_ca_keys_issued_total 2",
		"lucid_ca_keys_refused_total 6",
		`lucid_ca_requests_total{api="keys",endpoint="GET /v1/orgs/{org}/key",status="403"} 5`,
	} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestKeyAPIRefusesAtTLS checks that a client without an enrolment
// certificate never gets as far as HTTP.
func TestKeyAPIRefusesAtTLS(t *testing.T) {
	ca := newTestCA(t)
	ca.makeOrg(t, "acme", false, "ecdsa-p256")
	public := ca.enrol(t, "")

	selfSigned := func() tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "intruder"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}

	// A public edge gets every normal org's intermediate key; with it, it
	// can mint a certificate that chains to the service root through the
	// intermediate. That proves no enrolment and must be refused.
	_, meta, der := ca.fetchKey(t, public, "acme")
	viaIntermediate := func() tls.Certificate {
		interKey, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		inter, _ := x509.ParseCertificate(meta.Chain[0])
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "minted"},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		leaf, err := x509.CreateCertificate(rand.Reader, tmpl, inter, key.Public(), interKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{leaf, inter.Raw}, PrivateKey: key}
	}()

	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"no client certificate", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: public.roots}},
		{"self-signed certificate", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: public.roots, Certificates: []tls.Certificate{selfSigned()}}},
		{"certificate through an org intermediate", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: public.roots, Certificates: []tls.Certificate{viaIntermediate}}},
		{"TLS 1.2 with an enrolled certificate", &tls.Config{MaxVersion: tls.VersionTLS12, RootCAs: public.roots, Certificates: []tls.Certificate{public.cert}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Over HTTP: an error and no response at all.
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.cfg}}
			resp, err := client.Get("https://" + ca.keysAddr + "/v1/orgs/acme/key")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got HTTP %d, want a TLS failure", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), "tls: ") {
				t.Errorf("error %v is not from TLS", err)
			}
			// On the wire: the server's alert ends the handshake (in TLS
			// 1.3 the client learns it at its first read).
			err = tlsExchange(ca.keysAddr, tc.cfg)
			var opErr *net.OpError
			if !errors.As(err, &opErr) || opErr.Op != "remote error" || !strings.HasPrefix(opErr.Err.Error(), "tls: ") {
				t.Errorf("got %v, want a TLS alert from the server", err)
			}
		})
	}
}

// tlsExchange handshakes, sends a request and reads the first byte of the
// answer, returning the first error.
func tlsExchange(addr string, cfg *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /v1/orgs/acme/key HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	var b [1]byte
	_, err = conn.Read(b[:])
	return err
}

func TestKeyAPIServerCertificate(t *testing.T) {
	ca := newTestCA(t)
	public := ca.enrol(t, "")
	conn, err := tls.Dial("tcp", ca.keysAddr, &tls.Config{ServerName: "localhost", RootCAs: public.roots, Certificates: []tls.Certificate{public.cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cs := conn.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		t.Errorf("version %x, want TLS 1.3", cs.Version)
	}
	leaf := cs.PeerCertificates[0]
	if err := leaf.CheckSignatureFrom(ca.auth.Root()); err != nil {
		t.Errorf("the key API's certificate is not the service root's: %v", err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" || len(leaf.IPAddresses) != 1 {
		t.Errorf("names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
}

// TestUploadedIntermediate follows an organisation that signs its own
// intermediate: CSR, signature by its root, upload, then the key API
// serves the key with the organisation's chain.
func TestUploadedIntermediate(t *testing.T) {
	ca := newTestCA(t)
	ctx := context.Background()
	if _, err := ca.admin.CreateOrg(ctx, api.CreateOrgRequest{ID: "own"}); err != nil {
		t.Fatal(err)
	}
	csrRes, err := ca.admin.RequestCSR(ctx, "own", "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(csrRes.CSRPEM))
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Own Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, _ := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	root, _ := x509.ParseCertificate(rootDER)
	interTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: csr.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	interDER, _ := x509.CreateCertificate(rand.Reader, interTmpl, root, csr.PublicKey, rootKey)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER}))
	chainPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}))

	if _, err := ca.admin.Upload(ctx, "own", certPEM+chainPEM, chainPEM); err == nil || !strings.Contains(err.Error(), "holds 2 certificates") {
		t.Errorf("two certificates in certificate_pem: %v", err)
	}
	in, err := ca.admin.Upload(ctx, "own", certPEM, chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	if in.State != "active" || in.ID != csrRes.IntermediateID || in.Serial != "2" {
		t.Errorf("uploaded %+v", in)
	}
	status, meta, der := ca.fetchKey(t, ca.enrol(t, ""), "own")
	if status != http.StatusOK {
		t.Fatalf("status %d %s", status, der)
	}
	checkKey(t, meta, der, "own", in)
	if len(meta.Chain) != 2 || !bytes.Equal(meta.Chain[1], rootDER) {
		t.Error("the chain does not end in the organisation's root")
	}
	// Rotating an org that signs its own intermediate asks for a CSR.
	rot, err := ca.admin.Rotate(ctx, "own")
	if err != nil {
		t.Fatal(err)
	}
	if rot.State != "pending" || !strings.Contains(rot.CSRPEM, "CERTIFICATE REQUEST") {
		t.Errorf("rotation of a self-signing org: %+v", rot)
	}
}

func TestKeyAPIRefusesHEAD(t *testing.T) {
	ca := newTestCA(t)
	ca.makeOrg(t, "acme", false, "")
	e := ca.enrol(t, "")
	resp, err := ca.keyClient(e).Head("https://" + ca.keysAddr + "/v1/orgs/acme/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD: %d, want 405", resp.StatusCode)
	}
	if n := len(ca.audit(t, "key.issued")); n != 0 {
		t.Errorf("%d keys issued for a HEAD", n)
	}
}
