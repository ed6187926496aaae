package tlsmitm

import (
	"bytes"
	stdzlib "compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	utls "github.com/refraction-networking/utls"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// testChain is a leaf signed by an intermediate signed by a root, the shape
// of a public CA's chain: Chain holds the leaf and the intermediate.
type testChain struct {
	cert *Certificate
	root *x509.Certificate
}

var realisticChain = sync.OnceValue(func() testChain {
	now := time.Now()
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Lucid Test Trust Services"}, CommonName: "Lucid Test Root X1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		panic(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Lucid Test Trust Services"}, CommonName: "Lucid Test Issuing CA E1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		OCSPServer:            []string{"http://ocsp.test.lucid.example"},
		IssuingCertificateURL: []string{"http://x1.i.test.lucid.example/"},
		CRLDistributionPoints: []string{"http://x1.c.test.lucid.example/"},
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		panic(err)
	}
	inter, _ := x509.ParseCertificate(interDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost", "www.localhost", "api.localhost", "static.localhost"},
		OCSPServer:            []string{"http://e1.o.test.lucid.example"},
		IssuingCertificateURL: []string{"http://e1.i.test.lucid.example/"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, inter, leafKey.Public(), interKey)
	if err != nil {
		panic(err)
	}
	return testChain{cert: &Certificate{Chain: [][]byte{leafDER, interDER}, PrivateKey: leafKey}, root: root}
})

func chainRoots(tc testChain) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(tc.root)
	return pool
}

// decompressCertificate undoes a CompressedCertificate message with the
// reference decoders and returns the Certificate message, header included.
func decompressCertificate(t testing.TB, msg []byte) (uint16, []byte) {
	t.Helper()
	if len(msg) < 12 || msg[0] != typeCompressedCertificate {
		t.Fatalf("not a CompressedCertificate: % x", msg[:min(len(msg), 12)])
	}
	if n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]); n != len(msg)-4 {
		t.Fatalf("message length %d, have %d", n, len(msg)-4)
	}
	alg := uint16(msg[4])<<8 | uint16(msg[5])
	ulen := int(msg[6])<<16 | int(msg[7])<<8 | int(msg[8])
	clen := int(msg[9])<<16 | int(msg[10])<<8 | int(msg[11])
	if clen != len(msg)-12 || clen == 0 {
		t.Fatalf("compressed length %d, have %d", clen, len(msg)-12)
	}
	src := bytes.NewReader(msg[12:])
	var r io.Reader
	switch alg {
	case CertCompressionZlib:
		zr, err := stdzlib.NewReader(src)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case CertCompressionBrotli:
		r = brotli.NewReader(src)
	case CertCompressionZstd:
		zr, err := zstd.NewReader(src)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("algorithm %d", alg)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompressing algorithm %d: %v", alg, err)
	}
	if len(body) != ulen {
		t.Fatalf("uncompressed_length %d, decompressed %d", ulen, len(body))
	}
	return alg, append([]byte{typeCertificate, byte(ulen >> 16), byte(ulen >> 8), byte(ulen)}, body...)
}

func TestCompressedCertificateRoundTrip(t *testing.T) {
	chains := map[string]*Certificate{"leaf+intermediate": realisticChain().cert, "self-signed RSA": rsaCert}
	for name, cert := range chains {
		plain := appendCertificate(nil, cert.Chain)
		for _, alg := range DefaultCertCompression {
			msg := compressedCertificateMessage(plain, alg)
			if msg == nil {
				t.Fatalf("%s: algorithm %d did not compress a %d-byte chain", name, alg, len(plain))
			}
			got, back := decompressCertificate(t, msg)
			if got != alg {
				t.Errorf("%s: algorithm field %d, want %d", name, got, alg)
			}
			if !bytes.Equal(back, plain) {
				t.Errorf("%s: algorithm %d does not round-trip", name, alg)
			}
			t.Logf("%s: algorithm %d: %d -> %d bytes", name, alg, len(plain), len(msg))
		}
	}
}

