package authority

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/lucid-edge/lucid/ca/keywire"
	"github.com/lucid-edge/lucid/ca/store"
)

// EnrolEdge signs an edge's CSR with the service root, making a client
// certificate the edge presents to the key API, and records what the edge
// is entitled to: orgID "" enrols it in the public fleet, otherwise it is a
// private edge of that organisation. The edge keeps its own key: the CA
// never sees it.
func (a *Authority) EnrolEdge(ctx context.Context, orgID string, csrDER []byte) (store.Edge, []byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return store.Edge{}, nil, errorf(400, "the edge's CSR does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return store.Edge{}, nil, errorf(400, "the edge's CSR is not signed by its own key: %v", err)
	}
	if orgID != "" {
		if _, err := a.org(ctx, orgID); err != nil {
			return store.Edge{}, nil, err
		}
	}
	id := randomID()
	now := a.cfg.Now()
	serial := randomSerial()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "edge " + id, OrganizationalUnit: []string{entitlementName(orgID)}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     minTime(now.Add(a.cfg.EdgeCertValidity), a.root.NotAfter),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := a.signWithRoot(ctx, tmpl, csr.PublicKey)
	if err != nil {
		return store.Edge{}, nil, fmt.Errorf("authority: signing an edge certificate: %w", err)
	}
	e := store.Edge{ID: id, OrgID: orgID, CertSHA256: sha256.Sum256(der), CertSerial: serial.Bytes(), CreatedAt: now.UTC()}
	if err := a.cfg.Store.CreateEdge(ctx, e); err != nil {
		return store.Edge{}, nil, err
	}
	return e, der, a.audit(ctx, "admin", "edge.enrolled", orgID, "", "edge "+id+" "+entitlementName(orgID))
}

func entitlementName(orgID string) string {
	if orgID == "" {
		return "public fleet"
	}
	return "private:" + orgID
}

// KeyFor decides whether the edge whose client certificate is certDER may
// have orgID's key and, if so, opens it: it returns what the edge is sent,
// the metadata and the key's PKCS #8 DER (ca/keywire frames them). The
// caller wipes the DER with keyseal.Wipe once it is sent. Every answer,
// yes or no, is audited.
//
// Entitlement: an edge of the public fleet may have the key of any
// organisation that does not restrict itself to private edges; a private
// edge may have its own organisation's key and no other.
func (a *Authority) KeyFor(ctx context.Context, certDER []byte, orgID string) (keywire.Meta, []byte, error) {
	e, err := a.edgeFor(ctx, certDER)
	if err != nil {
		return keywire.Meta{}, nil, err
	}
	actor := "edge:" + e.ID
	// An organisation that does not exist and one the edge may not have
	// get the same answer, so the key API tells no edge which
	// organisations exist or which are private; the audit says which.
	notYours := errorf(403, "edge %s may not have organisation %q's key", e.ID, orgID)
	o, err := a.org(ctx, orgID)
	if err != nil {
		if Status(err) != 404 {
			return keywire.Meta{}, nil, err
		}
		if err := a.audit(ctx, actor, "key.refused", orgID, "", "no such organisation"); err != nil {
			return keywire.Meta{}, nil, err
		}
		return keywire.Meta{}, nil, notYours
	}
	if reason := entitled(e, o); reason != "" {
		if err := a.audit(ctx, actor, "key.refused", o.ID, "", reason); err != nil {
			return keywire.Meta{}, nil, err
		}
		return keywire.Meta{}, nil, notYours
	}
	in, err := a.active(ctx, o.ID)
	if err != nil {
		return keywire.Meta{}, nil, err
	}
	sk, dk, err := a.cfg.Store.Key(ctx, in.KeyID)
	if err != nil {
		return keywire.Meta{}, nil, fmt.Errorf("authority: key of %q: %w", o.ID, err)
	}
	// Audit before the key leaves: an issuance that cannot be recorded
	// does not happen.
	if err := a.audit(ctx, actor, "key.issued", o.ID, in.KeyID, ""); err != nil {
		return keywire.Meta{}, nil, err
	}
	der, err := a.cfg.KEK.Open(in.KeyID, sk.Ciphertext, dk.Sealed)
	if err != nil {
		return keywire.Meta{}, nil, fmt.Errorf("authority: opening the key of %q: %w", o.ID, err)
	}
	meta := keywire.Meta{
		Org: o.ID, KeyID: in.KeyID, Algorithm: sk.Algorithm,
		Chain:  append([][]byte{in.Cert}, in.Chain...),
		CRLURL: a.CRLURL(o.ID), FailMode: o.FailMode, NotAfter: in.NotAfter,
	}
	return meta, der, nil
}

// CRLURL is where an organisation's CRL is served.
func (a *Authority) CRLURL(orgID string) string { return a.cfg.PublicURL + "/crl/" + orgID }

func entitled(e store.Edge, o store.Org) string {
	switch {
	case e.OrgID == "" && o.PrivateOnly:
		return "the organisation restricts its key to its private edges"
	case e.OrgID != "" && e.OrgID != o.ID:
		return "a private edge of " + e.OrgID + " serves only that organisation"
	}
	return ""
}

// edgeFor finds the enrolled, unrevoked edge of a client certificate. The
// TLS layer has already checked that the certificate chains to the service
// root; this check is that the CA still knows and trusts that edge.
func (a *Authority) edgeFor(ctx context.Context, certDER []byte) (store.Edge, error) {
	e, err := a.cfg.Store.EdgeByCert(ctx, sha256.Sum256(certDER))
	if errors.Is(err, store.ErrNotFound) {
		return e, errorf(403, "this client certificate belongs to no enrolled edge")
	}
	if err != nil {
		return e, err
	}
	if e.Revoked {
		return e, errorf(403, "edge %s has been revoked", e.ID)
	}
	return e, nil
}
