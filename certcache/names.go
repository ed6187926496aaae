package certcache

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// A leaf's names. MintLeaf repeats every name of the origin's
// certificate (originNames); the leaves an edge serves name only what its
// policy allows (allowedNames): a leaf the organisation signs for an
// allowed host must not also vouch for the origin's other names, blocked
// ones included, which a browser would otherwise reuse the connection for
// (RFC 9113 §9.1.1).

// originNames is MintLeaf's choice: the origin's names, then the SNI if
// the origin does not list it. The slices are new: the origin's are never
// appended to.
func originNames(sni string) leafNames {
	return func(origin *x509.Certificate) ([]string, []net.IP, error) {
		if err := checkOriginNames(origin); err != nil {
			return nil, nil, err
		}
		dnsNames, ips, err := addSNI(origin.DNSNames, origin.IPAddresses, sni)
		if err != nil {
			return nil, nil, err
		}
		if len(dnsNames) == 0 && len(ips) == 0 {
			return nil, nil, fmt.Errorf("%w: no DNS or IP name, and no SNI", ErrBadOrigin)
		}
		return dnsNames, ips, nil
	}
}

// allowedNames is MintFunc's choice: sni first, then each of allowed that
// the origin's certificate covers, once. A DNS name is covered when the
// origin lists it (a wildcard only as the same wildcard) or, for a name
// that is not itself a wildcard, when one of the origin's wildcards
// matches it (one label, as crypto/x509 matches). An IP literal in allowed
// becomes an IP SAN when the origin lists that address: the origin's IP
// SANs are never copied otherwise. Names that are invalid, or that the
// origin does not cover, are left out, so a leaf never vouches for a name
// the origin did not; sni is the caller's (the name the origin verified
// for, or what the client asked for) and is checked as MintLeaf checks it.
func allowedNames(sni string, allowed []string) leafNames {
	return func(origin *x509.Certificate) ([]string, []net.IP, error) {
		if err := checkOriginNames(origin); err != nil {
			return nil, nil, err
		}
		if len(allowed) > MaxSANs {
			return nil, nil, fmt.Errorf("certcache: %d allowed names, the limit is %d", len(allowed), MaxSANs)
		}
		dnsNames, ips, err := addSNI(nil, nil, sni)
		if err != nil {
			return nil, nil, err
		}
		covered := make(map[string]bool, len(origin.DNSNames))
		for _, n := range origin.DNSNames {
			covered[strings.ToLower(n)] = true
		}
		for _, name := range allowed {
			if addr, err := netip.ParseAddr(name); err == nil {
				ip := net.IP(addr.Unmap().AsSlice())
				if addr.Zone() == "" && mintHasIP(origin.IPAddresses, ip) && !mintHasIP(ips, ip) {
					ips = append(ips, ip)
				}
				continue
			}
			if mintCheckHostname(name, true) == nil && coversName(covered, name) && !mintHasName(dnsNames, name) {
				dnsNames = append(dnsNames, name)
			}
		}
		if len(dnsNames) == 0 && len(ips) == 0 {
			return nil, nil, errors.New("certcache: no name for the leaf: no SNI, and no allowed name the origin covers")
		}
		return dnsNames, ips, nil
	}
}

// coversName reports whether the origin's DNS names, lower-cased in
// covered, cover name.
func coversName(covered map[string]bool, name string) bool {
	name = strings.ToLower(name)
	if covered[name] {
		return true
	}
	if strings.HasPrefix(name, "*.") {
		return false
	}
	i := strings.IndexByte(name, '.')
	return i > 0 && covered["*"+name[i:]]
}

// checkOriginNames refuses an origin whose names no leaf may repeat, and
// bounds the work of looking through them.
func checkOriginNames(origin *x509.Certificate) error {
	n := len(origin.DNSNames) + len(origin.IPAddresses) + len(origin.URIs) + len(origin.EmailAddresses)
	if n > MaxSANs {
		return fmt.Errorf("%w: %d subject alternative names, the limit is %d", ErrBadOrigin, n, MaxSANs)
	}
	for _, name := range origin.DNSNames {
		if err := mintCheckHostname(name, true); err != nil {
			return fmt.Errorf("%w: DNS name %.64q: %w", ErrBadOrigin, name, err)
		}
	}
	for _, ip := range origin.IPAddresses {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("%w: IP address of %d bytes", ErrBadOrigin, len(ip))
		}
	}
	return nil
}

// addSNI returns dnsNames and ips with sni, a host name or an IP literal,
// added unless listed; "" adds nothing. It never appends to the slices it
// is given.
func addSNI(dnsNames []string, ips []net.IP, sni string) ([]string, []net.IP, error) {
	if sni == "" {
		return dnsNames, ips, nil
	}
	if addr, err := netip.ParseAddr(sni); err == nil {
		if addr.Zone() != "" {
			return nil, nil, fmt.Errorf("%w: %q: IP address with a zone", ErrBadSNI, sni)
		}
		ip := net.IP(addr.Unmap().AsSlice())
		if !mintHasIP(ips, ip) {
			ips = append(ips[:len(ips):len(ips)], ip)
		}
		return dnsNames, ips, nil
	}
	if err := mintCheckHostname(sni, false); err != nil {
		return nil, nil, fmt.Errorf("%w: %.64q: %w", ErrBadSNI, sni, err)
	}
	if !mintHasName(dnsNames, sni) {
		dnsNames = append(dnsNames[:len(dnsNames):len(dnsNames)], sni)
	}
	return dnsNames, ips, nil
}

func mintHasName(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func mintHasIP(ips []net.IP, ip net.IP) bool {
	for _, i := range ips {
		if i.Equal(ip) {
			return true
		}
	}
	return false
}

// mintCheckHostname reports why name is not a host name a leaf can carry:
// at most 253 bytes, labels of 1 to 63 letters, digits, '-' (not first) or
// '_' (which crypto/x509 also accepts, and real certificates use), no
// trailing dot, not an IP literal, and if wildcard is set a leftmost label
// that may be "*". These are the names crypto/x509 verifies a host against.
func mintCheckHostname(name string, wildcard bool) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > maxDNSNameLen {
		return fmt.Errorf("%d bytes, the limit is %d", len(name), maxDNSNameLen)
	}
	rest := name
	if wildcard && strings.HasPrefix(rest, "*.") {
		rest = rest[2:]
	}
	label := 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '.':
			if label == 0 {
				return errors.New("empty label")
			}
			label = 0
		case c == '-' && label == 0:
			return errors.New("label starts with '-'")
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			label++
			if label > maxDNSLabelLen {
				return fmt.Errorf("label longer than %d bytes", maxDNSLabelLen)
			}
		default:
			return fmt.Errorf("invalid character %q", c)
		}
	}
	if label == 0 {
		return errors.New("empty label")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return errors.New("an IP address as a DNS name")
	}
	return nil
}