func TestCompressedCertificateNotSmaller(t *testing.T) {
	noise := make([]byte, 2000)
	rand.Read(noise)
	plain := appendCertificate(nil, [][]byte{noise})
	cache := NewCertCompressionCache(4)
	for _, alg := range DefaultCertCompression {
		for range 2 {
			if msg := cache.get(plain, alg); msg != nil {
				t.Fatalf("algorithm %d: incompressible chain compressed to %d bytes", alg, len(msg))
			}
		}
	}
	if st := cache.Stats(); st.Compressions != 3 || st.Hits != 3 {
		t.Fatalf("stats %+v: want each algorithm tried once", st)
	}
}

func TestCertCompressionCacheEvicts(t *testing.T) {
	cache := NewCertCompressionCache(2)
	msgs := make([][]byte, 3)
	for i := range msgs {
		msgs[i] = appendCertificate(nil, [][]byte{bytes.Repeat([]byte{byte('a' + i)}, 500)})
		cache.get(msgs[i], CertCompressionZlib)
	}
	if st := cache.Stats(); st.Entries != 2 || st.Compressions != 3 {
		t.Fatalf("stats %+v", st)
	}
	cache.get(msgs[2], CertCompressionZlib) // still cached
	cache.get(msgs[0], CertCompressionZlib) // evicted: compressed again
	if st := cache.Stats(); st.Compressions != 4 || st.Hits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCertCompressionCacheConcurrent(t *testing.T) {
	cache := NewCertCompressionCache(8)
	plain := appendCertificate(nil, realisticChain().cert.Chain)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for _, alg := range DefaultCertCompression {
				if cache.get(plain, alg) == nil {
					t.Error("no compressed message")
				}
			}
		})
	}
	wg.Wait()
	if st := cache.Stats(); st.Compressions != 3 || st.Hits != 45 {
		t.Fatalf("stats %+v: want one compression per algorithm", st)
	}
}

func TestChooseCertCompression(t *testing.T) {
	for _, tc := range []struct {
		ours, offered []uint16
		want          uint16
	}{
		{DefaultCertCompression, nil, 0},
		{DefaultCertCompression, []uint16{CertCompressionBrotli}, CertCompressionBrotli},
		{DefaultCertCompression, []uint16{CertCompressionZlib, CertCompressionBrotli, CertCompressionZstd}, CertCompressionZstd},
		{DefaultCertCompression, []uint16{0x0a0a, 0x4242}, 0},
		{[]uint16{}, []uint16{CertCompressionBrotli}, 0},
		{[]uint16{CertCompressionZlib, CertCompressionBrotli}, []uint16{CertCompressionBrotli, CertCompressionZlib}, CertCompressionZlib},
		{[]uint16{0x4242, CertCompressionZlib}, []uint16{0x4242, CertCompressionZlib}, CertCompressionZlib},
	} {
		if got := chooseCertCompression(tc.ours, tc.offered); got != tc.want {
			t.Errorf("choose(%v, %v) = %d, want %d", tc.ours, tc.offered, got, tc.want)
		}
	}
}

func TestClientHelloCompressCertificate(t *testing.T) {
	vec8 := func(vals ...uint16) []byte {
		b := []byte{byte(2 * len(vals))}
		for _, v := range vals {
			b = putU16(b, v)
		}
		return b
	}
	h := tlstest.ParseClientHello(t, goHello(t))
	h.Set(extCompressCertificate, vec8(CertCompressionZlib, CertCompressionBrotli, CertCompressionZstd, 0x1a1a, 7))
	ch, err := ParseClientHello(h.Message())
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{1, 2, 3, 0x1a1a, 7}
	if len(ch.CertCompression) != len(want) {
		t.Fatalf("CertCompression = %v", ch.CertCompression)
	}
	for i := range want {
		if ch.CertCompression[i] != want[i] {
			t.Fatalf("CertCompression = %v", ch.CertCompression)
		}
	}
	for name, data := range map[string][]byte{
		"empty list":       {0},
		"odd length":       {3, 0, 1, 0},
		"truncated":        {4, 0, 1},
		"trailing byte":    {2, 0, 1, 9},
		"no vector at all": {},
	} {
		h := tlstest.ParseClientHello(t, goHello(t)).Set(extCompressCertificate, data)
		_, err := ParseClientHello(h.Message())
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantAlert(t, err, AlertDecodeError)
	}
}

