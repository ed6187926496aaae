package terminate_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// TestInteropGnuTLS: gnutls-cli negotiates TLS 1.3 with the server and gets
// the answer to a request.
func TestInteropGnuTLS(t *testing.T) {
	bin := tlstest.NeedTool(t, "gnutls-cli")
	s := iopStartDefault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--x509cafile", s.pemFile(t), "--port", s.port, "localhost")
	cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), iopBody) {
		t.Fatalf("gnutls-cli: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "TLS1.3") || !strings.Contains(string(out), iopBody) {
		t.Fatalf("gnutls-cli did not get a TLS 1.3 answer:\n%s", out)
	}
}

// TestInteropOpenSSLKeyUpdate: openssl s_client's interactive "K" command
// sends a KeyUpdate that asks the server to update its keys too; requests
// before and after it are answered. Each step waits for the answer to the
// one before, as a person typing would.
func TestInteropOpenSSLKeyUpdate(t *testing.T) {
	bin := tlstest.NeedTool(t, "openssl")
	s := iopStartDefault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", s.addr, "-servername", "localhost",
		"-tls1_3", "-CAfile", s.pemFile(t), "-verify_return_error", "-crlf")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	var seen strings.Builder
	buf := make([]byte, 4096)
	waitFor := func(want string, count int) {
		t.Helper()
		for strings.Count(seen.String(), want) < count {
			n, err := stdout.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				t.Fatalf("s_client ended before %q appeared %d times: %v\n%s", want, count, err, seen.String())
			}
		}
	}
	// -crlf turns each line's \n into \r\n; the blank line ends a request.
	io.WriteString(stdin, "GET /before HTTP/1.1\nHost: localhost\n\n")
	waitFor(iopBody, 1)
	io.WriteString(stdin, "K\n")
	waitFor("KEYUPDATE", 1)
	io.WriteString(stdin, "GET /after HTTP/1.1\nHost: localhost\n\n")
	waitFor(iopBody, 2)
}

// TestInteropResumption: Go's client with a session cache resumes with
// edge terminate, and openssl s_client resumes with -sess_out/-sess_in.
func TestInteropResumption(t *testing.T) {
	s := iopStartDefault(t)
	cfg := s.goConfig()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	for i, wantResumed := range []bool{false, true, true} {
		c, err := tls.Dial("tcp", s.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), iopReq)
		iopCheckResp(t, resp, body)
		if got := c.ConnectionState().DidResume; got != wantResumed {
			t.Fatalf("connection %d: resumed = %v, want %v", i, got, wantResumed)
		}
		c.Close()
	}

	bin := tlstest.NeedTool(t, "openssl")
	sess := filepath.Join(t.TempDir(), "sess.pem")
	for i, flag := range []string{"-sess_out", "-sess_in"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", s.addr, "-servername", "localhost",
			"-tls1_3", "-CAfile", s.pemFile(t), "-ign_eof", flag, sess)
		cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		out, _ := cmd.CombinedOutput()
		cancel()
		text := string(out)
		if !strings.Contains(text, iopBody) {
			t.Fatalf("openssl %s: no answer:\n%s", flag, text)
		}
		if i == 1 && !strings.Contains(text, "Reused, TLSv1.3") {
			t.Fatalf("openssl -sess_in did not resume:\n%s", text)
		}
	}
}
