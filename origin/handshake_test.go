package origin

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"

	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/tlsmitm"
)

const originName = "origin.test"

// testPKI is a root, an intermediate under it, and leaves the intermediate
// signs; origins send leaf + intermediate, Roots holds only the root.
type testPKI struct {
	roots   *x509.CertPool
	inter   *x509.Certificate
	interKy crypto.Signer
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey := newKey(t)
	root := signCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Lucid test root"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, rootKey, rootKey)
	interKey := newKey(t)
	inter := signCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Lucid test intermediate"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, root, interKey, rootKey)
	p := &testPKI{roots: x509.NewCertPool(), inter: inter, interKy: interKey}
	p.roots.AddCert(root)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signCert signs tmpl (self-signed when parent is nil), valid from an hour
// ago for a day unless tmpl says otherwise.
func signCert(t testing.TB, tmpl, parent *x509.Certificate, key, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// leaf returns a server certificate for names (DNS names or IPs) with the
// intermediate, ready for a crypto/tls server.
func (p *testPKI) leaf(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert := signCert(t, tmpl, p.inter, key, p.interKy)
	return tls.Certificate{Certificate: [][]byte{cert.Raw, p.inter.Raw}, PrivateKey: key}
}

func (p *testPKI) validLeaf(t testing.TB) tls.Certificate {
	return p.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), originName, "127.0.0.1")
}

// seenHello is what an origin saw of one ClientHello: the raw message as it
// arrived on TCP and what crypto/tls made of it.
type seenHello struct {
	raw        []byte
	serverName string
	protos     []string
}

// origin is a crypto/tls server on loopback that records every ClientHello
// and every failed handshake, and answers each line "x" with "pong x".
type origin struct {
	addr   string
	mu     sync.Mutex
	seen   []seenHello
	failed []error
}

func newOrigin(t testing.TB, cert tls.Certificate, opts ...func(*tls.Config)) *origin {
	t.Helper()
	o := &origin{}
	var pending sync.Map // remote address → raw hello, until GetConfigForClient runs
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
			raw, _ := pending.LoadAndDelete(info.Conn.RemoteAddr().String())
			msg, _ := raw.([]byte)
			o.mu.Lock()
			o.seen = append(o.seen, seenHello{msg, info.ServerName, slices.Clone(info.SupportedProtos)})
			o.mu.Unlock()
			return nil, nil
		},
	}
	for _, opt := range opts {
		opt(cfg)
	}
	o.addr = serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		rc := &recordingConn{Conn: c}
		rc.onHello = func(msg []byte) { pending.Store(c.RemoteAddr().String(), msg) }
		tc := tls.Server(rc, cfg)
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			o.mu.Lock()
			o.failed = append(o.failed, err)
			o.mu.Unlock()
			return
		}
		r := bufio.NewReader(tc)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(tc, "pong "+line); err != nil {
				return
			}
		}
	})
	return o
}

// last returns the last ClientHello the origin saw.
func (o *origin) last(t testing.TB) seenHello {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		t.Fatal("the origin saw no ClientHello")
	}
	return o.seen[len(o.seen)-1]
}

// serve accepts on a loopback port until the test ends and runs handle on
// each connection.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return ln.Addr().String()
}

// recordingConn hands the first handshake record it reads to onHello.
type recordingConn struct {
	net.Conn
	buf     []byte
	onHello func([]byte)
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.onHello != nil {
		c.buf = append(c.buf, b[:n]...)
		if len(c.buf) >= recordHeaderLen {
			if end := recordHeaderLen + (int(c.buf[3])<<8 | int(c.buf[4])); len(c.buf) >= end {
				c.onHello(c.buf[recordHeaderLen:end])
				c.onHello = nil
			}
		}
	}
	return n, err
}

