package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/selfsigned"
)

// buildEdge compiles this command once per test binary.
func buildEdge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startEdge runs `edge terminate` with args and returns the address it
// printed and a function that stops it with SIGTERM and checks it exits 0.
func startEdge(t *testing.T, bin string, args ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"terminate", "-listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "lucid: terminating TLS 1.3 on "); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("edge printed no listen address")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("edge exited with %v after SIGTERM", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("edge did not stop within 10 s of SIGTERM")
		}
	}
	t.Cleanup(stop)
	return a, stop
}

func get(t *testing.T, addr string, roots *x509.CertPool, insecure bool) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", InsecureSkipVerify: insecure},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("status %d, TLS version %x", resp.StatusCode, resp.TLS.Version)
	}
	return string(body)
}

func TestTerminateSelfSigned(t *testing.T) {
	addr, stop := startEdge(t, buildEdge(t))
	if body := get(t, addr, nil, true); body != "hello from lucid\n" {
		t.Fatalf("body %q", body)
	}
	stop()
}

func TestTerminateWithCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := selfsigned.Certificate([]string{"localhost"}, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	addr, _ := startEdge(t, buildEdge(t), "-cert", certFile, "-key", keyFile, "-loops", "1")
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	// Verified against the given certificate, not skipped.
	if body := get(t, addr, roots, false); body != "hello from lucid\n" {
		t.Fatalf("body %q", body)
	}
}

func TestTerminateRefusesBadFlags(t *testing.T) {
	bin := buildEdge(t)
	for _, args := range [][]string{
		{"terminate", "-cert", "x.pem"},
		{"terminate", "-pprof"}, // without -admin
		{"terminate", "-cert", "/nonexistent.pem", "-key", "/nonexistent.key"},
		{"serve"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("edge %v succeeded; want an error", args)
		}
		if len(out) == 0 {
			t.Errorf("edge %v said nothing about why it failed", args)
		}
	}
}

func httpStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	for range 50 { // the admin listener starts just after the TLS one
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Go's profiles are on the admin listener only when asked for.
func TestTerminateAdminProfiles(t *testing.T) {
	bin := buildEdge(t)
	for _, pprof := range []bool{false, true} {
		admin := freeAddr(t)
		args := []string{"-admin", admin}
		if pprof {
			args = append(args, "-pprof")
		}
		addr, stop := startEdge(t, bin, args...)
		get(t, addr, nil, true)
		if code, body := httpStatus(t, "http://"+admin+"/metrics"); code != 200 || !strings.Contains(body, "lucid_tls_handshakes_total 1") {
			t.Fatalf("/metrics: %d\n%s", code, body)
		}
		code, body := httpStatus(t, "http://"+admin+"/debug/pprof/")
		if pprof && (code != 200 || !strings.Contains(body, "goroutine")) {
			t.Fatalf("-pprof: /debug/pprof/ answered %d", code)
		}
		if !pprof && code != 404 {
			t.Fatalf("without -pprof: /debug/pprof/ answered %d, want 404", code)
		}
		stop()
	}
}
