package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/keywire"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
)

const testToken = "test-admin-token"

// testCA is a CA on a real SQLite file with its three listeners on
// loopback: the admin API and the public listener on plain HTTP, the key
// API on mutual TLS.
type testCA struct {
	auth      *authority.Authority
	admin     *api.Client
	adminURL  string
	publicURL string
	keysAddr  string
	metrics   *api.Metrics
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The cheapest Argon2id keyseal accepts: these tests are about the API.
	p := keyseal.Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}
	rand.Read(p.Salt[:])
	kek, err := keyseal.DeriveKEK([]byte("test password"), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kek.Close)

	// The public URL goes into certificates, so its listener comes first.
	m := api.NewMetrics()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	public := httptest.NewUnstartedServer(nil)
	a, err := authority.Open(ctx, authority.Config{Store: st, KEK: kek, PublicURL: "http://" + public.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	publicH, err := api.NewPublic(api.PublicConfig{Authority: a, Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	public.Config.Handler = publicH
	public.Start()
	t.Cleanup(public.Close)

	adminH, err := api.NewAdmin(api.AdminConfig{Authority: a, TokenSHA256: sha256.Sum256([]byte(testToken)), Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(adminH)
	t.Cleanup(admin.Close)

	keysH, err := api.NewKeys(api.KeysConfig{Authority: a, Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := api.KeyTLSConfig(ctx, a, []string{"localhost", "127.0.0.1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keys := &http.Server{Handler: keysH, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go keys.Serve(tls.NewListener(ln, tlsCfg))
	t.Cleanup(func() { keys.Close() })

	return &testCA{
		auth:      a,
		admin:     &api.Client{URL: admin.URL, Token: testToken},
		adminURL:  admin.URL,
		publicURL: public.URL,
		keysAddr:  ln.Addr().String(),
		metrics:   m,
	}
}

// edge is an enrolled edge: its client certificate and the root it trusts.
type edge struct {
	id    string
	cert  tls.Certificate
	roots *x509.CertPool
}

// enrol enrols an edge through the admin API, as `ca edge enrol` does.
func (ca *testCA) enrol(t *testing.T, org string) edge {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test edge"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ca.admin.Enrol(context.Background(), org, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})))
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	certBlock, _ := pem.Decode([]byte(res.CertificatePEM))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(res.RootPEM)) {
		t.Fatal("no root in the enrolment answer")
	}
	return edge{id: res.ID, cert: tls.Certificate{Certificate: [][]byte{certBlock.Bytes}, PrivateKey: key}, roots: roots}
}

// keyClient is an edge's HTTP client for the key API.
func (ca *testCA) keyClient(e edge) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: e.roots, Certificates: []tls.Certificate{e.cert},
	}}}
}

// fetchKey asks the key API for org's key as edge e. It returns the
// status, and on 200 the answer as the edge reads it (the body otherwise).
func (ca *testCA) fetchKey(t *testing.T, e edge, org string) (int, keywire.Meta, []byte) {
	t.Helper()
	resp, err := ca.keyClient(e).Get("https://" + ca.keysAddr + "/v1/orgs/" + org + "/key")
	if err != nil {
		t.Fatalf("GET key of %s: %v", org, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, keywire.Meta{}, body
	}
	if ct := resp.Header.Get("Content-Type"); ct != keywire.ContentType {
		t.Errorf("Content-Type %q, want %q", ct, keywire.ContentType)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	meta, err := keywire.ReadMeta(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	der, err := keywire.ReadKey(resp.Body, make([]byte, keywire.MaxKeyLen+1))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, meta, der
}

// do sends a raw admin request and decodes the JSON answer into out (if
// not nil), returning the status.
func (ca *testCA) do(t *testing.T, method, path, token string, body io.Reader, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ca.adminURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: answer does not decode: %v", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// audit returns the audit log's entries with action.
func (ca *testCA) audit(t *testing.T, action string) []api.AuditEntry {
	t.Helper()
	entries, err := ca.admin.Audit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []api.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
