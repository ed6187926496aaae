package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/keywire"
)

const testPassword = "correct horse battery staple"

// writeConfig writes a configuration in a fresh folder: SQLite, the
// password in a file, every listener on a free loopback port, and the
// cheapest Argon2id keyseal accepts.
func writeConfig(t *testing.T, extra string) (path string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `data_dir: data
password:
  file: password
listen:
  admin: 127.0.0.1:0
  keys: 127.0.0.1:0
  public: 127.0.0.1:0
hostnames: [localhost, 127.0.0.1]
kdf: {memory_kib: 8192, time: 1, threads: 1}
` + extra
	path = filepath.Join(dir, "ca.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadConfig(t *testing.T, path string) Config {
	t.Helper()
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var quiet = Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

// initAndStart makes a new CA and starts it.
func initAndStart(t *testing.T, cfg Config) *Server {
	t.Helper()
	if _, err := Init(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func adminClient(t *testing.T, s *Server, cfg Config) *api.Client {
	t.Helper()
	tok, err := ReadTokenFile(cfg.AdminTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return &api.Client{URL: "http://" + s.AdminAddr(), Token: tok}
}

func TestLoadConfig(t *testing.T) {
	path := writeConfig(t, "")
	cfg := loadConfig(t, path)
	dir := filepath.Dir(path)
	for _, c := range []struct{ name, got, want string }{
		{"data_dir", cfg.DataDir, filepath.Join(dir, "data")},
		{"store.path", cfg.Store.Path, filepath.Join(dir, "data", "ca.db")},
		{"store.driver", cfg.Store.Driver, "sqlite"},
		{"password.file", cfg.Password.File, filepath.Join(dir, "password")},
		{"admin_token_file", cfg.AdminTokenFile, filepath.Join(dir, "data", "admin-token")},
		{"public_url", cfg.PublicURL, ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	def := filepath.Join(t.TempDir(), "ca.yaml")
	os.WriteFile(def, nil, 0o644)
	cfg = loadConfig(t, def)
	if cfg.Listen != (ListenConfig{Admin: "127.0.0.1:8445", Keys: "127.0.0.1:8444", Public: "127.0.0.1:8080"}) ||
		strings.Join(cfg.Hostnames, ",") != "localhost,127.0.0.1,::1" || cfg.AdminURL() != "http://127.0.0.1:8445" {
		t.Errorf("defaults: %+v", cfg)
	}

	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "data_dri: x\n", "data_dri"},
		{"bad driver", "store: {driver: mysql}\n", "mysql"},
		{"postgres without dsn", "store: {driver: postgres}\n", "store.dsn"},
		{"two password sources", "password: {file: a, env: B}\n", "not both"},
		{"bad listen", "listen: {admin: localhost}\n", "listen.admin"},
		{"bad public url", "public_url: ca.example\n", "public_url"},
		{"half admin tls", "admin_tls: {cert_file: a.pem}\n", "admin_tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ca.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o644)
			if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestInitAndPassword(t *testing.T) {
	path := writeConfig(t, "")
	cfg := loadConfig(t, path)
	ctx := context.Background()
	res, err := Init(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for file, mode := range map[string]os.FileMode{cfg.DataDir: 0o700 | os.ModeDir, res.AdminTokenFile: 0o600, cfg.Store.Path: 0o600} {
		if fi, err := os.Stat(file); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, want mode %v (%v)", file, fi.Mode(), mode, err)
		}
	}
	if !res.TokenCreated {
		t.Error("no token created")
	}
	if _, err := Init(ctx, cfg, quiet); !errors.Is(err, ErrInitialised) {
		t.Errorf("second init: %v, want ErrInitialised", err)
	}

	t.Run("right password", func(t *testing.T) {
		s, err := Start(ctx, cfg, quiet)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong")
		os.WriteFile(wrong, []byte("Tr0ub4dor&3"), 0o600)
		c := cfg
		c.Password.File = wrong
		_, err := Start(ctx, c, quiet)
		if !errors.Is(err, ErrWrongPassword) || err.Error() != "wrong CA password" {
			t.Fatalf("got %v, want %q", err, ErrWrongPassword)
		}
	})
	t.Run("no password source", func(t *testing.T) {
		devNull, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer devNull.Close()
		c := cfg
		c.Password = PasswordConfig{}
		_, err = Start(ctx, c, Options{Logger: quiet.Logger, Stdin: devNull})
		if !errors.Is(err, ErrNoPassword) || !strings.Contains(err.Error(), "password.file") {
			t.Fatalf("got %v, want %v", err, ErrNoPassword)
		}
	})
	t.Run("password from the environment", func(t *testing.T) {
		t.Setenv("LUCID_TEST_CA_PASSWORD", testPassword)
		c := cfg
		c.Password = PasswordConfig{Env: "LUCID_TEST_CA_PASSWORD"}
		s, err := Start(ctx, c, quiet)
		if err != nil {
			t.Fatal(err)
		}
		s.Shutdown(ctx)
		if _, set := os.LookupEnv("LUCID_TEST_CA_PASSWORD"); set {
			t.Error("the password is still in the environment")
		}
	})
	t.Run("token file others can read", func(t *testing.T) {
		os.Chmod(cfg.AdminTokenFile, 0o644)
		defer os.Chmod(cfg.AdminTokenFile, 0o600)
		if _, err := Start(ctx, cfg, quiet); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("got %v, want a refusal saying chmod 600", err)
		}
	})
}

// testEdge enrols an edge through the admin API and returns an HTTP
// client for the key API that presents its certificate.
func testEdge(t *testing.T, cl *api.Client, org string) *http.Client {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "edge"}}, key)
	res, err := cl.Enrol(context.Background(), org, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(res.CertificatePEM))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(res.RootPEM))
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{b.Bytes}, PrivateKey: key}},
	}}}
}

// fetchKey gets org's key from the key API, read as the edge reads it.
func fetchKey(t *testing.T, s *Server, edge *http.Client, org string) (keywire.Meta, []byte) {
	t.Helper()
	resp, err := edge.Get("https://" + s.KeysAddr() + "/v1/orgs/" + org + "/key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("key of %s: %d %s", org, resp.StatusCode, body)
	}
	meta, err := keywire.ReadMeta(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	der, err := keywire.ReadKey(resp.Body, make([]byte, keywire.MaxKeyLen+1))
	if err != nil {
		t.Fatal(err)
	}
	return meta, der
}

func TestAdminTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}, IPAddresses: nil}
	tmpl.IPAddresses = append(tmpl.IPAddresses, []byte{127, 0, 0, 1})
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	cfg := loadConfig(t, writeConfig(t, fmt.Sprintf("admin_tls: {cert_file: %s, key_file: %s}\n", certFile, keyFile)))
	s := initAndStart(t, cfg)
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	tok, _ := ReadTokenFile(cfg.AdminTokenFile)
	cl := &api.Client{URL: "https://" + s.AdminAddr(), Token: tok,
		HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	if _, err := cl.Orgs(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Not in the clear: Go's TLS server answers plain HTTP with a 400.
	if resp, err := http.Get("http://" + s.AdminAddr() + "/admin/v1/orgs"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS admin API: %d", resp.StatusCode)
		}
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunStopsOnCancel(t *testing.T) {
	cfg := loadConfig(t, writeConfig(t, ""))
	if _, err := Init(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, quiet, 5*time.Second) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	// The store is closed and free: the CA starts again.
	s, err := Start(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
}
