package certcache_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/certcache"
)

const mintTestCRLURL = "http://ca.lucid.test/crl/acme.crl"

// mintPKI is the world of the mint tests: an organisation's root and
// ECDSA P-256 intermediates (one long-lived, one that expires in two days),
// and a separate public CA that signs the origins' certificates.
type mintPKI struct {
	now time.Time

	root, inter, shortInter *x509.Certificate
	interKey, shortKey      *ecdsa.PrivateKey
	roots                   *x509.CertPool

	originCA    *x509.Certificate
	originCAKey *ecdsa.PrivateKey
	originKey   *ecdsa.PrivateKey

	leafECDSA   *ecdsa.PrivateKey
	leafRSA     *rsa.PrivateKey
	leafEd25519 ed25519.PrivateKey
}

var mintTestPKI = sync.OnceValues(newMintPKI)

func newMintPKI() (*mintPKI, error) {
	p := &mintPKI{now: time.Now().Truncate(time.Second)}
	keys := make([]*ecdsa.PrivateKey, 5)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	rootKey := keys[0]
	p.interKey, p.shortKey, p.originCAKey, p.originKey = keys[1], keys[2], keys[3], keys[4]
	var err error
	if p.leafECDSA, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if p.leafRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if _, p.leafEd25519, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}

	ca := func(cn string, notBefore, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"Acme"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	year := 365 * 24 * time.Hour
	if p.root, err = mintSign(ca("Acme Root", p.now.Add(-10*year), p.now.Add(10*year)), nil, rootKey, rootKey); err != nil {
		return nil, err
	}
	if p.inter, err = mintSign(ca("Acme Inspection CA", p.now.Add(-year), p.now.Add(5*year)), p.root, rootKey, p.interKey); err != nil {
		return nil, err
	}
	if p.shortInter, err = mintSign(ca("Acme Inspection CA (expiring)", p.now.Add(-year), p.now.Add(48*time.Hour)), p.root, rootKey, p.shortKey); err != nil {
		return nil, err
	}
	if p.originCA, err = mintSign(ca("Public Web CA", p.now.Add(-10*year), p.now.Add(10*year)), nil, p.originCAKey, p.originCAKey); err != nil {
		return nil, err
	}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root)
	return p, nil
}

// mintSign signs tmpl under parent with key (self-signed when parent is nil)
// for holder's public key, and parses the result.
func mintSign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, holder crypto.Signer) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, holder.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func mintPKIFor(tb testing.TB) *mintPKI {
	tb.Helper()
	p, err := mintTestPKI()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// originTemplate is a typical origin certificate: valid for the last 30 and
// the next 60 days.
func (p *mintPKI) originTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: "www.example.com", Organization: []string{"Example Inc"}, Country: []string{"US"}},
		DNSNames:    []string{"www.example.com", "example.com"},
		NotBefore:   p.now.Add(-30 * 24 * time.Hour),
		NotAfter:    p.now.Add(60 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// origin signs tmpl with the public CA and parses it back with ParseOrigin
// when it fits, as the edge would get it from the wire.
func (p *mintPKI) origin(tb testing.TB, tmpl *x509.Certificate) *x509.Certificate {
	tb.Helper()
	tmpl.SerialNumber = big.NewInt(42)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.originCA, p.originKey.Public(), p.originCAKey)
	if err != nil {
		tb.Fatal(err)
	}
	if len(der) > certcache.MaxOriginDER {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return cert
	}
	cert, err := certcache.ParseOrigin(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// mintCountingSigner counts the signatures it makes: a refused origin must
// be refused before any.
type mintCountingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (s *mintCountingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

func (p *mintPKI) issuer(short bool) (*certcache.Issuer, *mintCountingSigner) {
	cert, key := p.inter, p.interKey
	if short {
		cert, key = p.shortInter, p.shortKey
	}
	s := &mintCountingSigner{Signer: key}
	return &certcache.Issuer{Cert: cert, Chain: [][]byte{cert.Raw}, Signer: s, CRLURL: mintTestCRLURL}, s
}

var (
	oidSCTList        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidTLSFeature     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}
	oidAIA            = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidNameConstraint = asn1.ObjectIdentifier{2, 5, 29, 30}

	// mintLeafExtensions is every extension a minted leaf may carry.
	mintLeafExtensions = map[string]string{
		"2.5.29.14": "subjectKeyIdentifier",
		"2.5.29.15": "keyUsage",
		"2.5.29.17": "subjectAltName",
		"2.5.29.19": "basicConstraints",
		"2.5.29.31": "cRLDistributionPoints",
		"2.5.29.35": "authorityKeyIdentifier",
		"2.5.29.37": "extKeyUsage",
	}
)

// mintOUs returns n organisational units of 100 bytes each.
func mintOUs(n int) []string {
	ous := make([]string, n)
	for i := range ous {
		ous[i] = fmt.Sprintf("Unit %03d %s", i, strings.Repeat("x", 91))
	}
	return ous
}

func mintDNSNames(n int, format string) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(format, i)
	}
	return names
}

