package origin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/tlsmitm"
)

// rsaLeaf is validLeaf with an RSA key: TLS_RSA_WITH_* suites encrypt the
// premaster secret to it.
func (p *testPKI) rsaLeaf(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := signCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: originName},
		DNSNames:    []string{originName},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, p.inter, key, p.interKy)
	return tls.Certificate{Certificate: [][]byte{cert.Raw, p.inter.Raw}, PrivateKey: key}
}

// legacyHello is the hello of a client that offers TLS 1.0 to 1.3 and
// every suite crypto/tls knows, CBC, RC4 and RSA key exchange included:
// whatever an old origin picks, the client offered it.
func legacyHello(t testing.TB) *tlsmitm.ClientHello {
	var suites []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		suites = append(suites, s.ID)
	}
	return parseHello(t, captureHello(t, func(c net.Conn) error {
		return tls.Client(c, &tls.Config{
			ServerName: originName, MinVersion: tls.VersionTLS10, CipherSuites: suites,
			NextProtos: []string{"http/1.1"},
		}).Handshake()
	}))
}

// onlySuite makes an origin that speaks versions min to max and picks
// suite (ignored at TLS 1.3).
func onlySuite(min, max, suite uint16) func(*tls.Config) {
	return func(c *tls.Config) {
		c.MinVersion, c.MaxVersion = min, max
		if suite != 0 {
			c.CipherSuites = []uint16{suite}
		}
	}
}

// waitFailed waits for the origin's failed handshake and returns its error.
func (o *origin) waitFailed(t testing.TB) error {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		o.mu.Lock()
		n := len(o.failed)
		var err error
		if n > 0 {
			err = o.failed[n-1]
		}
		o.mu.Unlock()
		if err != nil {
			return err
		}
	}
	t.Fatal("the origin's handshake did not fail")
	return nil
}

// TestHandshakeFloor plays an origin that picks what the client offered
// but the edge refuses: each is refused with the version, the suite and
// the reason, the origin learns why (insufficient_security), and with
// AllowLegacyTLS each goes through, marked BelowFloor.
func TestHandshakeFloor(t *testing.T) {
	pki := newTestPKI(t)
	ecdsaCert, rsaCert := pki.validLeaf(t), pki.rsaLeaf(t)
	tests := []struct {
		name       string
		cert       tls.Certificate
		min, max   uint16
		suite      uint16
		wantReason []string // empty: above the floor
	}{
		{"TLS 1.0 with ECDHE-ECDSA AES-128-CBC-SHA", ecdsaCert, tls.VersionTLS10, tls.VersionTLS10, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			[]string{"TLS 1.0 is older than TLS 1.2", "CBC encryption with HMAC-SHA1"}},
		{"TLS 1.1 with ECDHE-RSA AES-256-CBC-SHA", rsaCert, tls.VersionTLS11, tls.VersionTLS11, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			[]string{"TLS 1.1 is older than TLS 1.2", "CBC encryption with HMAC-SHA1"}},
		{"TLS 1.2 with RSA key exchange and AES-128-GCM", rsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			[]string{"RSA key exchange"}},
		{"TLS 1.2 with ECDHE-ECDSA AES-128-CBC-SHA", ecdsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			[]string{"CBC encryption with HMAC-SHA1"}},
		{"TLS 1.2 with ECDHE-ECDSA AES-128-CBC-SHA256", ecdsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			[]string{"CBC encryption"}},
		{"TLS 1.2 with ECDHE-RSA 3DES", rsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
			[]string{"CBC encryption with HMAC-SHA1"}},
		{"TLS 1.2 with ECDHE-ECDSA RC4", ecdsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA,
			[]string{"RC4 encryption"}},
		{"TLS 1.2 with ECDHE-ECDSA AES-128-GCM", ecdsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, nil},
		{"TLS 1.2 with ECDHE-RSA ChaCha20-Poly1305", rsaCert, tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, nil},
		{"TLS 1.3", ecdsaCert, tls.VersionTLS13, tls.VersionTLS13, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, tc.cert, onlySuite(tc.min, tc.max, tc.suite))
			sent := legacyHello(t)
			cfg := handshakeConfig{serverName: originName, hello: sent, roots: pki.roots, timeout: 5 * time.Second}
			res, err := handshake(context.Background(), dial(t, o.addr), cfg)
			if tlsmitm.JA4(parseHello(t, o.last(t).raw)) != tlsmitm.JA4(sent) {
				t.Errorf("the origin did not see the client's hello")
			}
			if len(tc.wantReason) == 0 {
				if err != nil {
					t.Fatalf("refused above the floor: %v", err)
				}
				defer res.Conn.Close()
				if res.BelowFloor != nil || res.Version != tc.max || tc.suite != 0 && res.CipherSuite != tc.suite {
					t.Errorf("BelowFloor %v, version %#x, suite %#x", res.BelowFloor, res.Version, res.CipherSuite)
				}
				ping(t, res)
				return
			}

			if err == nil {
				res.Conn.Close()
				t.Fatalf("negotiated %s with %s: not refused", tls.VersionName(res.Version), tls.CipherSuiteName(res.CipherSuite))
			}
			var fe *FloorError
			if !errors.Is(err, ErrHandshake) || !errors.Is(err, ErrTLSFloor) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FloorError wrapping ErrHandshake", err)
			}
			if fe.Version != tc.max || fe.Suite != tc.suite {
				t.Errorf("FloorError version %#x, suite %#x; want %#x, %#x", fe.Version, fe.Suite, tc.max, tc.suite)
			}
			for _, want := range append([]string{tls.VersionName(tc.max), tls.CipherSuiteName(tc.suite), originName}, tc.wantReason...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if oerr := o.waitFailed(t); !strings.Contains(oerr.Error(), "insufficient security") {
				t.Errorf("the origin's handshake failed with %q, want an insufficient_security alert", oerr)
			}

			cfg.allowLegacy = true
			res = handshakeWith(t, o.addr, cfg)
			if !errors.As(res.BelowFloor, &fe) || fe.Version != tc.max || fe.Suite != tc.suite {
				t.Errorf("legacy allowed: BelowFloor %v", res.BelowFloor)
			}
			if res.Version != tc.max || res.CipherSuite != tc.suite {
				t.Errorf("legacy allowed: negotiated %#x with %#x", res.Version, res.CipherSuite)
			}
			ping(t, res)
		})
	}
}

