package certcache_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/certcache"
)

// mintFuzzNow is the fuzz target's clock: the seed origins of
// testdata/origins are valid around it (one expired, one not yet valid).
var mintFuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// mintFuzzPKI is an organisation's root and ECDSA P-256 intermediate valid
// for this whole century, and a leaf key.
type mintFuzzPKI struct {
	roots, inters *x509.CertPool
	issuer        *certcache.Issuer
	leafKey       *ecdsa.PrivateKey
}

var mintFuzzSetup = sync.OnceValues(func() (*mintFuzzPKI, error) {
	var keys [3]*ecdsa.PrivateKey
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	rootTmpl := ca("Fuzz Root")
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &keys[0].PublicKey, keys[0])
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	interDER, err := x509.CreateCertificate(rand.Reader, ca("Fuzz Intermediate"), root, &keys[1].PublicKey, keys[0])
	if err != nil {
		return nil, err
	}
	inter, err := x509.ParseCertificate(interDER)
	if err != nil {
		return nil, err
	}
	p := &mintFuzzPKI{
		roots:   x509.NewCertPool(),
		inters:  x509.NewCertPool(),
		issuer:  &certcache.Issuer{Cert: inter, Chain: [][]byte{interDER}, Signer: keys[1], CRLURL: "http://ca.lucid.test/crl/fuzz.crl"},
		leafKey: keys[2],
	}
	p.roots.AddCert(root)
	p.inters.AddCert(inter)
	return p, nil
})

func mintFuzzOrigins(f *testing.F) map[string][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "origins", "*.der"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatal("no seed certificates in testdata/origins")
	}
	origins := map[string][]byte{}
	for _, name := range files {
		der, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		origins[filepath.Base(name)] = der
	}
	return origins
}

// FuzzMintFromOriginDER feeds an origin certificate from the wire, and the
// SNI the client sent, through certcache.ParseOrigin and MintLeaf. Whatever
// the bytes, neither may panic, and a leaf that MintLeaf returns must parse
// and verify under the organisation's root for the names it carries.
func FuzzMintFromOriginDER(f *testing.F) {
	for _, der := range mintFuzzOrigins(f) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der, "")
		f.Add(der, "added.example.com")
		f.Add(der, "192.0.2.99")
		if len(cert.DNSNames) > 0 {
			f.Add(der, strings.Replace(cert.DNSNames[0], "*", "a", 1))
		}
		f.Add(der[:len(der)/2], "")
	}
	f.Add([]byte{}, "")
	f.Add([]byte{0x30, 0x82, 0xff, 0xff}, "")

	p, err := mintFuzzSetup()
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, der []byte, sni string) {
		origin, err := certcache.ParseOrigin(der)
		if err != nil {
			return
		}
		leafDER, err := certcache.MintLeaf(p.issuer, origin, sni, &p.leafKey.PublicKey, mintFuzzNow)
		if err != nil {
			return
		}
		leaf, err := x509.ParseCertificate(leafDER)
		if err != nil {
			t.Fatalf("minted leaf does not parse: %v", err)
		}
		if !bytes.Equal(leaf.RawSubject, origin.RawSubject) {
			t.Errorf("leaf subject %q, origin's %q", leaf.Subject, origin.Subject)
		}
		if d := leaf.NotAfter.Sub(leaf.NotBefore); d <= 0 || d > certcache.DefaultMaxValidity {
			t.Errorf("leaf lives %v", d)
		}

		var names []string
		switch {
		case len(leaf.DNSNames) > 0:
			// A wildcard is a pattern; verify a name it covers.
			names = append(names, strings.Replace(leaf.DNSNames[0], "*", "a", 1))
		case len(leaf.IPAddresses) > 0:
			names = append(names, leaf.IPAddresses[0].String())
		default:
			t.Fatal("leaf has no DNS or IP name")
		}
		if sni != "" {
			names = append(names, sni)
		}
		for _, name := range names {
			_, err := leaf.Verify(x509.VerifyOptions{
				Roots:         p.roots,
				Intermediates: p.inters,
				DNSName:       name,
				CurrentTime:   leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2),
			})
			if err != nil {
				t.Errorf("leaf does not verify for %q: %v", name, err)
			}
		}
	})
}