func mintIPs(n int) []net.IP {
	ips := make([]net.IP, n)
	for i := range ips {
		ips[i] = net.IPv4(198, 51, byte(i>>8), byte(i)).To4()
	}
	return ips
}

type mintCase struct {
	name   string
	origin func(p *mintPKI, tmpl *x509.Certificate) // edits the typical origin
	sni    string
	key    func(p *mintPKI) crypto.PublicKey // default: the ECDSA leaf key
	issuer func(p *mintPKI, iss *certcache.Issuer)

	// verifyName is what the client checks; default sni.
	verifyName string
	// notNow is set when the origin is expired or not yet valid: the leaf
	// then verifies only inside its own window, not at now.
	notNow bool
	// maxValidity the leaf may have; default DefaultMaxValidity.
	maxValidity time.Duration
	check       func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate)
}

func TestMintLeaf(t *testing.T) {
	day := 24 * time.Hour
	cases := []mintCase{
		{name: "sni among origin names", sni: "www.example.com"},
		{name: "sni added to origin names", sni: "shop.example.com"},
		{name: "no sni", verifyName: "example.com"},
		{
			name:   "wildcard origin",
			origin: func(p *mintPKI, c *x509.Certificate) { c.DNSNames = []string{"*.example.com", "example.com"} },
			sni:    "a.example.com",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if !slices.Contains(leaf.DNSNames, "*.example.com") {
					t.Errorf("leaf lost the wildcard: %q", leaf.DNSNames)
				}
			},
		},
		{
			name:   "upper-case sni already listed",
			origin: func(p *mintPKI, c *x509.Certificate) { c.DNSNames = []string{"WWW.Example.com"} },
			sni:    "www.example.com",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if len(leaf.DNSNames) != 1 {
					t.Errorf("DNS names %q: the SNI was added although listed", leaf.DNSNames)
				}
			},
		},
		{
			name: "500 names",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.DNSNames = mintDNSNames(400, "host%d.example.com")
				c.IPAddresses = mintIPs(100)
			},
			sni: "new.example.com",
		},
		{
			name:   "1000 names, the limit",
			origin: func(p *mintPKI, c *x509.Certificate) { c.DNSNames = mintDNSNames(certcache.MaxSANs, "h%d.example.com") },
			sni:    "h999.example.com",
		},
		{
			name: "IPv4 origin",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.Subject = pkix.Name{CommonName: "192.0.2.10"}
				c.DNSNames = nil
				c.IPAddresses = []net.IP{net.ParseIP("192.0.2.10")}
			},
			sni: "192.0.2.10",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if len(leaf.IPAddresses) != 1 || len(leaf.DNSNames) != 0 {
					t.Errorf("names %q %v, want the one IP", leaf.DNSNames, leaf.IPAddresses)
				}
			},
		},
		{name: "IPv4 reached without SNI, origin names hosts", sni: "192.0.2.10"},
		{name: "IPv6 reached without SNI", sni: "2001:db8::1"},
		{
			name: "IPv4-mapped IPv6 sni",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.IPAddresses = []net.IP{net.ParseIP("192.0.2.10")}
			},
			sni:        "::ffff:192.0.2.10",
			verifyName: "192.0.2.10",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if len(leaf.IPAddresses) != 1 {
					t.Errorf("IP addresses %v, want the origin's one", leaf.IPAddresses)
				}
			},
		},
		{
			name: "expired origin",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotBefore, c.NotAfter = p.now.Add(-100*day), p.now.Add(-10*day)
			},
			sni:    "www.example.com",
			notNow: true,
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if !leaf.NotAfter.Equal(origin.NotAfter) || !leaf.NotBefore.Equal(origin.NotAfter.Add(-certcache.DefaultMaxValidity)) {
					t.Errorf("validity %v to %v, want the origin's last 7 days", leaf.NotBefore, leaf.NotAfter)
				}
			},
		},
		{
			name: "not yet valid origin",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotBefore, c.NotAfter = p.now.Add(2*day), p.now.Add(400*day)
			},
			sni:    "www.example.com",
			notNow: true,
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if !leaf.NotBefore.Equal(origin.NotBefore) {
					t.Errorf("leaf starts %v, want the origin's start %v", leaf.NotBefore, origin.NotBefore)
				}
			},
		},
		{
			name: "origin valid for 2 more hours",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotAfter = p.now.Add(2 * time.Hour)
			},
			sni: "www.example.com",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if !leaf.NotAfter.Equal(origin.NotAfter) {
					t.Errorf("leaf ends %v, want the origin's end %v", leaf.NotAfter, origin.NotAfter)
				}
			},
		},
		{
			name: "subject of 3 KiB",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.Subject.OrganizationalUnit = mintOUs(28)
			},
			sni: "www.example.com",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if n := len(origin.RawSubject); n < 3<<10 || n > certcache.MaxOriginSubject {
					t.Errorf("origin subject is %d bytes, the case wants about 3 KiB", n)
				}
			},
		},
		{
			name: "RSA-2048 leaf key",
			sni:  "www.example.com",
			key:  func(p *mintPKI) crypto.PublicKey { return &p.leafRSA.PublicKey },
		},
		{
			name: "Ed25519 leaf key",
			sni:  "www.example.com",
			key:  func(p *mintPKI) crypto.PublicKey { return p.leafEd25519.Public() },
		},
		{
			name: "intermediate expires in 2 days",
			sni:  "www.example.com",
			issuer: func(p *mintPKI, iss *certcache.Issuer) {
				short, _ := p.issuer(true)
				*iss = *short
			},
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				if !leaf.NotAfter.Equal(p.shortInter.NotAfter) {
					t.Errorf("leaf ends %v, want the intermediate's end %v", leaf.NotAfter, p.shortInter.NotAfter)
				}
			},
		},
		{
			name: "intermediate without subject key id",
			sni:  "www.example.com",
			issuer: func(p *mintPKI, iss *certcache.Issuer) {
				cert := *iss.Cert
				cert.SubjectKeyId = nil
				iss.Cert = &cert
			},
		},
		{
			name: "origin subject equals the intermediate's",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.Subject = p.inter.Subject
			},
			sni: "www.example.com",
		},
		{
			name:        "MaxValidity of one hour",
			sni:         "www.example.com",
			issuer:      func(p *mintPKI, iss *certcache.Issuer) { iss.MaxValidity = time.Hour },
			maxValidity: time.Hour,
		},
		{
			name:   "no CRL URL",
			sni:    "www.example.com",
			issuer: func(p *mintPKI, iss *certcache.Issuer) { iss.CRLURL = "" },
		},
		{
			name: "origin with extensions a leaf must not copy",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{
					{Id: oidSCTList, Value: append([]byte{0x04, 0x20}, bytes.Repeat([]byte{0xab}, 32)...)},
					{Id: oidTLSFeature, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}, // status_request
				}
				c.PermittedDNSDomains = []string{"example.com"}
				c.OCSPServer = []string{"http://ocsp.public.test"}
				c.IssuingCertificateURL = []string{"http://public.test/ca.crt"}
				c.CRLDistributionPoints = []string{"http://public.test/ca.crl"}
				c.Policies = []x509.OID{mintOID(2, 23, 140, 1, 2, 2)}
				c.EmailAddresses = []string{"admin@example.com"}
				c.URIs = []*url.URL{{Scheme: "https", Host: "example.com"}}
			},
			sni: "www.example.com",
			check: func(t *testing.T, p *mintPKI, origin, leaf *x509.Certificate) {
				for _, oid := range []asn1.ObjectIdentifier{oidSCTList, oidTLSFeature, oidAIA, oidNameConstraint} {
					if !mintHasExtension(origin, oid) {
						t.Errorf("the origin lacks %v: the case tests nothing", oid)
					}
				}
				if len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
					t.Errorf("leaf copied email/URI names: %q %v", leaf.EmailAddresses, leaf.URIs)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mintPKIFor(t)
			tmpl := p.originTemplate()
			if c.origin != nil {
				c.origin(p, tmpl)
			}
			origin := p.origin(t, tmpl)
			iss, _ := p.issuer(false)
			if c.issuer != nil {
				c.issuer(p, iss)
			}
			var leafPub crypto.PublicKey = &p.leafECDSA.PublicKey
			if c.key != nil {
				leafPub = c.key(p)
			}

			der, err := certcache.MintLeaf(iss, origin, c.sni, leafPub, p.now)
			if err != nil {
				t.Fatalf("MintLeaf: %v", err)
			}
			leaf, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("minted leaf does not parse: %v", err)
			}
			mintCheckLeaf(t, p, c, iss, origin, leaf, leafPub)
			if c.check != nil {
				c.check(t, p, origin, leaf)
			}
		})
	}
}