// serveOnce runs one handshake and echo over a pipe against client and
// returns the server's view of the connection.
func serveOnce(t *testing.T, cfg *Config, client func(net.Conn) error) ConnectionState {
	t.Helper()
	cn, sn := net.Pipe()
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- serveEcho(sn, srv); sn.Close() }()
	if err := client(cn); err != nil {
		cn.Close()
		<-done
		t.Fatalf("client: %v", err)
	}
	cn.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	return srv.State()
}

func utlsEcho(id utls.ClientHelloID, roots *x509.CertPool, spec func(*utls.ClientHelloSpec)) func(net.Conn) error {
	return func(nc net.Conn) error {
		cfg := &utls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}}
		uc := utls.UClient(nc, cfg, id)
		if spec != nil {
			s, err := utls.UTLSIdToSpec(id)
			if err != nil {
				return err
			}
			spec(&s)
			uc = utls.UClient(nc, cfg, utls.HelloCustom)
			if err := uc.ApplyPreset(&s); err != nil {
				return err
			}
		}
		if err := uc.Handshake(); err != nil {
			return err
		}
		return echoOnce(uc)
	}
}

func echoOnce(c io.ReadWriter) error {
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != "ping" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestCertCompressionInterop(t *testing.T) {
	tc := realisticChain()
	roots := chainRoots(tc)
	offerAll := func(s *utls.ClientHelloSpec) {
		for i, e := range s.Extensions {
			if _, ok := e.(*utls.UtlsCompressCertExtension); ok {
				s.Extensions[i] = &utls.UtlsCompressCertExtension{Algorithms: []utls.CertCompressionAlgo{
					utls.CertCompressionZlib, utls.CertCompressionBrotli, utls.CertCompressionZstd}}
			}
		}
	}
	onlyZlib := func(s *utls.ClientHelloSpec) {
		for i, e := range s.Extensions {
			if _, ok := e.(*utls.UtlsCompressCertExtension); ok {
				s.Extensions[i] = &utls.UtlsCompressCertExtension{Algorithms: []utls.CertCompressionAlgo{utls.CertCompressionZlib}}
			}
		}
	}
	goClient := func(nc net.Conn) error {
		c := tls.Client(nc, &tls.Config{ServerName: "localhost", RootCAs: roots})
		if err := c.Handshake(); err != nil {
			return err
		}
		return echoOnce(c)
	}
	cases := []struct {
		name   string
		client func(net.Conn) error
		want   uint16
	}{
		{"uTLS HelloChrome_Auto", utlsEcho(utls.HelloChrome_Auto, roots, nil), CertCompressionBrotli},
		{"uTLS HelloEdge_Auto", utlsEcho(utls.HelloEdge_Auto, roots, nil), CertCompressionBrotli},
		{"uTLS HelloSafari_Auto", utlsEcho(utls.HelloSafari_Auto, roots, nil), CertCompressionZlib},
		{"uTLS Chrome offering zlib, brotli, zstd", utlsEcho(utls.HelloChrome_Auto, roots, offerAll), CertCompressionZstd},
		{"uTLS Chrome offering zlib", utlsEcho(utls.HelloChrome_Auto, roots, onlyZlib), CertCompressionZlib},
		{"uTLS HelloFirefox_Auto", utlsEcho(utls.HelloFirefox_Auto, roots, nil), 0},
		{"Go crypto/tls", goClient, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := staticConfig(tc.cert)
			cfg.CertCompressionCache = NewCertCompressionCache(8)
			st := serveOnce(t, cfg, c.client)
			if st.CertCompression != c.want {
				t.Fatalf("CertCompression = %d, want %d", st.CertCompression, c.want)
			}
		})
	}
}

