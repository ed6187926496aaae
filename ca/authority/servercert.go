package authority

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"time"
)

// IssueServerCert signs, with the service root, the TLS server certificate
// of the CA's key API for hostnames (DNS names or IP addresses). Edges
// trust the service root, so they can verify the key API without any other
// trust anchor. The caller keeps the private key of pub in memory only; the
// certificate is short-lived and simply issued again when it runs out.
func (a *Authority) IssueServerCert(ctx context.Context, hostnames []string, pub crypto.PublicKey, validity time.Duration) ([]byte, error) {
	if len(hostnames) == 0 {
		return nil, errorf(400, "give the key API at least one hostname or IP address")
	}
	if validity <= 0 {
		return nil, errorf(400, "give the key API certificate a positive validity")
	}
	now := a.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hostnames[0], Organization: []string{"Lucid"}, OrganizationalUnit: []string{"CA key API"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     minTime(now.Add(validity), a.root.NotAfter),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hostnames {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if h == "" || strings.ContainsAny(h, " /:") {
			return nil, errorf(400, "hostname %q is neither a DNS name nor an IP address", h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	der, err := a.signWithRoot(ctx, tmpl, pub)
	if err != nil {
		return nil, fmt.Errorf("authority: signing the key API certificate: %w", err)
	}
	return der, a.audit(ctx, "system", "servercert.issued", systemOrg, "",
		fmt.Sprintf("key API certificate serial %s for %s", tmpl.SerialNumber.Text(16), strings.Join(hostnames, ",")))
}
