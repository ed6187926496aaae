package sqlstore

import (
	"fmt"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// A backup is zstd-compressed JSON lines, one object a line:
//
//	{"format":"lucid-ca-backup","version":1,"schema":1,"source":"sqlite","taken_at":"..."}
//	{"table":"orgs","row":{"id":"acme",...}}
//	... every row of vault, orgs, keys, intermediates, revocations, edges, audit
//	{"end":{"rows":N}}
//
// Byte strings are base64, times RFC 3339. The end line makes a truncated
// backup detectable. data_keys is never written, and a reader refuses it.
const (
	backupFormat  = "lucid-ca-backup"
	backupVersion = 1
)

// Backup tables in the order they are written.
const (
	tableVault         = "vault"
	tableOrgs          = "orgs"
	tableKeys          = "keys"
	tableIntermediates = "intermediates"
	tableRevocations   = "revocations"
	tableEdges         = "edges"
	tableAudit         = "audit"
)

type backupHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Schema  int       `json:"schema"`
	Source  string    `json:"source"`
	TakenAt time.Time `json:"taken_at"`
}

type backupLine struct {
	Table string `json:"table"`
	Row   any    `json:"row"`
}

type backupEnd struct {
	End struct {
		Rows int64 `json:"rows"`
	} `json:"end"`
}

// The row types spell out the backup's columns, so that renaming a Go
// field cannot silently change the format.

type vaultRow struct {
	KDF      string `json:"kdf"`
	Verifier []byte `json:"verifier"`
}

type orgRow struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PrivateOnly bool      `json:"private_only"`
	FailMode    string    `json:"fail_mode"`
	CreatedAt   time.Time `json:"created_at"`
}

type keyRow struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"org_id"`
	Algorithm  string    `json:"algorithm"`
	Ciphertext []byte    `json:"ciphertext"`
	CreatedAt  time.Time `json:"created_at"`
}

type intermediateRow struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	KeyID     string    `json:"key_id"`
	State     string    `json:"state"`
	CSR       []byte    `json:"csr"`
	Cert      []byte    `json:"cert"`
	Chain     [][]byte  `json:"chain"`
	NotAfter  time.Time `json:"not_after"`
	CreatedAt time.Time `json:"created_at"`
}

type revocationRow struct {
	OrgID     string    `json:"org_id"`
	Serial    []byte    `json:"serial"`
	RevokedAt time.Time `json:"revoked_at"`
	Reason    int       `json:"reason"`
}

type edgeRow struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"org_id"`
	CertSHA256 []byte    `json:"cert_sha256"`
	CertSerial []byte    `json:"cert_serial"`
	CreatedAt  time.Time `json:"created_at"`
	Revoked    bool      `json:"revoked"`
}

type auditRow struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	OrgID  string    `json:"org_id"`
	KeyID  string    `json:"key_id"`
	Detail string    `json:"detail"`
}

func (r vaultRow) value() (store.Vault, error) {
	return store.Vault{KDF: r.KDF, Verifier: r.Verifier}, nil
}

func (r orgRow) value() (store.Org, error) {
	return store.Org(r), nil
}

func (r keyRow) value() (store.SealedKey, error) {
	return store.SealedKey(r), nil
}

func (r intermediateRow) value() (store.Intermediate, error) {
	return store.Intermediate(r), nil
}

func (r revocationRow) value() (store.Revocation, error) {
	return store.Revocation(r), nil
}

func (r edgeRow) value() (store.Edge, error) {
	e := store.Edge{ID: r.ID, OrgID: r.OrgID, CertSerial: r.CertSerial, CreatedAt: r.CreatedAt, Revoked: r.Revoked}
	if len(r.CertSHA256) != len(e.CertSHA256) {
		return store.Edge{}, fmt.Errorf("edge %q: certificate hash of %d bytes", r.ID, len(r.CertSHA256))
	}
	copy(e.CertSHA256[:], r.CertSHA256)
	return e, nil
}

func (r auditRow) value() (store.AuditEntry, error) {
	return store.AuditEntry(r), nil
}

func edgeToRow(e store.Edge) edgeRow {
	return edgeRow{ID: e.ID, OrgID: e.OrgID, CertSHA256: e.CertSHA256[:], CertSerial: e.CertSerial,
		CreatedAt: e.CreatedAt, Revoked: e.Revoked}
}