// captureHello runs a client handshake against nothing but a pipe and
// returns the ClientHello message it sent.
func captureHello(t testing.TB, handshake func(net.Conn) error) []byte {
	t.Helper()
	c, s := net.Pipe()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		handshake(c) // fails once s closes
		c.Close()
	}()
	defer func() {
		s.Close()
		<-done
	}()
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// testClients are the clients whose hellos the origin must see unchanged.
var testClients = []struct {
	name      string
	handshake func(net.Conn) error
}{
	{"Go crypto/tls", func(c net.Conn) error {
		return tls.Client(c, &tls.Config{ServerName: originName, NextProtos: []string{"h2", "http/1.1"}}).Handshake()
	}},
	{"uTLS HelloChrome_Auto", utlsClient(utls.HelloChrome_Auto)},
	{"uTLS HelloFirefox_Auto", utlsClient(utls.HelloFirefox_Auto)},
	{"uTLS HelloSafari_Auto", utlsClient(utls.HelloSafari_Auto)},
	{"uTLS HelloIOS_Auto", utlsClient(utls.HelloIOS_Auto)},
}

func utlsClient(id utls.ClientHelloID) func(net.Conn) error {
	return func(c net.Conn) error {
		return utls.UClient(c, &utls.Config{ServerName: originName}, id).Handshake()
	}
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshakeWith runs handshake to addr and fails the test on error.
func handshakeWith(t testing.TB, addr string, cfg handshakeConfig) *Session {
	t.Helper()
	if cfg.timeout == 0 {
		cfg.timeout = 5 * time.Second
	}
	res, err := handshake(context.Background(), dial(t, addr), cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { res.Conn.Close() })
	return res
}

// ping checks that application data flows both ways over res.Conn.
func ping(t testing.TB, res *Session) {
	t.Helper()
	res.Conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(res.Conn, "ping\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(res.Conn).ReadString('\n')
	if err != nil || line != "pong ping\n" {
		t.Fatalf("read %q, %v; want %q", line, err, "pong ping\n")
	}
}

func parseHello(t testing.TB, msg []byte) *tlsmitm.ClientHello {
	t.Helper()
	ch, err := tlsmitm.ParseClientHello(msg)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return ch
}

func withoutGREASE[T ~uint16](vals []T) []T {
	return slices.DeleteFunc(slices.Clone(vals), func(v T) bool { return isGREASE(uint16(v)) })
}

func shareGroups(ch *tlsmitm.ClientHello) []tlsmitm.Group {
	var gs []tlsmitm.Group
	for _, ks := range ch.KeyShares {
		gs = append(gs, ks.Group)
	}
	return withoutGREASE(gs)
}

// TestHandshakeMirrors sends each client's own hello through the
// handshake and checks the origin received the same hello, field by
// field, and that the connection works.
func TestHandshakeMirrors(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	for _, client := range testClients {
		t.Run(client.name, func(t *testing.T) {
			sent := parseHello(t, captureHello(t, client.handshake))
			res := handshakeWith(t, o.addr, handshakeConfig{
				serverName: sent.ServerName,
				hello:      sent,
				roots:      pki.roots,
			})
			if !res.Mirrored || res.MirrorErr != nil {
				t.Fatalf("Mirrored = %v, MirrorErr = %v", res.Mirrored, res.MirrorErr)
			}
			if res.VerifyErr != nil {
				t.Errorf("VerifyErr = %v", res.VerifyErr)
			}
			seen := o.last(t)
			got := parseHello(t, seen.raw)
			if tlsmitm.JA4(got) != tlsmitm.JA4(sent) {
				t.Errorf("origin saw JA4 %s, client sent %s", tlsmitm.JA4(got), tlsmitm.JA4(sent))
			}
			same := func(what string, equal bool, got, sent any) {
				if !equal {
					t.Errorf("%s: origin saw %v, client sent %v", what, got, sent)
				}
			}
			same("cipher suites", slices.Equal(withoutGREASE(got.CipherSuites), withoutGREASE(sent.CipherSuites)), got.CipherSuites, sent.CipherSuites)
			same("extensions in order", slices.Equal(withoutGREASE(got.Extensions), withoutGREASE(sent.Extensions)), got.Extensions, sent.Extensions)
			same("supported groups", slices.Equal(withoutGREASE(got.Groups), withoutGREASE(sent.Groups)), got.Groups, sent.Groups)
			same("key share groups", slices.Equal(shareGroups(got), shareGroups(sent)), shareGroups(got), shareGroups(sent))
			same("signature algorithms", slices.Equal(withoutGREASE(got.SignatureSchemes), withoutGREASE(sent.SignatureSchemes)), got.SignatureSchemes, sent.SignatureSchemes)
			same("supported versions", slices.Equal(withoutGREASE(got.SupportedVersions), withoutGREASE(sent.SupportedVersions)), got.SupportedVersions, sent.SupportedVersions)
			same("ALPN", slices.Equal(got.ALPNProtocols, sent.ALPNProtocols), got.ALPNProtocols, sent.ALPNProtocols)
			same("PSK modes", slices.Equal(got.PSKModes, sent.PSKModes), got.PSKModes, sent.PSKModes)
			same("hello length", len(got.Raw) == len(sent.Raw), len(got.Raw), len(sent.Raw))
			if slices.Equal(got.Random, sent.Random) || slices.EqualFunc(got.KeyShares, sent.KeyShares, func(a, b tlsmitm.KeyShare) bool { return string(a.Data) == string(b.Data) }) {
				t.Error("the origin saw the client's random or key shares")
			}
			if seen.serverName != originName {
				t.Errorf("origin saw SNI %q", seen.serverName)
			}
			if res.NegotiatedProtocol != "h2" || res.Version != tls.VersionTLS13 || res.CipherSuite == 0 {
				t.Errorf("negotiated %q, version %#x, suite %#x", res.NegotiatedProtocol, res.Version, res.CipherSuite)
			}
			if len(res.PeerCertificates) != 2 || res.PeerCertificates[0].Subject.CommonName != originName {
				t.Errorf("peer certificates %d", len(res.PeerCertificates))
			}
			ping(t, res)
		})
	}
}

// chromeHello is a fresh Chrome hello for origin.test, parsed as tlsmitm
// hands it over.
func chromeHello(t testing.TB) *tlsmitm.ClientHello {
	return parseHello(t, captureHello(t, utlsClient(utls.HelloChrome_Auto)))
}

func TestHandshakeVerify(t *testing.T) {
	pki := newTestPKI(t)
	now := time.Now()
	good := newOrigin(t, pki.validLeaf(t)).addr
	expired := newOrigin(t, pki.leaf(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), originName)).addr
	tests := []struct {
		name       string
		addr       string
		serverName string
		roots      *x509.CertPool
		wantErr    func(error) bool
		wantText   string
	}{
		{name: "valid", addr: good, serverName: originName, roots: pki.roots},
		{name: "valid for the IP without SNI", addr: good, serverName: "", roots: pki.roots},
		{name: "valid for an IP server name", addr: good, serverName: "127.0.0.1", roots: pki.roots},
		{name: "expired", addr: expired, serverName: originName, roots: pki.roots, wantErr: func(err error) bool {
			var ce x509.CertificateInvalidError
			return errors.As(err, &ce) && ce.Reason == x509.Expired
		}, wantText: "expired"},
		{name: "wrong name", addr: good, serverName: "other.test", roots: pki.roots, wantErr: func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}, wantText: "other.test"},
		{name: "unknown authority", addr: good, serverName: originName, roots: x509.NewCertPool(), wantErr: func(err error) bool {
			var ue x509.UnknownAuthorityError
			return errors.As(err, &ue)
		}, wantText: "unknown authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handshakeWith(t, tc.addr, handshakeConfig{
				serverName: tc.serverName,
				hello:      chromeHello(t),
				roots:      tc.roots,
			})
			switch {
			case tc.wantErr == nil && res.VerifyErr != nil:
				t.Errorf("VerifyErr = %v", res.VerifyErr)
			case tc.wantErr != nil && (res.VerifyErr == nil || !tc.wantErr(res.VerifyErr)):
				t.Errorf("VerifyErr = %#v", res.VerifyErr)
			case tc.wantErr != nil && !strings.Contains(res.VerifyErr.Error(), tc.wantText):
				t.Errorf("VerifyErr %q does not mention %q", res.VerifyErr, tc.wantText)
			}
			if len(res.PeerCertificates) == 0 {
				t.Error("no peer certificates")
			}
			ping(t, res)
		})
	}
}

