package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/keywire"
	"github.com/lucid-edge/lucid/ca/store/sqlstore"
)

const passwordEnv = "LUCID_CA_TEST_PASSWORD"

func buildCA(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ca")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type result struct {
	code           int
	stdout, stderr string
}

// runCA runs the binary to completion with the CA password in its
// environment.
func runCA(t *testing.T, bin, password string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), passwordEnv+"="+password)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func (r result) expect(t *testing.T, code int, pieces ...string) {
	t.Helper()
	all := r.stdout + r.stderr
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, p := range pieces {
		if !strings.Contains(all, p) {
			t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", p, r.stdout, r.stderr)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCommandEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildCA(t)
	dir := t.TempDir()
	admin, keys, public := freePort(t), freePort(t), freePort(t)
	config := filepath.Join(dir, "ca.yaml")
	os.WriteFile(config, fmt.Appendf(nil, `data_dir: data
password: {env: %s}
listen: {admin: %q, keys: %q, public: %q}
hostnames: [127.0.0.1]
kdf: {memory_kib: 8192, time: 1, threads: 1}
`, passwordEnv, admin, keys, public), 0o644)
	const password = "the right password"
	c := func(args ...string) []string { return append(args, "-config", config) }

	runCA(t, bin, password, c("init")...).expect(t, 0, "initialised the CA", filepath.Join(dir, "data", "ca.db"), "admin-token")
	if m := mode(t, filepath.Join(dir, "data")); m != 0o700 {
		t.Errorf("data folder mode %v", m)
	}
	if m := mode(t, filepath.Join(dir, "data", "admin-token")); m != 0o600 {
		t.Errorf("token file mode %v", m)
	}
	runCA(t, bin, password, c("init")...).expect(t, 1, "already initialised")

	// A wrong password stops the CA at once, saying so.
	runCA(t, bin, "not the password", c("serve")...).expect(t, 1, "wrong CA password")

	serve := exec.Command(bin, c("serve")...)
	serve.Env = append(os.Environ(), passwordEnv+"="+password)
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			serve.Process.Kill()
			<-exited
		}
	})
	waitHealthy(t, "http://"+public+"/healthz", exited)

	runCA(t, bin, password, c("org", "create", "acme", "-name", "Acme Corp")...).expect(t, 0, "created organisation acme")
	runCA(t, bin, password, c("org", "issue", "acme", "-alg", "rsa-2048")...).expect(t, 0, "issued intermediate", "rsa-2048")
	runCA(t, bin, password, c("org", "create", "acme")...).expect(t, 1, `organisation "acme" already exists`, "HTTP 409")
	runCA(t, bin, password, c("org", "create", "Bad_ID")...).expect(t, 1, "lowercase", "HTTP 400")
	runCA(t, bin, password, c("org", "show", "nope")...).expect(t, 1, `no organisation "nope"`, "HTTP 404")
	runCA(t, bin, password, c("org", "list")...).expect(t, 0, "acme", "Acme Corp")
	// The other way to find the admin API: flags instead of the config.
	runCA(t, bin, password, "-admin", "http://"+admin, "-token-file", filepath.Join(dir, "data", "admin-token"), "org", "show", "acme").
		expect(t, 0, "organisation:  acme", "active")
	bad := filepath.Join(dir, "bad-token")
	os.WriteFile(bad, []byte("nope\n"), 0o600)
	runCA(t, bin, password, "org", "list", "-admin", "http://"+admin, "-token-file", bad).expect(t, 1, "admin token is not valid", "HTTP 401")

	edgeDir := filepath.Join(dir, "edge")
	r := runCA(t, bin, password, c("edge", "enrol", "-out", edgeDir)...)
	r.expect(t, 0, "enrolled edge", "public fleet")
	if m := mode(t, filepath.Join(edgeDir, "edge-key.pem")); m != 0o600 {
		t.Errorf("edge-key.pem mode %v, want 0600", m)
	}
	runCA(t, bin, password, c("edge", "enrol", "-out", edgeDir)...).expect(t, 1, "exists")
	checkEdgeFiles(t, edgeDir, keys)
	runCA(t, bin, password, c("edge", "list")...).expect(t, 0, "public fleet")

	backup := filepath.Join(dir, "backup.zst")
	runCA(t, bin, password, c("backup", "-out", backup)...).expect(t, 0, "wrote backup")
	if m := mode(t, backup); m != 0o600 {
		t.Errorf("backup mode %v", m)
	}
	f, err := os.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := sqlstore.ReadBackup(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var orgs []string
	for _, o := range snap.Orgs {
		orgs = append(orgs, o.ID)
	}
	if !slices.Contains(orgs, "acme") || len(snap.Edges) != 1 || len(snap.Keys) == 0 {
		t.Errorf("backup holds orgs %q, %d edges, %d keys", orgs, len(snap.Edges), len(snap.Keys))
	}

	runCA(t, bin, password, c("revoke", "acme", "-serial", "01:02:03", "-reason", "1")...).expect(t, 0, "revoked serial 10203")
	runCA(t, bin, password, c("org", "rotate", "acme")...).expect(t, 0, "rotated acme")
	runCA(t, bin, password, c("audit")...).expect(t, 0, "org.created", "key.issued", "cert.revoked", "store.backup")

	// Command line mistakes exit 2 with the usage.
	runCA(t, bin, password, "org").expect(t, 2, "usage:")
	runCA(t, bin, password, c("frobnicate")...).expect(t, 2, "unknown command")
	runCA(t, bin, password, c("org", "show")...).expect(t, 2, "takes ID")
	runCA(t, bin, password, "org", "list").expect(t, 2, "-config FILE")

	// SIGTERM: a graceful stop.
	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve exited with %v\n%s", err, serveLog.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	log := serveLog.String()
	for _, want := range []string{"CA started", "CA stopping", "path=/admin/v1/orgs status=201"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, password) {
		t.Error("the log holds the password")
	}
}

func waitHealthy(t *testing.T, url string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the CA did not come up")
}

// checkEdgeFiles checks what `ca edge enrol` wrote, by using it: the
// edge's key and certificate get an organisation's key from the key API.
func checkEdgeFiles(t *testing.T, dir, keysAddr string) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "edge-cert.pem"), filepath.Join(dir, "edge-key.pem"))
	if err != nil {
		t.Fatalf("the edge's key and certificate do not pair: %v", err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "ca-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("ca-root.pem holds no certificate")
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the edge certificate does not verify under ca-root.pem: %v", err)
	}
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "edge-key.pem"))
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Error("edge-key.pem is not a PKCS #8 PEM key")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: roots, Certificates: []tls.Certificate{cert},
	}}}
	resp, err := client.Get("https://" + keysAddr + "/v1/orgs/acme/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != keywire.ContentType {
		t.Errorf("key API: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
