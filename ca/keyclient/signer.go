package keyclient

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lucid-edge/lucid/internal/secmem"
)

// slabSigner signs with an organisation's key held in the client's slab.
// Each signature parses the key from the slab into a Go key object, signs,
// and wipes that object: the key is on the Go heap for one call only. A
// key wiped for idleness is fetched again first.
type slabSigner struct {
	c   *Client
	org string
	pub crypto.PublicKey
}

func (s *slabSigner) Public() crypto.PublicKey { return s.pub }

func (s *slabSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.c.ensure(context.Background(), s.org); err != nil {
		return nil, err
	}
	key, err := s.c.parseHeld(s.org)
	if err != nil {
		return nil, err
	}
	defer secmem.WipePrivateKey(key)
	signer := key.(crypto.Signer)
	if !publicEqual(signer.Public(), s.pub) {
		// The CA rotated the org's intermediate since this Issuer was
		// made: a leaf signed now would not chain to the certificate the
		// caller holds.
		return nil, errors.New("keyclient: the organisation's key changed; get its issuer again")
	}
	signatures.Inc()
	return signer.Sign(rand, digest, opts)
}

// parseHeld parses the held key under the lock, so a concurrent wipe
// cannot free the block mid-parse.
func (c *Client) parseHeld(org string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orgs[org]
	if o == nil || o.der == nil {
		return nil, &NoKeyError{Org: org, FailMode: c.cfg.DefaultFailMode, Err: errors.New("key was wiped")}
	}
	o.used = time.Now()
	key, err := x509.ParsePKCS8PrivateKey(o.der)
	if err != nil {
		return nil, fmt.Errorf("keyclient: held key of %q does not parse: %w", org, err)
	}
	if _, ok := key.(crypto.Signer); !ok {
		return nil, fmt.Errorf("keyclient: held key of %q cannot sign", org)
	}
	return key, nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// checkKeyMatches refuses a key that is not the intermediate's.
func checkKeyMatches(der []byte, inter *x509.Certificate) error {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("CA sent a key that does not parse: %w", err)
	}
	defer secmem.WipePrivateKey(key)
	s, ok := key.(crypto.Signer)
	if !ok || !publicEqual(s.Public(), inter.PublicKey) {
		return errors.New("CA sent a key that is not its intermediate's")
	}
	return nil
}