// A TLS 1.2 session that a legacy-allowed connection left in the session
// cache resumes without a Certificate message: a later connection to the
// same origin that does not allow legacy TLS is still refused.
func TestHandshakeFloorOnResumption(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.rsaLeaf(t), onlySuite(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256))
	cache := utls.NewLRUClientSessionCache(8)
	cfg := func(allowLegacy bool) handshakeConfig {
		return handshakeConfig{serverName: originName, hello: chromeHello(t), roots: pki.roots, sessions: cache,
			allowLegacy: allowLegacy, timeout: 5 * time.Second}
	}
	ping(t, handshakeWith(t, o.addr, cfg(true)))

	res, err := handshake(context.Background(), dial(t, o.addr), cfg(false))
	if !offersTicket(t, o.last(t).raw) {
		t.Fatal("the second hello offered no ticket: resumption was not tried")
	}
	if err == nil {
		res.Conn.Close()
		t.Fatalf("resumed (%v) below the floor", res.DidResume)
	}
	if !errors.Is(err, ErrTLSFloor) {
		t.Errorf("error %v, want a FloorError", err)
	}
	if oerr := o.waitFailed(t); !strings.Contains(oerr.Error(), "insufficient security") {
		t.Errorf("the origin's handshake failed with %q, want an insufficient_security alert", oerr)
	}
}

func TestFloorError(t *testing.T) {
	tests := []struct {
		version, suite uint16
		want           string // "" for above the floor
	}{
		{tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, ""},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ""},
		{tls.VersionTLS12, tls.TLS_RSA_WITH_AES_256_CBC_SHA, "RSA key exchange"},
		{tls.VersionTLS12, tls.TLS_RSA_WITH_RC4_128_SHA, "RSA key exchange"},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "RC4"},
		{tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "CBC encryption"},
		{tls.VersionTLS12, 0xc0ff, "not an ECDHE suite"},
		{tls.VersionTLS12, tls.TLS_AES_128_GCM_SHA256, "not an ECDHE suite"}, // a TLS 1.3 suite in a TLS 1.2 ServerHello
		{tls.VersionSSL30, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "SSLv3 is older than TLS 1.2"},
	}
	for _, tc := range tests {
		err := checkFloor(tc.version, tc.suite)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%#x %#x: %v", tc.version, tc.suite, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%#x %#x: %v, want %q", tc.version, tc.suite, err, tc.want)
		}
	}
}
