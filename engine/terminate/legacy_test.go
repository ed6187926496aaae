package terminate_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lucid-edge/lucid/engine/terminate"
	"github.com/lucid-edge/lucid/internal/tlstest"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// tls12Config is a crypto/tls client that offers TLS 1.2 only.
func tls12Config(s *iopServer, suite uint16) *tls.Config {
	return &tls.Config{ServerName: "localhost", RootCAs: s.pool, MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
}

func tls12Handoffs() uint64 {
	return metrics.GetOrCreateCounter("lucid_tls12_handoffs_total").Get()
}

// TestTLS12GoClient: a Go client limited to TLS 1.2 is handed off to
// crypto/tls and answered, with each suite, over keep-alive.
func TestTLS12GoClient(t *testing.T) {
	s := iopStartDefault(t)
	for _, suite := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	} {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			before := tls12Handoffs()
			c, _ := iopDialGo(t, s, tls12Config(s, suite))
			defer c.Close()
			st := c.ConnectionState()
			if st.Version != tls.VersionTLS12 || st.CipherSuite != suite {
				t.Fatalf("negotiated version %x suite %x", st.Version, st.CipherSuite)
			}
			if st.NegotiatedProtocol != "" {
				t.Errorf("ALPN %q without an offer", st.NegotiatedProtocol)
			}
			if tls12Handoffs() <= before {
				t.Error("lucid_tls12_handoffs_total did not move")
			}
			br := bufio.NewReader(c)
			for range 2 {
				resp, body := tlstest.RoundTrip(t, c, br, iopReq)
				iopCheckResp(t, resp, body)
			}
			resp, body := tlstest.RoundTrip(t, c, br, iopReqClose)
			iopCheckResp(t, resp, body)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after Connection: close: %d bytes, %v; want close_notify (EOF)", n, err)
			}
		})
	}
	t.Run("cbc refused", func(t *testing.T) {
		c := tls.Client(iopDialTCP(t, s), tls12Config(s, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA))
		if err := c.Handshake(); err == nil {
			t.Fatal("a CBC suite was negotiated")
		}
	})
	t.Run("http/1.0", func(t *testing.T) {
		cfg := tls12Config(s, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
		cfg.NextProtos = []string{"http/1.1"}
		c, _ := iopDialGo(t, s, cfg)
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("ALPN %q, want http/1.1", p)
		}
		resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.0\r\n\r\n")
		iopCheckResp(t, resp, body)
		if !resp.Close {
			t.Error("HTTP/1.0 answer does not close the connection")
		}
	})
	iopCheckGood(t, s) // TLS 1.3 is unaffected
}

// TestTLS12NoEMSRefused: a TLS 1.2 hello without extended_master_secret
// (RFC 7627) gets handshake_failure; TLS 1.1/1.0-only hellos still get
// protocol_version.
func TestTLS12NoEMSRefused(t *testing.T) {
	s := iopStartDefault(t)
	ch := tlstest.ParseClientHelloRecord(t, tlstest.CaptureClientHello(t, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12}))
	if ch.Find(0x0017) < 0 {
		t.Fatal("Go's hello carries no extended_master_secret")
	}
	ch.Without(t, 0x0017)
	iopExpectPlainAlert(t, s, ch.Record(), false, 40, "issue 6: TLS 1.2 requires extended master secret")
	iopCheckGood(t, s)
}

// TestTLS12OpenSSL: openssl s_client -tls1_2 gets the answer.
func TestTLS12OpenSSL(t *testing.T) {
	bin := tlstest.NeedTool(t, "openssl")
	s := iopStartDefault(t)
	for _, suite := range []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"} {
		t.Run(suite, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "s_client", "-tls1_2", "-cipher", suite, "-connect", s.addr,
				"-servername", "localhost", "-CAfile", s.pemFile(t), "-verify_return_error", "-ign_eof")
			cmd.Stdin = strings.NewReader(iopReqClose)
			out, err := cmd.CombinedOutput()
			if !strings.Contains(string(out), iopBody) || !strings.Contains(string(out), "Cipher is "+suite) {
				t.Fatalf("openssl s_client -tls1_2: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "Extended master secret: yes") {
				t.Errorf("no extended master secret:\n%s", out)
			}
		})
	}
}