func TestHandshakeSNI(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	for _, name := range []string{"", "127.0.0.1"} {
		handshakeWith(t, o.addr, handshakeConfig{serverName: name, hello: chromeHello(t), roots: pki.roots})
		seen := o.last(t)
		if seen.serverName != "" || slices.Contains(parseHello(t, seen.raw).Extensions, extServerName) {
			t.Errorf("ServerName %q: the origin saw SNI %q", name, seen.serverName)
		}
	}
	// A name the client did not send is added.
	h := tlstest.ParseClientHello(t, chromeHello(t).Raw).Without(t, extServerName)
	handshakeWith(t, o.addr, handshakeConfig{serverName: originName, hello: parseHello(t, h.Message()), roots: pki.roots})
	if seen := o.last(t); seen.serverName != originName {
		t.Errorf("origin saw SNI %q, want %q", seen.serverName, originName)
	}
}

func TestHandshakeALPN(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	tests := []struct {
		name       string
		nextProtos []string
		wantOffer  []string
		want       string
	}{
		{"client's offer", nil, []string{"h2", "http/1.1"}, "h2"},
		{"override", []string{"http/1.1"}, []string{"http/1.1"}, "http/1.1"},
		{"none", []string{}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handshakeWith(t, o.addr, handshakeConfig{
				serverName: originName, hello: chromeHello(t), roots: pki.roots, nextProtos: tc.nextProtos,
			})
			if got := o.last(t).protos; !slices.Equal(got, tc.wantOffer) {
				t.Errorf("origin saw ALPN %q, want %q", got, tc.wantOffer)
			}
			if res.NegotiatedProtocol != tc.want {
				t.Errorf("negotiated %q, want %q", res.NegotiatedProtocol, tc.want)
			}
			ping(t, res)
		})
	}
}

