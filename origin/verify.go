package origin

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// verifyOrigin verifies the origin's chain for name, a DNS name or an IP
// address, with the intermediates the origin sent. A chain that verified
// for name lately (cache, nil for none) is not verified again.
func verifyOrigin(certs []*x509.Certificate, name string, roots *x509.CertPool, cache *verifyCache) error {
	if len(certs) == 0 {
		return errors.New("origin: the origin sent no certificate")
	}
	if name == "" {
		return errors.New("origin: no server name or IP address to verify the origin certificate for")
	}
	var key [32]byte
	if cache != nil {
		key = verifyCacheKey(certs, name)
		if cache.known(key) {
			return nil
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Intermediates: intermediates, Roots: roots})
	if err != nil {
		return fmt.Errorf("origin: certificate for %s: %w", name, err)
	}
	if cache != nil {
		cache.add(key, chains[0])
	}
	return nil
}

func remoteAddr(conn net.Conn) string {
	if a := conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// remoteIP is the IP address of conn's remote end, "" if it has none: the
// name a certificate is verified for when the client sent no SNI.
func remoteIP(conn net.Conn) string {
	addr, err := netip.ParseAddrPort(remoteAddr(conn))
	if err != nil {
		return ""
	}
	return addr.Addr().Unmap().WithZone("").String()
}