// mintCheckLeaf checks what a user of the leaf checks.
func mintCheckLeaf(t *testing.T, p *mintPKI, c mintCase, iss *certcache.Issuer, origin, leaf *x509.Certificate, leafPub crypto.PublicKey) {
	t.Helper()

	// It verifies, for the name the client asked for, under the root.
	name := c.verifyName
	if name == "" {
		name = c.sni
	}
	inters := x509.NewCertPool()
	inters.AddCert(iss.Cert)
	opts := x509.VerifyOptions{Roots: p.roots, Intermediates: inters, DNSName: name, CurrentTime: p.now}
	if c.notNow {
		if _, err := leaf.Verify(opts); !mintIsExpired(err) {
			t.Errorf("Verify at now = %v, want an expiry error (the origin is not valid now)", err)
		}
		opts.CurrentTime = leaf.NotBefore.Add(time.Minute)
	}
	if _, err := leaf.Verify(opts); err != nil {
		t.Errorf("Verify(%q at %v): %v", name, opts.CurrentTime, err)
	}

	if !bytes.Equal(leaf.RawSubject, origin.RawSubject) {
		t.Errorf("subject %q, want the origin's %q", leaf.Subject, origin.Subject)
	}
	if !bytes.Equal(leaf.RawIssuer, iss.Cert.RawSubject) {
		t.Errorf("issuer %q, want %q", leaf.Issuer, iss.Cert.Subject)
	}

	// Names: the origin's DNS and IP names, and the SNI.
	for _, n := range origin.DNSNames {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("leaf lacks the origin's DNS name %q", n)
		}
	}
	for _, ip := range origin.IPAddresses {
		if !mintHasIP(leaf.IPAddresses, ip) {
			t.Errorf("leaf lacks the origin's IP %v", ip)
		}
	}
	if ip := net.ParseIP(c.sni); ip != nil {
		if !mintHasIP(leaf.IPAddresses, ip) {
			t.Errorf("leaf IPs %v lack the SNI %s", leaf.IPAddresses, c.sni)
		}
	} else if c.sni != "" && !mintHasStringFold(leaf.DNSNames, c.sni) {
		t.Errorf("leaf DNS names lack the SNI %q", c.sni)
	}
	if extra := len(leaf.DNSNames) + len(leaf.IPAddresses) - len(origin.DNSNames) - len(origin.IPAddresses); extra < 0 || extra > 1 {
		t.Errorf("leaf has %d names more than the origin, want 0 or 1", extra)
	}

	// Validity: inside the origin's, the intermediate's, and MaxValidity.
	maxValidity := c.maxValidity
	if maxValidity == 0 {
		maxValidity = certcache.DefaultMaxValidity
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d <= 0 || d > maxValidity {
		t.Errorf("leaf lives %v, want at most %v", d, maxValidity)
	}
	if leaf.NotBefore.Before(iss.Cert.NotBefore) || leaf.NotAfter.After(iss.Cert.NotAfter) {
		t.Errorf("leaf %v to %v is outside the intermediate's %v to %v", leaf.NotBefore, leaf.NotAfter, iss.Cert.NotBefore, iss.Cert.NotAfter)
	}
	if leaf.NotBefore.Before(origin.NotBefore) || leaf.NotAfter.After(origin.NotAfter) {
		t.Errorf("leaf %v to %v is outside the origin's %v to %v", leaf.NotBefore, leaf.NotAfter, origin.NotBefore, origin.NotAfter)
	}
	if !c.notNow && (p.now.Before(leaf.NotBefore) || !p.now.Before(leaf.NotAfter)) {
		t.Errorf("leaf %v to %v does not cover now %v", leaf.NotBefore, leaf.NotAfter, p.now)
	}

	// Usage: a TLS server, not a CA.
	wantUsage := x509.KeyUsageDigitalSignature
	if _, ok := leafPub.(*rsa.PublicKey); ok {
		wantUsage |= x509.KeyUsageKeyEncipherment
	}
	if leaf.KeyUsage != wantUsage {
		t.Errorf("KeyUsage %b, want %b", leaf.KeyUsage, wantUsage)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(leaf.UnknownExtKeyUsage) != 0 {
		t.Errorf("ExtKeyUsage %v %v, want serverAuth only", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Errorf("basic constraints valid=%v CA=%v, want CA:false", leaf.BasicConstraintsValid, leaf.IsCA)
	}

	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %x is not a positive 128-bit number", leaf.SerialNumber)
	}
	if want := mintGoKeyID(t, iss.Cert.PublicKey); !bytes.Equal(leaf.AuthorityKeyId, want) ||
		(len(iss.Cert.SubjectKeyId) > 0 && !bytes.Equal(leaf.AuthorityKeyId, iss.Cert.SubjectKeyId)) {
		t.Errorf("AuthorityKeyId %x, want the intermediate's key id %x", leaf.AuthorityKeyId, want)
	}
	if want := mintGoKeyID(t, leafPub); !bytes.Equal(leaf.SubjectKeyId, want) {
		t.Errorf("SubjectKeyId %x, want %x", leaf.SubjectKeyId, want)
	}
	wantCRL := []string{iss.CRLURL}
	if iss.CRLURL == "" {
		wantCRL = nil
	}
	if !slices.Equal(leaf.CRLDistributionPoints, wantCRL) {
		t.Errorf("CRL distribution points %q, want %q", leaf.CRLDistributionPoints, wantCRL)
	}

	// The leaf's key is leafPub, never the origin's.
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(leafPub) {
		t.Errorf("leaf key %T is not leafPub", leaf.PublicKey)
	}

	// Nothing but the extensions MintLeaf builds.
	for _, e := range leaf.Extensions {
		if _, ok := mintLeafExtensions[e.Id.String()]; !ok {
			t.Errorf("leaf carries extension %v", e.Id)
		}
	}
	if len(leaf.OCSPServer)+len(leaf.IssuingCertificateURL)+len(leaf.PermittedDNSDomains)+len(leaf.Policies) != 0 {
		t.Errorf("leaf carries AIA, name constraints or policies")
	}
}

// mintGoKeyID is the key identifier crypto/x509 gives a CA key, read from a
// throwaway CA certificate for pub, so MintLeaf's computation is checked
// against Go's own.
func mintGoKeyID(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	p := mintPKIFor(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IsCA: true, BasicConstraintsValid: true, NotAfter: p.now}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.inter, pub, p.interKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert.SubjectKeyId
}

func TestMintLeafSerialsDiffer(t *testing.T) {
	p := mintPKIFor(t)
	iss, _ := p.issuer(false)
	origin := p.origin(t, p.originTemplate())
	seen := map[string]bool{}
	short := 0
	for range 16 {
		der, err := certcache.MintLeaf(iss, origin, "www.example.com", &p.leafECDSA.PublicKey, p.now)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		s := leaf.SerialNumber.Text(16)
		if seen[s] {
			t.Fatalf("serial %s minted twice", s)
		}
		seen[s] = true
		if leaf.SerialNumber.BitLen() <= 120 {
			short++
		}
	}
	// Each is under 121 bits with probability 2^-8.
	if short > 4 {
		t.Errorf("%d of 16 serials have at most 120 bits: not 128 random bits", short)
	}
}

func TestMintLeafRefuses(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name      string
		origin    func(p *mintPKI, tmpl *x509.Certificate)
		nilOrigin bool
		sni       string
		key       func(p *mintPKI) crypto.PublicKey
		issuer    func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer
		wantIs    error
		wantErr   string
	}{
		{name: "nil origin", nilOrigin: true, sni: "www.example.com", wantErr: "no origin certificate"},
		{
			name:    "nil issuer",
			sni:     "www.example.com",
			issuer:  func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer { return nil },
			wantErr: "no issuer",
		},
		{
			name:    "issuer without signer",
			sni:     "www.example.com",
			issuer:  func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer { iss.Signer = nil; return iss },
			wantErr: "no signer",
		},
		{
			name: "issuer signer is not the intermediate's key",
			sni:  "www.example.com",
			issuer: func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer {
				iss.Signer = p.shortKey
				return iss
			},
			wantErr: "doesn't match",
		},
		{
			name: "issuer certificate is not a CA",
			sni:  "www.example.com",
			issuer: func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer {
				iss.Cert = p.origin(tb, p.originTemplate())
				return iss
			},
			wantErr: "not a CA",
		},
		{
			name: "negative MaxValidity",
			sni:  "www.example.com",
			issuer: func(tb testing.TB, p *mintPKI, iss *certcache.Issuer) *certcache.Issuer {
				iss.MaxValidity = -time.Hour
				return iss
			},
			wantErr: "negative",
		},
		{name: "nil leaf key", sni: "www.example.com", key: func(p *mintPKI) crypto.PublicKey { return nil }, wantErr: "unsupported key type <nil>"},
		{name: "nil ECDSA leaf key", sni: "www.example.com", key: func(p *mintPKI) crypto.PublicKey { return (*ecdsa.PublicKey)(nil) }, wantErr: "nil ECDSA key"},
		{name: "empty RSA leaf key", sni: "www.example.com", key: func(p *mintPKI) crypto.PublicKey { return &rsa.PublicKey{} }, wantErr: "invalid RSA key"},
		{name: "short Ed25519 leaf key", sni: "www.example.com", key: func(p *mintPKI) crypto.PublicKey { return ed25519.PublicKey{1, 2} }, wantErr: "Ed25519 key of 2 bytes"},
		{
			name: "X25519 leaf key",
			sni:  "www.example.com",
			key: func(p *mintPKI) crypto.PublicKey {
				k, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{7}, 32))
				if err != nil {
					panic(err)
				}
				return k.PublicKey()
			},
			wantErr: "unsupported key type *ecdh.PublicKey",
		},
		{
			name:    "subject over 4 KiB",
			origin:  func(p *mintPKI, c *x509.Certificate) { c.Subject.OrganizationalUnit = mintOUs(40) },
			sni:     "www.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "the limit is 4096",
		},
		{
			name: "1001 names",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.DNSNames = mintDNSNames(certcache.MaxSANs+1, "h%d.example.com")
			},
			sni:     "h1.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "1001 subject alternative names, the limit is 1000",
		},
		{
			name: "20000 names",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.DNSNames = mintDNSNames(19000, "h%d.example.com")
				c.IPAddresses = mintIPs(1000)
			},
			sni:     "h1.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "20000 subject alternative names",
		},
		{
			name:    "name of 254 bytes",
			origin:  func(p *mintPKI, c *x509.Certificate) { c.DNSNames = []string{mintLongName(254)} },
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "254 bytes, the limit is 253",
		},
		{name: "name with a space", origin: mintOriginNames("www.exa mple.com"), wantIs: certcache.ErrBadOrigin, wantErr: `invalid character ' '`},
		{name: "name with a NUL", origin: mintOriginNames("www.example.com\x00.evil.test"), wantIs: certcache.ErrBadOrigin, wantErr: `invalid character '\x00'`},
		{name: "double wildcard", origin: mintOriginNames("*.*.example.com"), wantIs: certcache.ErrBadOrigin, wantErr: `invalid character '*'`},
		{name: "partial wildcard", origin: mintOriginNames("w*.example.com"), wantIs: certcache.ErrBadOrigin, wantErr: `invalid character '*'`},
		{name: "bare wildcard", origin: mintOriginNames("*"), wantIs: certcache.ErrBadOrigin, wantErr: `invalid character '*'`},
		{name: "empty label", origin: mintOriginNames("www..example.com"), wantIs: certcache.ErrBadOrigin, wantErr: "empty label"},
		{name: "trailing dot", origin: mintOriginNames("www.example.com."), wantIs: certcache.ErrBadOrigin, wantErr: "empty label"},
		{name: "leading hyphen", origin: mintOriginNames("-www.example.com"), wantIs: certcache.ErrBadOrigin, wantErr: "starts with '-'"},
		{name: "label of 64 bytes", origin: mintOriginNames(strings.Repeat("a", 64) + ".example.com"), wantIs: certcache.ErrBadOrigin, wantErr: "label longer than 63"},
		{name: "IP literal as DNS name", origin: mintOriginNames("192.0.2.1"), wantIs: certcache.ErrBadOrigin, wantErr: "IP address as a DNS name"},
		{name: "no names and no sni", origin: mintOriginNames(), wantIs: certcache.ErrBadOrigin, wantErr: "no DNS or IP name"},
		{name: "sni with invalid character", sni: "www.example.com/evil", wantIs: certcache.ErrBadSNI, wantErr: `invalid character '/'`},
		{name: "sni of 254 bytes", sni: mintLongName(254), wantIs: certcache.ErrBadSNI, wantErr: "254 bytes"},
		{name: "wildcard sni", sni: "*.example.com", wantIs: certcache.ErrBadSNI, wantErr: `invalid character '*'`},
		{name: "sni IP with zone", sni: "fe80::1%eth0", wantIs: certcache.ErrBadSNI, wantErr: "zone"},
		{
			name: "origin valid only in 30 days",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotBefore, c.NotAfter = p.now.Add(30*day), p.now.Add(400*day)
			},
			sni:     "www.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "no validity left",
		},
		{
			name: "origin expired before the intermediate began",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotBefore, c.NotAfter = p.now.Add(-3*365*day), p.now.Add(-2*365*day)
			},
			sni:     "www.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "no validity left",
		},
		{
			name: "origin validity inverted",
			origin: func(p *mintPKI, c *x509.Certificate) {
				c.NotBefore, c.NotAfter = p.now, p.now.Add(-time.Hour)
			},
			sni:     "www.example.com",
			wantIs:  certcache.ErrBadOrigin,
			wantErr: "no validity left",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mintPKIFor(t)
			var origin *x509.Certificate
			if !c.nilOrigin {
				tmpl := p.originTemplate()
				if c.origin != nil {
					c.origin(p, tmpl)
				}
				origin = p.origin(t, tmpl)
			}
			iss, signer := p.issuer(false)
			if c.issuer != nil {
				iss = c.issuer(t, p, iss)
			}
			var leafPub crypto.PublicKey = &p.leafECDSA.PublicKey
			if c.key != nil {
				leafPub = c.key(p)
			}

			start := time.Now()
			der, err := certcache.MintLeaf(iss, origin, c.sni, leafPub, p.now)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("MintLeaf minted %d bytes, want an error containing %q", len(der), c.wantErr)
			}
			if der != nil {
				t.Errorf("MintLeaf returned %d bytes with its error", len(der))
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, c.wantErr)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("error %q does not wrap %q", err, c.wantIs)
			}
			if n := signer.n.Load(); n != 0 {
				t.Errorf("the signer signed %d times before the refusal", n)
			}
			// Refusals come before any real work: a generous bound that only
			// work proportional to the input would break.
			if took > 100*time.Millisecond {
				t.Errorf("refusal took %v", took)
			}
		})
	}
}

