package keyclient

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
	"github.com/lucid-edge/lucid/certcache"
)

// testCA is a real CA: the authority on a SQLite file and its key API on
// a loopback TLS listener.
type testCA struct {
	auth     *authority.Authority
	url      string
	srv      *http.Server
	requests atomic.Int32
	roots    *x509.CertPool
	// tamper, when set, rewrites the body of the key API's answers, as a
	// CA with a bug (or whoever got past its TLS) could.
	tamper atomic.Pointer[func(w http.ResponseWriter, body []byte)]
}

func startCA(t *testing.T) *testCA {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, _ := keyseal.DefaultParams()
	p.MemoryKiB, p.Time, p.Threads = 8<<10, 1, 1
	kek, err := keyseal.DeriveKEK([]byte("test password"), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kek.Close)
	a, err := authority.Open(ctx, authority.Config{Store: st, KEK: kek, PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := api.NewKeys(api.KeysConfig{Authority: a, Logger: log, Metrics: api.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := api.KeyTLSConfig(ctx, a, []string{"127.0.0.1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{auth: a, url: "https://" + ln.Addr().String(), roots: x509.NewCertPool()}
	ca.roots.AddCert(a.Root())
	ca.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ca.requests.Add(1)
		tamper := ca.tamper.Load()
		if tamper == nil {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		(*tamper)(w, rec.Body.Bytes())
	}), TLSConfig: tlsCfg, ErrorLog: slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError)}
	go ca.srv.Serve(tls.NewListener(ln, tlsCfg))
	t.Cleanup(ca.stop)
	return ca
}

func (ca *testCA) stop() { ca.srv.Close() }

func (ca *testCA) org(t *testing.T, id string, privateOnly bool, failMode string) {
	t.Helper()
	ctx := context.Background()
	if _, err := ca.auth.CreateOrg(ctx, authority.OrgSpec{ID: id, PrivateOnly: privateOnly, FailMode: failMode}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.auth.IssueIntermediate(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
}

// enrol makes an edge key, has the CA sign its CSR, and returns the edge's
// TLS certificate.
func (ca *testCA) enrol(t *testing.T, orgID string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "edge"}}, key)
	_, der, err := ca.auth.EnrolEdge(context.Background(), orgID, csr)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newClient(t *testing.T, ca *testCA, cert tls.Certificate, idle time.Duration) *Client {
	t.Helper()
	c, err := New(Config{URL: ca.url, Certificate: cert, Roots: ca.roots, IdleTimeout: idle, MinBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// mint signs a leaf for an origin with the org's issuer, as the edge does.
func mint(t *testing.T, iss *certcache.Issuer) error {
	t.Helper()
	originKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "www.origin.test"},
		DNSNames: []string{"www.origin.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, originKey.Public(), originKey)
	origin, _ := x509.ParseCertificate(der)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := certcache.MintLeaf(iss, origin, "www.origin.test", leafKey.Public(), time.Now())
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(leaf)
	if err != nil {
		return err
	}
	return cert.CheckSignatureFrom(iss.Cert)
}

func TestFetchHoldsTheKeyInTheSlabAndMints(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "acme", false, "tunnel")
	c := newClient(t, ca, ca.enrol(t, ""), time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Issuer(context.Background(), "acme")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ca.requests.Load(); n != 1 {
		t.Fatalf("8 concurrent first uses made %d requests to the CA, want 1", n)
	}
	if got := c.MemoryStats().InUse; got != keyBlockLen {
		t.Fatalf("key memory in use = %d, want one %d-byte block", got, keyBlockLen)
	}
	iss, _ := c.Issuer(context.Background(), "acme")
	if err := mint(t, iss); err != nil {
		t.Fatalf("minting with the fetched key: %v", err)
	}
}

func TestIdleKeyIsZeroedAndFetchedAgain(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "acme", false, "tunnel")
	c := newClient(t, ca, ca.enrol(t, ""), 150*time.Millisecond)
	iss, err := c.Issuer(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	block := c.orgs["acme"].der[:keyBlockLen]
	c.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for c.Holds("acme") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c.Holds("acme") {
		t.Fatal("a key idle past its time is still held")
	}
	for _, b := range block {
		if b != 0 {
			t.Fatal("the idle key's memory was not zeroed")
		}
	}
	if c.MemoryStats().InUse != 0 {
		t.Fatal("the idle key's block was not given back")
	}
	// The next use fetches it again.
	if err := mint(t, iss); err != nil {
		t.Fatalf("minting after the idle wipe: %v", err)
	}
	if ca.requests.Load() != 2 {
		t.Fatalf("CA saw %d requests, want 2 (first use, then after the wipe)", ca.requests.Load())
	}
}

func TestCAStoppedCachedKeyKeepsMintingOthersFailClosed(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "acme", false, "tunnel")
	ca.org(t, "globex", false, "block")
	c := newClient(t, ca, ca.enrol(t, ""), time.Hour)
	iss, err := c.Issuer(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	ca.stop()

	if err := mint(t, iss); err != nil {
		t.Fatalf("with the CA stopped, the cached key must keep minting: %v", err)
	}
	if _, err := c.Issuer(context.Background(), "acme"); err != nil {
		t.Fatalf("with the CA stopped, the cached org's issuer: %v", err)
	}
	_, err = c.Issuer(context.Background(), "globex")
	var nk *NoKeyError
	if !errors.As(err, &nk) || nk.Org != "globex" || nk.FailMode != "block" {
		t.Fatalf("an org without a key must fail closed with its fail mode (default block): %v", err)
	}
	// Backoff: the next ask does not hit the (dead) CA again at once.
	before := ca.requests.Load()
	_, err = c.Issuer(context.Background(), "globex")
	if !errors.As(err, &nk) || ca.requests.Load() != before {
		t.Fatalf("a retry inside the backoff reached the CA (err %v)", err)
	}
}

func TestPrivateOnlyOrgRefusedToPublicEdge(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "bank", true, "tunnel")
	c := newClient(t, ca, ca.enrol(t, ""), time.Hour)
	_, err := c.Issuer(context.Background(), "bank")
	var nk *NoKeyError
	var he *httpError
	if !errors.As(err, &nk) || !errors.As(err, &he) || he.status != http.StatusForbidden {
		t.Fatalf("a public edge asking for a private-only org's key: %v", err)
	}
	if c.Holds("bank") {
		t.Fatal("a refused key is held")
	}
	// Its own private edge gets it.
	own := newClient(t, ca, ca.enrol(t, "bank"), time.Hour)
	if _, err := own.Issuer(context.Background(), "bank"); err != nil {
		t.Fatalf("the org's private edge: %v", err)
	}
}

func TestUnenrolledEdgeIsRefusedAtTLS(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "acme", false, "tunnel")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "impostor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	c := newClient(t, ca, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, time.Hour)
	_, err := c.Issuer(context.Background(), "acme")
	var he *httpError
	if err == nil || errors.As(err, &he) {
		t.Fatalf("an unenrolled client must fail in the TLS handshake, not get an HTTP answer: %v", err)
	}
}

// TestImpostorCAIsRefused: a server whose certificate chains to the
// service root through an organisation's intermediate (whose key edges
// hold) is not the CA.
func TestImpostorCAIsRefused(t *testing.T) {
	ca := startCA(t)
	ca.org(t, "acme", false, "tunnel")
	edgeCert := ca.enrol(t, "")
	// Mint a server certificate for 127.0.0.1 under acme's intermediate,
	// as an edge holding that key could.
	good := newClient(t, ca, edgeCert, time.Hour)
	iss, err := good.Issuer(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "fake CA"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.Cert, key.Public(), iss.Signer)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fake := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der, iss.Cert.Raw}, PrivateKey: key}}},
		ErrorLog:  slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError)}
	go fake.ServeTLS(ln, "", "")
	defer fake.Close()
	c, err := New(Config{URL: "https://" + ln.Addr().String(), Certificate: edgeCert, Roots: ca.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Issuer(context.Background(), "acme")
	if err == nil || !strings.Contains(err.Error(), "not issued by the service root directly") {
		t.Fatalf("an impostor CA chained through an org intermediate was accepted: %v", err)
	}
}

// TestBadAnswerTakesNoKeyMemory: an answer the edge cannot use leaves it
// without a key for the org, failing closed (with its own default fail
// mode: it never learnt the org's), and with every slab block it
// took for the key zeroed and given back.
func TestBadAnswerTakesNoKeyMemory(t *testing.T) {
	headEnd := func(body []byte) int { return 4 + int(binary.BigEndian.Uint32(body)) }
	send := func(w http.ResponseWriter, body []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
	for _, tc := range []struct {
		name   string
		tamper func(w http.ResponseWriter, body []byte)
		want   string
	}{
		{"no key", func(w http.ResponseWriter, b []byte) { send(w, b[:headEnd(b)]) }, "ends early: before the key"},
		{"key cut short", func(w http.ResponseWriter, b []byte) { send(w, b[:len(b)-1]) }, "CA sent a key that does not parse"},
		{"body cut short inside the key", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:len(b)-1])
		}, "ends early: inside the key"},
		{"key too long", func(w http.ResponseWriter, b []byte) { send(w, append(b, make([]byte, keyBlockLen)...)) }, "a key longer than"},
		{"another org's key", func(w http.ResponseWriter, b []byte) {
			send(w, bytes.Replace(b, []byte(`"org":"acme"`), []byte(`"org":"acmf"`), 1))
		}, `CA answered for organisation "acmf"`},
		{"metadata cut short", func(w http.ResponseWriter, b []byte) { send(w, b[:headEnd(b)-1]) }, "ends early: inside its"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := startCA(t)
			ca.org(t, "acme", false, "tunnel")
			ca.tamper.Store(&tc.tamper)
			c := newClient(t, ca, ca.enrol(t, ""), time.Hour)
			_, err := c.Issuer(context.Background(), "acme")
			var nk *NoKeyError
			if !errors.As(err, &nk) || nk.FailMode != "block" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Issuer after a bad answer: %v, want a NoKeyError saying %q", err, tc.want)
			}
			if c.Holds("acme") || c.MemoryStats().InUse != 0 {
				t.Fatalf("after a bad answer: holds %v, %d bytes of key memory in use", c.Holds("acme"), c.MemoryStats().InUse)
			}
		})
	}
}
