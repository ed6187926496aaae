package certcache_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// pki is an organisation's root and intermediate, and an origin's
// certificate as a public CA would have issued it.
type pki struct {
	root   *x509.Certificate
	issuer *certcache.Issuer
	origin *x509.Certificate
}

func newPKI(t testing.TB, originNames ...string) *pki {
	t.Helper()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, rootKey.Public(), rootKey)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inter := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Acme Inspection CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, root, interKey.Public(), rootKey)
	originKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	origin := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: originNames[0], Organization: []string{"Origin Inc"}},
		DNSNames: originNames, NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, nil, originKey.Public(), originKey)
	return &pki{
		root:   root,
		origin: origin,
		issuer: &certcache.Issuer{Cert: inter, Chain: [][]byte{inter.Raw}, Signer: interKey, CRLURL: "http://ca.lucid.test/crl/acme"},
	}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mintFor is the MintFunc an edge passes when policy allows every name of
// the origin: the leaf for this origin and SNI, followed by the
// organisation's chain.
func (p *pki) mintFor(sni string) certcache.MintFunc {
	return p.issuer.MintFunc(p.origin, sni, p.origin.DNSNames)
}

// mintOnLoop mints through the cache and waits for the result, running
// the cache's loop work on this goroutine.
func mintOnLoop(t testing.TB, c *certcache.Cache, q chan func(), k certcache.Key, mint certcache.MintFunc) *certcache.Leaf {
	var leaf *certcache.Leaf
	var err error
	c.Mint(k, time.Now(), mint, func(l *certcache.Leaf, e error) { leaf, err = l, e })
	(<-q)()
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestMintedLeafServesARealHandshake: a leaf minted through the cache is
// served by Lucid's TLS server, and a Go client that trusts only the
// organisation's root accepts it for the SNI.
func TestMintedLeafServesARealHandshake(t *testing.T) {
	p := newPKI(t, "www.origin.test", "origin.test")
	q := make(chan func(), 16)
	c := certcache.New(certcache.Config{RunOnLoop: func(f func()) { q <- f }})
	sni := "www.origin.test"
	k := certcache.Key{Org: "acme", Name: sni, Origin: sha256.Sum256(p.origin.Raw)}
	leaf := mintOnLoop(t, c, q, k, p.mintFor(sni))
	if c.Get(k, time.Now()) != leaf {
		t.Fatal("the minted leaf is not served from the cache")
	}

	srv := tlsmitm.NewServer(&tlsmitm.Config{GetCertificate: func(*tlsmitm.ClientHello) (*tlsmitm.Certificate, error) {
		return &tlsmitm.Certificate{Chain: leaf.Chain, PrivateKey: leaf.Key.Signer}, nil
	}})
	cn, sn := net.Pipe()
	go serve(sn, srv)
	roots := x509.NewCertPool()
	roots.AddCert(p.root)
	cl := tls.Client(cn, &tls.Config{ServerName: sni, RootCAs: roots})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("a client trusting the organisation's root refused the minted leaf: %v", err)
	}
	got := cl.ConnectionState().PeerCertificates
	if len(got) != 2 || got[0].Subject.CommonName != "www.origin.test" || got[1].Subject.CommonName != "Acme Inspection CA" {
		t.Fatalf("served chain %v", got)
	}
	cl.Close()
}

// serve runs a server Conn over a net.Conn until the handshake is done.
func serve(nc net.Conn, c *tlsmitm.Conn) {
	defer nc.Close()
	in := make([]byte, 0, 1<<16)
	buf := make([]byte, 1<<15)
	for {
		n, err := nc.Read(buf)
		in = append(in, buf[:n]...)
		for {
			res, perr := c.Process(in, nil)
			in = in[:copy(in, in[res.Consumed:])]
			if len(res.Out) > 0 {
				nc.Write(res.Out)
			}
			if perr != nil || res.Event == tlsmitm.EventHandshakeDone {
				io.Copy(io.Discard, nc)
				return
			}
			if res.Event == tlsmitm.EventNeedMore {
				break
			}
		}
		if err != nil {
			return
		}
	}
}

// BenchmarkMintMiss is one cache miss: mint a leaf with the organisation's
// ECDSA P-256 intermediate and land it in the cache. The goal is at most an
// ECDSA signature plus 20 µs; BenchmarkECDSASignP256 is that signature.
func BenchmarkMintMiss(b *testing.B) {
	p := newPKI(b, "www.origin.test")
	q := make(chan func(), 16)
	c := certcache.New(certcache.Config{RunOnLoop: func(f func()) { q <- f }, MaxEntries: 1 << 20})
	mint := p.mintFor("www.origin.test")
	origin := sha256.Sum256(p.origin.Raw)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := certcache.Key{Org: "acme", Name: "www.origin.test", Origin: origin}
		k.Origin[0] = byte(i)
		k.Origin[1] = byte(i >> 8)
		k.Origin[2] = byte(i >> 16)
		mintOnLoop(b, c, q, k, mint)
	}
}

func BenchmarkECDSASignP256(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("tbs"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