func TestCertCompressionDisabled(t *testing.T) {
	tc := realisticChain()
	cfg := staticConfig(tc.cert)
	cfg.CertCompression = []uint16{}
	cfg.CertCompressionCache = NewCertCompressionCache(8)
	st := serveOnce(t, cfg, utlsEcho(utls.HelloChrome_Auto, chainRoots(tc), nil))
	if st.CertCompression != 0 {
		t.Fatalf("CertCompression = %d with compression disabled", st.CertCompression)
	}
	if s := cfg.CertCompressionCache.Stats(); s.Compressions != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCertCompressionCachedAcrossHandshakes(t *testing.T) {
	tc := realisticChain()
	cfg := staticConfig(tc.cert)
	cfg.CertCompressionCache = NewCertCompressionCache(8)
	for range 3 {
		st := serveOnce(t, cfg, utlsEcho(utls.HelloChrome_Auto, chainRoots(tc), nil))
		if st.CertCompression != CertCompressionBrotli {
			t.Fatalf("CertCompression = %d", st.CertCompression)
		}
	}
	if s := cfg.CertCompressionCache.Stats(); s.Compressions != 1 || s.Hits != 2 || s.Entries != 1 {
		t.Fatalf("stats %+v: want one compression for three handshakes", s)
	}
}

// The pending-certificate path (SetCertificate) compresses too.
func TestCertCompressionPending(t *testing.T) {
	tc := realisticChain()
	cfg := staticConfig(tc.cert)
	cfg.CertCompressionCache = NewCertCompressionCache(8)
	cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil }
	cn, sn := net.Pipe()
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- servePending(sn, srv, tc.cert); sn.Close() }()
	if err := utlsEcho(utls.HelloChrome_Auto, chainRoots(tc), nil)(cn); err != nil {
		t.Fatalf("client: %v", err)
	}
	cn.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if st := srv.State(); st.CertCompression != CertCompressionBrotli {
		t.Fatalf("CertCompression = %d", st.CertCompression)
	}
}

// servePending answers the first pending event with SetCertificate, then
// echoes like serveEcho.
func servePending(nc net.Conn, c *Conn, cert *Certificate) error {
	in := make([]byte, 0, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		k, err := nc.Read(buf)
		if err != nil {
			return err
		}
		in = append(in, buf[:k]...)
		res, perr := c.Process(in, nil)
		in = in[:copy(in, in[res.Consumed:])]
		if perr != nil {
			return perr
		}
		if len(res.Out) > 0 {
			nc.Write(res.Out)
		}
		if res.Event == EventPending {
			out, err := c.SetCertificate(cert, nil)
			if err != nil {
				return err
			}
			if _, err := nc.Write(out); err != nil {
				return err
			}
			rest := &prefixConn{Conn: nc, pre: in}
			return serveEcho(rest, c)
		}
	}
}

// prefixConn replays bytes already read before reading from Conn.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// The captured hellos offer what their browsers offer.
func TestCertCompressionHelloFiles(t *testing.T) {
	want := map[string][]uint16{
		"1-go126.bin":           nil,
		"4-utls-chrome133.bin":  {CertCompressionBrotli},
		"6-utls-safari.bin":     {CertCompressionZlib},
		"8-utls-edge.bin":       {CertCompressionBrotli},
		"9-chromium156.bin":     {CertCompressionBrotli},
		"10-firefox-esr153.bin": {CertCompressionZlib, CertCompressionBrotli, CertCompressionZstd},
	}
	for name, algs := range want {
		_, body := readHelloRecord(t, name)
		ch, err := ParseClientHello(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(ch.CertCompression, algs) {
			t.Errorf("%s: CertCompression = %v, want %v", name, ch.CertCompression, algs)
		}
	}
}
