package certcache

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"net"
	"slices"
	"time"
)

// Kind is what a leaf stands for. Leaves of different kinds never share a
// cache entry, whatever else their keys share.
type Kind uint8

// Kinds of leaf.
const (
	// OriginCopy copies the origin's verified certificate, signed by the
	// organisation's intermediate: the ordinary inspected connection.
	OriginCopy Kind = iota
	// PassedOn copies the names of an origin whose certificate failed
	// verification, with a validity that covers now (an expired origin's
	// window could not be copied under a new signer), signed by the
	// untrusted issuer (NewUntrustedIssuer), so the browser shows its own
	// warning instead of a trusted leaf hiding the failure.
	PassedOn
	// StandIn names only what the client asked for, valid now, signed by
	// the organisation's intermediate: it carries the edge's own error
	// page for an origin that could not be reached or was refused, so the
	// client's handshake completes and the user can read why.
	StandIn
)

// LeafFor names what a connection's leaf is minted for and how: its cache key
// and, for a miss, the mint.
type LeafFor struct {
	Key  Key
	Mint MintFunc
}

// ForOrigin is the leaf of kind OriginCopy for origin, the certificate
// the origin presented and that verified for name. The leaf names name and
// those of allowed that origin covers, nothing else (MintFunc): allowed is
// what the organisation's policy lets the leaf vouch for besides name,
// computed by the caller from the origin's names (a blocked name left out,
// a wildcard that would cover a blocked name left out too, so that name
// alone stands for it); nil names name alone. The key carries allowed
// (namesKey), so a leaf minted under one policy outcome is never served
// for another. ForOrigin keeps a copy of allowed, not allowed itself.
func (iss *Issuer) ForOrigin(org, name string, allowed []string, origin *x509.Certificate, rsa bool) LeafFor {
	return LeafFor{
		Key:  Key{Org: org, Name: name, Kind: OriginCopy, Origin: sha256.Sum256(origin.Raw), Names: namesKey(allowed), RSA: rsa},
		Mint: iss.MintFunc(origin, name, slices.Clone(allowed)),
	}
}

// PassOn is the leaf of kind PassedOn for an origin whose certificate did
// not verify; iss is the untrusted issuer. Its names are chosen as
// ForOrigin's: a user who clicks through the browser's warning must not
// thereby reach names the policy refuses over the same connection.
func (iss *Issuer) PassOn(org, name string, allowed []string, origin *x509.Certificate, rsa bool) LeafFor {
	return LeafFor{
		Key:  Key{Org: org, Name: name, Kind: PassedOn, Origin: sha256.Sum256(origin.Raw), Names: namesKey(allowed), RSA: rsa},
		Mint: iss.MintFunc(validNow(origin, time.Now()), name, slices.Clone(allowed)),
	}
}

// StandIn is the leaf of kind StandIn for name (a host name or an IP
// literal).
func (iss *Issuer) StandIn(org, name string, rsa bool) LeafFor {
	return LeafFor{
		Key:  Key{Org: org, Name: name, Kind: StandIn, RSA: rsa},
		Mint: iss.MintFunc(standInOrigin(name, time.Now()), name, nil),
	}
}

// validNow is the origin's certificate with its names and a validity that
// covers now.
func validNow(o *x509.Certificate, now time.Time) *x509.Certificate {
	return &x509.Certificate{Subject: o.Subject, RawSubject: o.RawSubject, DNSNames: o.DNSNames, IPAddresses: o.IPAddresses,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
}

// standInOrigin stands in for an origin that could not be reached or was
// refused: name alone, valid now.
func standInOrigin(name string, now time.Time) *x509.Certificate {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	if ip := net.ParseIP(name); ip != nil {
		c.IPAddresses = append(c.IPAddresses, ip)
	} else {
		c.DNSNames = []string{name}
	}
	return c
}

// namesKey is the cache key's digest of the allowed names: SHA-256 over
// each name's length and bytes, in order, so that no two lists share a
// digest by how they split; zero for none.
func namesKey(allowed []string) [32]byte {
	if len(allowed) == 0 {
		return [32]byte{}
	}
	h := sha256.New()
	var n []byte
	for _, name := range allowed {
		n = binary.AppendUvarint(n[:0], uint64(len(name)))
		h.Write(n)
		h.Write([]byte(name))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
