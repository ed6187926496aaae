package authority

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// Fail modes: what an edge without the org's key does with its traffic.
const (
	FailTunnel = "tunnel"
	FailBlock  = "block"
)

// OrgSpec is what an administrator gives to create an organisation.
type OrgSpec struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	PrivateOnly bool   `json:"private_only"`
	FailMode    string `json:"fail_mode"`
}

// CreateOrg records a new organisation. It has no intermediate yet: issue
// one (IssueIntermediate) or request a CSR (RequestCSR).
func (a *Authority) CreateOrg(ctx context.Context, spec OrgSpec) (store.Org, error) {
	if spec.ID == "root" {
		// /crl/root is the service root's CRL; an org named root would
		// send its leaves' relying parties to the wrong CRL.
		return store.Org{}, errorf(400, `organisation id "root" is reserved: choose another`)
	}
	if !orgIDPattern.MatchString(spec.ID) {
		return store.Org{}, errorf(400, "organisation id %q: use 1-63 lowercase letters, digits and '-', starting with a letter or digit", spec.ID)
	}
	if spec.Name == "" {
		spec.Name = spec.ID
	}
	switch spec.FailMode {
	case "":
		spec.FailMode = FailTunnel
	case FailTunnel, FailBlock:
	default:
		return store.Org{}, errorf(400, "fail_mode %q: use %q or %q", spec.FailMode, FailTunnel, FailBlock)
	}
	o := store.Org{ID: spec.ID, Name: spec.Name, PrivateOnly: spec.PrivateOnly, FailMode: spec.FailMode, CreatedAt: a.cfg.Now().UTC()}
	if err := a.cfg.Store.CreateOrg(ctx, o); err != nil {
		if errors.Is(err, store.ErrExists) {
			return store.Org{}, errorf(409, "organisation %q already exists", spec.ID)
		}
		return store.Org{}, err
	}
	return o, a.audit(ctx, "admin", "org.created", o.ID, "", fmt.Sprintf("private_only=%v fail_mode=%s", o.PrivateOnly, o.FailMode))
}

// SetPrivateOnly restricts an organisation's key to its private edges, or
// lifts the restriction.
func (a *Authority) SetPrivateOnly(ctx context.Context, orgID string, privateOnly bool) (store.Org, error) {
	o, err := a.org(ctx, orgID)
	if err != nil {
		return o, err
	}
	o.PrivateOnly = privateOnly
	if err := a.cfg.Store.UpdateOrg(ctx, o); err != nil {
		return o, err
	}
	return o, a.audit(ctx, "admin", "org.updated", o.ID, "", fmt.Sprintf("private_only=%v", privateOnly))
}

func (a *Authority) org(ctx context.Context, orgID string) (store.Org, error) {
	if orgID == systemOrg {
		return store.Org{}, errorf(404, "no organisation %q", orgID)
	}
	o, err := a.cfg.Store.Org(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return o, errorf(404, "no organisation %q", orgID)
	}
	return o, err
}

// IssueIntermediate gives an organisation a new intermediate under the
// service root, with a new key. The previous intermediate is retired and
// its key destroyed: this is also how a default-mode org rotates.
func (a *Authority) IssueIntermediate(ctx context.Context, orgID, alg string) (store.Intermediate, error) {
	o, err := a.org(ctx, orgID)
	if err != nil {
		return store.Intermediate{}, err
	}
	keyID, pub, err := a.newSealedKey(ctx, o.ID, alg)
	if err != nil {
		return store.Intermediate{}, err
	}
	now := a.cfg.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: o.Name + " Inspection CA", Organization: []string{o.Name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              minTime(now.Add(a.cfg.IntermediateValidity), a.root.NotAfter),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // it signs leaves, never another CA
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		// Its leaves are TLS servers and nothing else: verifiers that
		// nest extended key usage down the chain (Go's, NSS, Windows)
		// refuse a client, code-signing or e-mail certificate it signed,
		// so a stolen org key cannot sign those for the org's users.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CRLDistributionPoints: []string{a.cfg.PublicURL + "/crl/root"},
	}
	der, err := a.signWithRoot(ctx, tmpl, pub)
	if err != nil {
		_ = a.cfg.Store.DeleteKey(ctx, keyID)
		return store.Intermediate{}, fmt.Errorf("authority: signing an intermediate: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	in := store.Intermediate{ID: randomID(), OrgID: o.ID, KeyID: keyID, State: store.IntermediateActive,
		Cert: der, Chain: [][]byte{a.root.Raw}, NotAfter: cert.NotAfter, CreatedAt: now.UTC()}
	if err := a.cfg.Store.Activate(ctx, in); err != nil {
		return store.Intermediate{}, err
	}
	a.dropCRL(o.ID)
	return in, a.audit(ctx, "admin", "intermediate.issued", o.ID, keyID, "serial "+cert.SerialNumber.Text(16))
}

// RequestCSR makes a new key for an organisation that signs its
// intermediate with its own root, and returns the CSR to sign. The org's
// current intermediate stays active until the signed one is uploaded.
func (a *Authority) RequestCSR(ctx context.Context, orgID, alg string) (store.Intermediate, error) {
	o, err := a.org(ctx, orgID)
	if err != nil {
		return store.Intermediate{}, err
	}
	keyID, _, err := a.newSealedKey(ctx, o.ID, alg)
	if err != nil {
		return store.Intermediate{}, err
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: o.Name + " Inspection CA", Organization: []string{o.Name}}}
	var csr []byte
	err = a.withKey(ctx, keyID, func(s crypto.Signer) error {
		var err error
		csr, err = x509.CreateCertificateRequest(rand.Reader, tmpl, s)
		return err
	})
	if err != nil {
		_ = a.cfg.Store.DeleteKey(ctx, keyID)
		return store.Intermediate{}, fmt.Errorf("authority: making a CSR: %w", err)
	}
	in := store.Intermediate{ID: randomID(), OrgID: o.ID, KeyID: keyID, State: store.IntermediatePending, CSR: csr, CreatedAt: a.cfg.Now().UTC()}
	if err := a.cfg.Store.PutIntermediate(ctx, in); err != nil {
		return store.Intermediate{}, err
	}
	return in, a.audit(ctx, "admin", "intermediate.csr", o.ID, keyID, "")
}