func mintOriginNames(names ...string) func(*mintPKI, *x509.Certificate) {
	return func(p *mintPKI, c *x509.Certificate) { c.DNSNames = names }
}

// mintLongName is a host name of n bytes, valid but for its length.
func mintLongName(n int) string {
	s := strings.Repeat(strings.Repeat("a", 62)+".", n/63+1)
	return s[:n-1] + "b"
}

func TestParseOrigin(t *testing.T) {
	p := mintPKIFor(t)
	tmpl := p.originTemplate()
	tmpl.IPAddresses = []net.IP{net.ParseIP("192.0.2.10")}
	good := p.origin(t, tmpl).Raw

	// corrupt returns good with the first byte of the value of extension id
	// replaced by b, the outer lengths left intact.
	corrupt := func(id asn1.ObjectIdentifier, at int, b byte) []byte {
		cert, err := x509.ParseCertificate(good)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range cert.Extensions {
			if e.Id.Equal(id) {
				i := bytes.Index(good, e.Value)
				if i < 0 || bytes.Contains(good[i+1:], e.Value) {
					t.Fatalf("extension %v value not found once in the DER", id)
				}
				der := bytes.Clone(good)
				der[i+at] = b
				return der
			}
		}
		t.Fatalf("origin has no extension %v", id)
		return nil
	}
	oidSAN := asn1.ObjectIdentifier{2, 5, 29, 17}
	oidKeyUsage := asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage := asn1.ObjectIdentifier{2, 5, 29, 37}

	cases := []struct {
		name    string
		der     []byte
		wantErr string // "" for success
	}{
		{name: "good", der: good},
		{name: "empty", der: nil, wantErr: "empty certificate"},
		{name: "over 64 KiB", der: make([]byte, certcache.MaxOriginDER+1), wantErr: "65537 bytes, the limit is 65536"},
		{name: "garbage", der: []byte("-----BEGIN CERTIFICATE-----"), wantErr: "x509: malformed certificate"},
		{name: "truncated", der: good[:len(good)-10], wantErr: "x509: malformed certificate"},
		{name: "trailing byte", der: append(bytes.Clone(good), 0), wantErr: "x509: trailing data"},
		{name: "SAN extension not a SEQUENCE", der: corrupt(oidSAN, 0, 0x31), wantErr: "x509: invalid subject alternative names"},
		{name: "SAN IP name length off by one", der: mintCorruptIPLength(t, good), wantErr: "x509: invalid subject alternative name"},
		{name: "key usage not a BIT STRING", der: corrupt(oidKeyUsage, 0, 0x04), wantErr: "x509: invalid key usage"},
		{name: "extended key usage not a SEQUENCE", der: corrupt(oidExtKeyUsage, 0, 0x04), wantErr: "x509: invalid extended key usages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert, err := certcache.ParseOrigin(c.der)
			if c.wantErr == "" {
				if err != nil || cert == nil {
					t.Fatalf("ParseOrigin: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseOrigin accepted it, want an error containing %q", c.wantErr)
			}
			if cert != nil {
				t.Errorf("ParseOrigin returned a certificate with its error")
			}
			if !errors.Is(err, certcache.ErrBadOrigin) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q, want ErrBadOrigin containing %q", err, c.wantErr)
			}
		})
	}
}