// TestHandshakeRemoves sends a hello carrying what cannot be forwarded
// and checks the origin sees the rest of it.
func TestHandshakeRemoves(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	const secP256r1MLKEM768 = 0x11eb // a hybrid group uTLS does not implement
	h := tlstest.ParseClientHello(t, captureHello(t, testClients[0].handshake))
	ch := parseHello(t, h.Message())
	groups := withoutGREASE(ch.Groups)
	if !slices.Contains(groups, secP256r1MLKEM768) {
		groups = append([]tlsmitm.Group{secP256r1MLKEM768}, groups...)
	}
	shares := append(putU16(putU16(nil, secP256r1MLKEM768), 65), make([]byte, 65)...)
	for _, ks := range ch.KeyShares {
		shares = append(putU16(putU16(shares, uint16(ks.Group)), uint16(len(ks.Data))), ks.Data...)
	}
	var groupList []uint16
	for _, g := range groups {
		groupList = append(groupList, uint16(g))
	}
	h.Set(extSupportedGroups, u16List(groupList...))
	h.Set(extKeyShare, append(putU16(nil, uint16(len(shares))), shares...))
	h.Set(extEarlyData, nil)
	h.Set(extCookie, u16List(1, 2, 3))
	h.Set(extEncryptThenMAC, nil)
	// pre_shared_key, last: one identity, one 32-byte binder.
	identity := append(putU16(nil, 4), "tckt\x00\x00\x00\x01"...)
	binder := append([]byte{32}, make([]byte, 32)...)
	h.Set(extPreSharedKey, slices.Concat(putU16(nil, uint16(len(identity))), identity, putU16(nil, uint16(len(binder))), binder))
	sent := parseHello(t, h.Message())

	res := handshakeWith(t, o.addr, handshakeConfig{serverName: originName, hello: sent, roots: pki.roots})
	if !res.Mirrored {
		t.Fatalf("not mirrored: %v", res.MirrorErr)
	}
	got := parseHello(t, o.last(t).raw)
	removed := []uint16{extEarlyData, extCookie, extEncryptThenMAC, extPreSharedKey}
	want := slices.DeleteFunc(slices.Clone(sent.Extensions), func(e uint16) bool { return slices.Contains(removed, e) })
	if !slices.Equal(got.Extensions, want) {
		t.Errorf("origin saw extensions %v, want %v", got.Extensions, want)
	}
	if slices.Contains(got.Groups, secP256r1MLKEM768) || slices.Contains(shareGroups(got), secP256r1MLKEM768) {
		t.Errorf("origin saw groups %v, shares %v", got.Groups, shareGroups(got))
	}
	wantGroups := slices.DeleteFunc(groups, func(g tlsmitm.Group) bool { return g == secP256r1MLKEM768 })
	if !slices.Equal(got.Groups, wantGroups) || !slices.Equal(shareGroups(got), shareGroups(ch)) {
		t.Errorf("origin saw groups %v and shares %v, want %v and %v", got.Groups, shareGroups(got), wantGroups, shareGroups(ch))
	}
	ping(t, res)
}

