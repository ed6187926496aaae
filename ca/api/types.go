package api

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/ca/authority"
	"github.com/lucid-edge/lucid/ca/store"
)

// The admin API's request and response bodies. Certificates travel as PEM;
// serials and hashes as lowercase hex.

// CreateOrgRequest is the body of POST /admin/v1/orgs.
type CreateOrgRequest = authority.OrgSpec

// UpdateOrgRequest is the body of PATCH /admin/v1/orgs/{id}. A field left
// out is left as it is.
type UpdateOrgRequest struct {
	PrivateOnly *bool `json:"private_only"`
}

// AlgorithmRequest is the body of POST .../intermediate and .../csr; an
// empty algorithm means ECDSA P-256.
type AlgorithmRequest struct {
	Algorithm string `json:"algorithm"`
}

// CSRResponse answers POST .../csr.
type CSRResponse struct {
	CSRPEM         string `json:"csr_pem"`
	IntermediateID string `json:"intermediate_id"`
}

// UploadRequest is the body of POST .../upload: the certificate the
// organisation signed for its CSR, and the chain above it, its issuer
// first and its root last.
type UploadRequest struct {
	CertificatePEM string `json:"certificate_pem"`
	ChainPEM       string `json:"chain_pem"`
}

// RevokeRequest is the body of POST .../revoke.
type RevokeRequest struct {
	Serial string `json:"serial"` // hex, colons allowed
	Reason int    `json:"reason"` // RFC 5280 CRLReason
}

// RevokeIntermediateRequest is the body of POST .../revoke-intermediate.
type RevokeIntermediateRequest struct {
	Reason int `json:"reason"`
}

// Revoked answers the revoke endpoints.
type Revoked struct {
	Org    string `json:"org"`
	Serial string `json:"serial,omitempty"`
	Reason int    `json:"reason"`
}

// EnrolRequest is the body of POST /admin/v1/edges: the edge's CSR, and
// the organisation whose private edge it is ("" for the public fleet).
type EnrolRequest struct {
	Org    string `json:"org"`
	CSRPEM string `json:"csr_pem"`
}

// EnrolResponse answers POST /admin/v1/edges.
type EnrolResponse struct {
	ID             string `json:"id"`
	CertificatePEM string `json:"certificate_pem"`
	RootPEM        string `json:"root_pem"`
}

// Org is an organisation as the admin API shows it.
type Org struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	PrivateOnly   bool           `json:"private_only"`
	FailMode      string         `json:"fail_mode"`
	CreatedAt     time.Time      `json:"created_at"`
	Intermediates []Intermediate `json:"intermediates,omitempty"`
}

// Intermediate is an organisation's intermediate as the admin API shows
// it. It never carries key material, only the key's ID.
type Intermediate struct {
	ID             string    `json:"id"`
	State          string    `json:"state"`
	KeyID          string    `json:"key_id"`
	Serial         string    `json:"serial,omitempty"`
	Subject        string    `json:"subject,omitempty"`
	Issuer         string    `json:"issuer,omitempty"`
	NotAfter       time.Time `json:"not_after,omitzero"`
	CreatedAt      time.Time `json:"created_at"`
	CertificatePEM string    `json:"certificate_pem,omitempty"`
	ChainPEM       string    `json:"chain_pem,omitempty"`
	CSRPEM         string    `json:"csr_pem,omitempty"`
}

// Edge is an enrolled edge.
type Edge struct {
	ID         string    `json:"id"`
	Org        string    `json:"org"` // "" for the public fleet
	CertSHA256 string    `json:"cert_sha256"`
	CertSerial string    `json:"cert_serial"`
	CreatedAt  time.Time `json:"created_at"`
	Revoked    bool      `json:"revoked"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Org    string    `json:"org,omitempty"`
	KeyID  string    `json:"key_id,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

func orgView(o store.Org, ins []store.Intermediate) Org {
	v := Org{ID: o.ID, Name: o.Name, PrivateOnly: o.PrivateOnly, FailMode: o.FailMode, CreatedAt: o.CreatedAt}
	for _, in := range ins {
		v.Intermediates = append(v.Intermediates, intermediateView(in))
	}
	return v
}

func intermediateView(in store.Intermediate) Intermediate {
	v := Intermediate{ID: in.ID, State: in.State, KeyID: in.KeyID, NotAfter: in.NotAfter, CreatedAt: in.CreatedAt}
	if len(in.Cert) > 0 {
		v.CertificatePEM = certPEM(in.Cert)
		if c, err := x509.ParseCertificate(in.Cert); err == nil {
			v.Serial = c.SerialNumber.Text(16)
			v.Subject = c.Subject.String()
			v.Issuer = c.Issuer.String()
		}
	}
	var chain strings.Builder
	for _, der := range in.Chain {
		chain.WriteString(certPEM(der))
	}
	v.ChainPEM = chain.String()
	if len(in.CSR) > 0 {
		v.CSRPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: in.CSR}))
	}
	return v
}

func edgeView(e store.Edge) Edge {
	return Edge{ID: e.ID, Org: e.OrgID, CertSHA256: hex.EncodeToString(e.CertSHA256[:]),
		CertSerial: hex.EncodeToString(e.CertSerial), CreatedAt: e.CreatedAt, Revoked: e.Revoked}
}

func auditView(e store.AuditEntry) AuditEntry {
	return AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Org: e.OrgID, KeyID: e.KeyID, Detail: e.Detail}
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