// UploadIntermediate accepts the certificate an organisation signed for
// its pending CSR. It must carry the pending key, be a CA allowed to sign
// certificates, be valid now, and verify under the chain given with it
// (its issuer first, the org's root last). It then becomes the active
// intermediate and the previous key is destroyed.
func (a *Authority) UploadIntermediate(ctx context.Context, orgID string, certDER []byte, chain [][]byte) (store.Intermediate, error) {
	o, err := a.org(ctx, orgID)
	if err != nil {
		return store.Intermediate{}, err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return store.Intermediate{}, errorf(400, "the uploaded certificate does not parse: %v", err)
	}
	pending, err := a.pendingFor(ctx, o.ID, cert)
	if err != nil {
		return store.Intermediate{}, err
	}
	now := a.cfg.Now()
	switch {
	case !cert.IsCA || !cert.BasicConstraintsValid:
		return store.Intermediate{}, errorf(400, "the uploaded certificate is not a CA: sign it with basicConstraints CA:TRUE")
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return store.Intermediate{}, errorf(400, "the uploaded certificate may not sign certificates: add keyCertSign to its key usage")
	case now.Before(cert.NotBefore) || now.After(cert.NotAfter):
		return store.Intermediate{}, errorf(400, "the uploaded certificate is not valid now (%s to %s)", cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	if err := verifyUpload(cert, chain, now); err != nil {
		return store.Intermediate{}, err
	}
	pending.State = store.IntermediateActive
	pending.Cert, pending.Chain, pending.NotAfter, pending.CSR = certDER, chain, cert.NotAfter, nil
	if err := a.cfg.Store.Activate(ctx, pending); err != nil {
		return store.Intermediate{}, err
	}
	a.dropCRL(o.ID)
	return pending, a.audit(ctx, "admin", "intermediate.uploaded", o.ID, pending.KeyID, "serial "+cert.SerialNumber.Text(16))
}

// pendingFor finds the org's pending intermediate whose key the
// certificate carries; a certificate for any other key is refused, since
// the CA could never sign with it.
func (a *Authority) pendingFor(ctx context.Context, orgID string, cert *x509.Certificate) (store.Intermediate, error) {
	ins, err := a.cfg.Store.Intermediates(ctx, orgID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Intermediate{}, err
	}
	sawPending := false
	for _, in := range ins {
		if in.State != store.IntermediatePending {
			continue
		}
		sawPending = true
		csr, err := x509.ParseCertificateRequest(in.CSR)
		if err != nil {
			continue
		}
		if k, ok := csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(cert.PublicKey) {
			return in, nil
		}
	}
	if !sawPending {
		return store.Intermediate{}, errorf(409, "organisation %q has no pending CSR: request one first", orgID)
	}
	return store.Intermediate{}, errorf(400, "the uploaded certificate's key is not the key of any pending CSR: sign the CSR the CA gave you")
}

func verifyUpload(cert *x509.Certificate, chain [][]byte, now time.Time) error {
	if len(chain) == 0 {
		return errorf(400, "upload the chain with the certificate: at least the organisation's root")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return errorf(400, "chain certificate %d does not parse: %v", i, err)
		}
		if i == len(chain)-1 {
			roots.AddCert(c)
		} else {
			inters.AddCert(c)
		}
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return errorf(400, "the uploaded certificate does not verify under the chain given: %v", err)
	}
	return nil
}

// Rotate gives an organisation a new intermediate with a new key. An org
// on the default path gets it at once; an org that signs its own gets a
// new CSR, and the rotation completes when it uploads the signed
// certificate.
func (a *Authority) Rotate(ctx context.Context, orgID string) (store.Intermediate, error) {
	active, err := a.active(ctx, orgID)
	if err != nil {
		return store.Intermediate{}, err
	}
	alg := AlgECDSAP256
	if sk, _, err := a.cfg.Store.Key(ctx, active.KeyID); err == nil {
		alg = sk.Algorithm
	}
	if a.issuedByRoot(active) {
		return a.IssueIntermediate(ctx, orgID, alg)
	}
	return a.RequestCSR(ctx, orgID, alg)
}

func (a *Authority) issuedByRoot(in store.Intermediate) bool {
	return len(in.Chain) == 1 && bytes.Equal(in.Chain[0], a.root.Raw)
}

// active returns the org's active intermediate.
func (a *Authority) active(ctx context.Context, orgID string) (store.Intermediate, error) {
	if _, err := a.org(ctx, orgID); err != nil {
		return store.Intermediate{}, err
	}
	ins, err := a.cfg.Store.Intermediates(ctx, orgID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Intermediate{}, err
	}
	for _, in := range ins {
		if in.State == store.IntermediateActive {
			return in, nil
		}
	}
	return store.Intermediate{}, errorf(404, "organisation %q has no active intermediate yet", orgID)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