func TestHandshakeFallback(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	// An inner encrypted_client_hello never goes on the wire; our parser
	// ignores its body, uTLS refuses to fingerprint it.
	innerECH := parseHello(t, tlstest.ParseClientHello(t, chromeHello(t).Raw).Set(0xfe0d, []byte{1}).Message())
	// A hello whose Raw uTLS cannot read at all, and so no offer either.
	corrupt := func(raw []byte) *tlsmitm.ClientHello { return &tlsmitm.ClientHello{Raw: raw} }
	tests := []struct {
		name       string
		hello      *tlsmitm.ClientHello
		nextProtos []string
		want       string
	}{
		{"corrupt hello", corrupt([]byte{1, 0, 0, 2, 3, 3}), nil, ""},
		{"corrupt hello, ALPN from the caller", corrupt([]byte("not a hello")), []string{"http/1.1"}, "http/1.1"},
		{"hello uTLS cannot fingerprint", innerECH, nil, "h2"},
		{"no hello", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handshakeWith(t, o.addr, handshakeConfig{
				serverName: originName, hello: tc.hello, roots: pki.roots, nextProtos: tc.nextProtos,
			})
			if res.Mirrored || res.MirrorErr == nil {
				t.Fatalf("Mirrored = %v, MirrorErr = %v", res.Mirrored, res.MirrorErr)
			}
			t.Logf("MirrorErr: %v", res.MirrorErr)
			if res.VerifyErr != nil || res.NegotiatedProtocol != tc.want {
				t.Errorf("VerifyErr %v, negotiated %q, want %q", res.VerifyErr, res.NegotiatedProtocol, tc.want)
			}
			if got := parseHello(t, o.last(t).raw); got.ServerName != originName {
				t.Errorf("preset hello has SNI %q", got.ServerName)
			}
			ping(t, res)
		})
	}
}