// mintCorruptIPLength makes the IP name 192.0.2.10 of der claim 5 bytes, one
// more than the SAN extension has left, keeping the outer lengths.
func mintCorruptIPLength(t *testing.T, der []byte) []byte {
	t.Helper()
	i := bytes.Index(der, []byte{0x87, 0x04, 192, 0, 2, 10})
	if i < 0 {
		t.Fatal("IP name not found in the origin's DER")
	}
	out := bytes.Clone(der)
	out[i+1] = 0x05
	return out
}

func BenchmarkMintLeaf(b *testing.B) {
	p := mintPKIFor(b)
	iss := &certcache.Issuer{Cert: p.inter, Chain: [][]byte{p.inter.Raw}, Signer: p.interKey, CRLURL: mintTestCRLURL}
	origin := p.origin(b, p.originTemplate())
	leafPub := &p.leafECDSA.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if _, err := certcache.MintLeaf(iss, origin, "www.example.com", leafPub, p.now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSASign is the signature alone that BenchmarkMintLeaf makes,
// over a digest of a typical leaf's size.
func BenchmarkECDSASign(b *testing.B) {
	p := mintPKIFor(b)
	digest := sha256.Sum256(make([]byte, 600))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.interKey.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAVerify is the check crypto/x509.CreateCertificate makes of
// every signature it gets from the signer, which MintLeaf pays too.
func BenchmarkECDSAVerify(b *testing.B) {
	p := mintPKIFor(b)
	digest := sha256.Sum256(make([]byte, 600))
	sig, err := p.interKey.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&p.interKey.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

func mintHasStringFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func mintHasIP(list []net.IP, ip net.IP) bool {
	for _, x := range list {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func mintHasExtension(c *x509.Certificate, id asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return true
		}
	}
	return false
}

func mintIsExpired(err error) bool {
	var inv x509.CertificateInvalidError
	return errors.As(err, &inv) && inv.Reason == x509.Expired
}

func mintOID(ids ...uint64) x509.OID {
	oid, err := x509.OIDFromInts(ids)
	if err != nil {
		panic(err)
	}
	return oid
}