// TestTLS12Curl: curl --tls-max 1.2 gets the answer.
func TestTLS12Curl(t *testing.T) {
	bin := tlstest.NeedTool(t, "curl")
	s := iopStartDefault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "https://localhost:" + s.port + "/"
	cmd := exec.CommandContext(ctx, bin, "-sS", "--max-time", "15", "--tlsv1.2", "--tls-max", "1.2",
		"--cacert", s.pemFile(t), "--resolve", "localhost:"+s.port+":127.0.0.1", url, url)
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != iopBody+iopBody {
		t.Fatalf("curl --tls-max 1.2: %v\n%s", err, out)
	}
}

// TestTLS12Backpressure: a request body far larger than the bridge's queue
// is skipped and the next request answered: the loop stops taking input
// while the queue is full and is woken when it drains.
func TestTLS12Backpressure(t *testing.T) {
	s := iopStartDefault(t)
	c, _ := iopDialGo(t, s, tls12Config(s, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))
	defer c.Close()
	br := bufio.NewReader(c)
	const n = 4 << 20
	c.SetDeadline(time.Now().Add(iopIOTimeout))
	go func() {
		_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4194304\r\n\r\n")
		_, _ = c.Write(make([]byte, n))
		_, _ = io.WriteString(c, iopReqClose)
	}()
	for range 2 {
		resp, body := tlstest.ReadResponse(t, br)
		iopCheckResp(t, resp, body)
	}
}

// TestTLS12Timeouts: a handed-off client that stops mid-handshake, or
// idles after a request, is cut off.
func TestTLS12Timeouts(t *testing.T) {
	s := iopStart(t, terminate.Config{HandshakeTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	t.Run("handshake", func(t *testing.T) {
		c := iopDialTCP(t, s)
		hello := tlstest.CaptureClientHello(t, &tls.Config{ServerName: "localhost", MaxVersion: tls.VersionTLS12})
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		// The server answers its flight, then waits for ours in vain.
		start := time.Now()
		_, err := tlstest.ReadToEnd(c, 5*time.Second)
		if errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 3*time.Second {
			t.Fatalf("connection not cut off: %s after %v", tlstest.DescribeEnd(err), time.Since(start))
		}
	})
	t.Run("idle", func(t *testing.T) {
		c, _ := iopDialGo(t, s, tls12Config(s, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))
		br := bufio.NewReader(c)
		resp, body := tlstest.RoundTrip(t, c, br, iopReq)
		iopCheckResp(t, resp, body)
		start := time.Now()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 3*time.Second {
			t.Fatalf("idle connection not cut off: %v after %v", err, time.Since(start))
		}
	})
}

// TestTerminateTLS12RSA: `edge terminate` with an RSA certificate serves
// TLS 1.2 clients with the ECDHE-RSA suites.
func TestTerminateTLS12RSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	s := iopStart(t, terminate.Config{Certificate: &tlsmitm.Certificate{Chain: [][]byte{der}, PrivateKey: key}})
	for _, suite := range []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	} {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			c, _ := iopDialGo(t, s, tls12Config(s, suite))
			defer c.Close()
			if st := c.ConnectionState(); st.Version != tls.VersionTLS12 || st.CipherSuite != suite {
				t.Fatalf("negotiated version %x suite %x", st.Version, st.CipherSuite)
			}
			resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), iopReqClose)
			iopCheckResp(t, resp, body)
		})
	}
	t.Run("ecdsa suites refused", func(t *testing.T) {
		c := tls.Client(iopDialTCP(t, s), tls12Config(s, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))
		if err := c.Handshake(); err == nil {
			t.Fatal("an ECDSA suite was negotiated with an RSA certificate")
		}
	})
	iopCheckGood(t, s) // TLS 1.3 with the RSA certificate too
}