func TestHandshakeFails(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		origin  func(net.Conn)
	}{
		{"origin closes at once", 0, func(net.Conn) {}},
		{"origin resets after the hello", 0, func(c net.Conn) {
			io.ReadFull(c, make([]byte, recordHeaderLen))
			c.(*net.TCPConn).SetLinger(0) // close sends RST
		}},
		{"origin answers garbage", 0, func(c net.Conn) {
			io.ReadFull(c, make([]byte, recordHeaderLen))
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		}},
		{"origin never answers", 200 * time.Millisecond, func(c net.Conn) {
			io.Copy(io.Discard, c)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.origin)
			conn := dial(t, addr)
			timeout := cmpOr(tc.timeout, 5*time.Second)
			start := time.Now()
			res, err := handshake(context.Background(), conn, handshakeConfig{
				serverName: originName, hello: chromeHello(t), timeout: timeout,
			})
			if err == nil {
				res.Conn.Close()
				t.Fatal("the handshake succeeded")
			}
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), originName) {
				t.Errorf("error %q does not wrap ErrHandshake or name the origin", err)
			}
			if time.Since(start) > timeout+time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if _, werr := conn.Write([]byte{0}); werr == nil {
				t.Error("conn is still open")
			}
			t.Logf("error: %v", err)
		})
	}
	t.Run("context canceled", func(t *testing.T) {
		conn := dial(t, serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := handshake(ctx, conn, handshakeConfig{serverName: originName, hello: chromeHello(t)})
		if !errors.Is(err, ErrHandshake) || !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	})
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func TestHandshakeResumes(t *testing.T) {
	pki := newTestPKI(t)
	cert := pki.validLeaf(t)
	tls12 := func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }
	tests := []struct {
		name string
		opts []func(*tls.Config)
		// wantPSK: TLS 1.3 resumes with the pre_shared_key extension
		// the handshake appends; TLS 1.2 with the client's session_ticket.
		wantPSK bool
	}{
		{"TLS 1.3", nil, true},
		{"TLS 1.2", []func(*tls.Config){tls12}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, cert, tc.opts...)
			cache := utls.NewLRUClientSessionCache(8)
			cfg := func() handshakeConfig {
				return handshakeConfig{serverName: originName, hello: chromeHello(t), roots: pki.roots, sessions: cache}
			}

			first := handshakeWith(t, o.addr, cfg())
			ping(t, first) // reading processes a TLS 1.3 NewSessionTicket
			if first.DidResume || offersTicket(t, o.last(t).raw) {
				t.Fatal("first connection offered a ticket")
			}

			c := cfg()
			second := handshakeWith(t, o.addr, c)
			if !second.DidResume || !offersTicket(t, o.last(t).raw) {
				t.Fatalf("second connection: resumed %v, offered a ticket %v", second.DidResume, offersTicket(t, o.last(t).raw))
			}
			got := parseHello(t, o.last(t).raw)
			want := withoutGREASE(c.hello.Extensions)
			if tc.wantPSK {
				want = append(want, extPreSharedKey)
			}
			if !slices.Equal(withoutGREASE(got.Extensions), want) {
				t.Errorf("resuming hello has extensions %v, want %v", got.Extensions, want)
			}
			if second.VerifyErr != nil || len(second.PeerCertificates) == 0 {
				t.Errorf("resumed: VerifyErr %v, %d certificates", second.VerifyErr, len(second.PeerCertificates))
			}
			ping(t, second)

			// The same name at another address gets no ticket.
			other := newOrigin(t, cert, tc.opts...)
			third := handshakeWith(t, other.addr, cfg())
			if third.DidResume || offersTicket(t, other.last(t).raw) {
				t.Error("a ticket went to another address")
			}
		})
	}
}

// offersTicket reports whether a hello offers a ticket: a TLS 1.3
// pre_shared_key or a non-empty TLS 1.2 session_ticket.
func offersTicket(t testing.TB, msg []byte) bool {
	h := tlstest.ParseClientHello(t, msg)
	i := h.Find(extSessionTicket)
	return h.Find(extPreSharedKey) >= 0 || i >= 0 && len(h.Extensions[i].Data) > 0
}

// TestHandshakeKeepsPadding sends a hello that uTLS makes longer (it
// always sends a 32-byte session ID): the padding extension must stay, if
// empty, so the origin still sees every extension the client sent.
func TestHandshakeKeepsPadding(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	h := tlstest.ParseClientHello(t, clienthellos.Record("6-utls-safari.bin")[recordHeaderLen:])
	h.SessionID = nil
	h.Set(extPadding, nil)
	sent := parseHello(t, h.Message())

	res := handshakeWith(t, o.addr, handshakeConfig{serverName: sent.ServerName, hello: sent, roots: pki.roots})
	got := parseHello(t, o.last(t).raw)
	if !slices.Equal(withoutGREASE(got.Extensions), withoutGREASE(sent.Extensions)) {
		t.Errorf("origin saw extensions %v, client sent %v", got.Extensions, sent.Extensions)
	}
	if tlsmitm.JA4(got) != tlsmitm.JA4(sent) {
		t.Errorf("origin saw JA4 %s, client sent %s", tlsmitm.JA4(got), tlsmitm.JA4(sent))
	}
	ping(t, res)
}
