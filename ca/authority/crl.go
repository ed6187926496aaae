package authority

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// Revoke adds a certificate serial to an organisation's CRL: a leaf an
// edge minted, or (with orgID "") an intermediate the service root signed.
func (a *Authority) Revoke(ctx context.Context, orgID string, serial *big.Int, reason int) error {
	if serial == nil || serial.Sign() <= 0 {
		return errorf(400, "give the serial to revoke as a positive number")
	}
	if reason < 0 || reason > 10 || reason == 7 {
		return errorf(400, "reason %d is not an RFC 5280 CRLReason", reason)
	}
	if orgID != "" {
		if _, err := a.org(ctx, orgID); err != nil {
			return err
		}
	}
	r := store.Revocation{OrgID: orgID, Serial: serial.Bytes(), RevokedAt: a.cfg.Now().UTC(), Reason: reason}
	if err := a.cfg.Store.Revoke(ctx, r); err != nil {
		return err
	}
	a.dropCRL(orgID)
	return a.audit(ctx, "admin", "cert.revoked", orgID, "", "serial "+serial.Text(16))
}

// RevokeIntermediate revokes an organisation's active intermediate on the
// service root's CRL.
func (a *Authority) RevokeIntermediate(ctx context.Context, orgID string, reason int) error {
	in, err := a.active(ctx, orgID)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(in.Cert)
	if err != nil {
		return err
	}
	if !a.issuedByRoot(in) {
		return errorf(409, "organisation %q signed its own intermediate: revoke it on the organisation's root", orgID)
	}
	return a.Revoke(ctx, systemOrg, cert.SerialNumber, reason)
}

// CRL returns the organisation's current CRL, signed by its active
// intermediate (orgID "root": the service root's), and when it expires.
// A CRL is reused until half its life has passed.
func (a *Authority) CRL(ctx context.Context, orgID string) ([]byte, time.Time, error) {
	key := orgID
	if orgID == "root" {
		key = systemOrg
	}
	// Whole seconds: what the CRL encodes is what the caller is told.
	now := a.cfg.Now().Truncate(time.Second)
	a.crlMu.Lock()
	c, ok := a.crls[key]
	a.crlMu.Unlock()
	if ok && now.Before(c.refreshAt) {
		return c.der, c.nextUpdate, nil
	}
	issuerCert, keyID, err := a.crlIssuer(ctx, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	revs, err := a.cfg.Store.Revocations(ctx, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(now.UnixNano()), // monotonic across CA restarts
		ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(a.cfg.CRLValidity),
	}
	for _, r := range revs {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: new(big.Int).SetBytes(r.Serial), RevocationTime: r.RevokedAt, ReasonCode: r.Reason,
		})
	}
	var der []byte
	err = a.withKey(ctx, keyID, func(s crypto.Signer) error {
		var err error
		der, err = x509.CreateRevocationList(rand.Reader, tmpl, issuerCert, s)
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("authority: signing the CRL of %q: %w", orgID, err)
	}
	a.crlMu.Lock()
	a.crls[key] = cachedCRL{der: der, nextUpdate: tmpl.NextUpdate, refreshAt: now.Add(a.cfg.CRLValidity / 2)}
	a.crlMu.Unlock()
	return der, tmpl.NextUpdate, nil
}

func (a *Authority) crlIssuer(ctx context.Context, orgID string) (*x509.Certificate, string, error) {
	if orgID == systemOrg {
		return a.root, a.rootKeyID, nil
	}
	in, err := a.active(ctx, orgID)
	if err != nil {
		return nil, "", err
	}
	cert, err := x509.ParseCertificate(in.Cert)
	if err != nil {
		return nil, "", err
	}
	return cert, in.KeyID, nil
}

// dropCRL forgets a cached CRL after a change that must show in it.
func (a *Authority) dropCRL(orgID string) {
	a.crlMu.Lock()
	delete(a.crls, orgID)
	a.crlMu.Unlock()
}
