package authority

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// The service root is stored like an organisation's intermediate, under
// the empty org ID.
const systemOrg = ""

// rootValidity is the service root's life; rotating it means re-enrolling
// every edge, so it is long.
const rootValidity = 10 * 365 * 24 * time.Hour

func (a *Authority) loadOrCreateRoot(ctx context.Context) error {
	ins, err := a.cfg.Store.Intermediates(ctx, systemOrg)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("authority: loading the service root: %w", err)
	}
	for _, in := range ins {
		if in.State == store.IntermediateActive {
			cert, err := x509.ParseCertificate(in.Cert)
			if err != nil {
				return fmt.Errorf("authority: the stored service root does not parse: %w", err)
			}
			a.root, a.rootKeyID = cert, in.KeyID
			return nil
		}
	}
	// The service root's records hang off an organisation row of its own,
	// which no administrator can name (org IDs are never empty) and which
	// the listings leave out.
	err = a.cfg.Store.CreateOrg(ctx, store.Org{ID: systemOrg, Name: "Lucid service", FailMode: FailBlock, CreatedAt: a.cfg.Now().UTC()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("authority: recording the service: %w", err)
	}
	keyID, pub, err := a.newSealedKey(ctx, systemOrg, AlgECDSAP256)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Lucid Service Root", Organization: []string{"Lucid"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(rootValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1, // root → org intermediate → leaf
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	var der []byte
	err = a.withKey(ctx, keyID, func(s crypto.Signer) error {
		var err error
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, s)
		return err
	})
	if err != nil {
		return fmt.Errorf("authority: signing the service root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	in := store.Intermediate{ID: randomID(), OrgID: systemOrg, KeyID: keyID, State: store.IntermediateActive,
		Cert: der, NotAfter: cert.NotAfter, CreatedAt: now.UTC()}
	if err := a.cfg.Store.Activate(ctx, in); err != nil {
		return fmt.Errorf("authority: storing the service root: %w", err)
	}
	a.root, a.rootKeyID = cert, keyID
	return a.audit(ctx, "system", "root.created", systemOrg, keyID, "service root "+cert.Subject.CommonName)
}

// signWithRoot signs tmpl for pub with the service root.
func (a *Authority) signWithRoot(ctx context.Context, tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	var der []byte
	err := a.withKey(ctx, a.rootKeyID, func(s crypto.Signer) error {
		var err error
		der, err = x509.CreateCertificate(rand.Reader, tmpl, a.root, pub, s)
		return err
	})
	return der, err
}

// randomSerial is a positive 128-bit serial (RFC 5280 §4.1.2.2).
func randomSerial() *big.Int {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("authority: no randomness: " + err.Error())
	}
	b[0] &= 0x7f
	b[0] |= 0x01 // never zero, never a leading zero byte
	return new(big.Int).SetBytes(b[:])
}
