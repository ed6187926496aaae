// Package store is the CA's persistent state behind one interface with two
// SQL backends: SQLite, a file in the data folder and the single-node
// default, and PostgreSQL, for CA nodes sharing a replicated database.
//
// Private keys reach the store only sealed (package keyseal): a key's
// ciphertext lives in keys, and the data key that opens it lives in
// data_keys. Deleting a key deletes its data key, and Backup never copies
// data_keys, so a key deleted after a backup is unreadable in that backup
// too (crypto-shredding). A database-level backup must exclude data_keys
// for the same reason.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors a caller can act on.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Org is an organisation whose users' traffic is inspected.
type Org struct {
	ID   string // a slug: lowercase letters, digits and '-'
	Name string
	// PrivateOnly restricts the org's key to its own private edges.
	PrivateOnly bool
	// FailMode is what edges do for this org when they hold no key:
	// "tunnel" (pass traffic through undecrypted) or "block".
	FailMode  string
	CreatedAt time.Time
}

// SealedKey is a private key at rest: PKCS #8 DER sealed with AES-256-GCM
// under its own data key.
type SealedKey struct {
	ID         string // random, hex
	OrgID      string // "" for the CA's own service root key
	Algorithm  string // "ecdsa-p256" or "rsa-2048"
	Ciphertext []byte
	CreatedAt  time.Time
}

// DataKey is a key's data key, sealed under the key-encryption key derived
// from the CA password. Its KDF names the derivation, so records made under
// older parameters still open.
type DataKey struct {
	KeyID  string
	Sealed []byte
	KDF    string // keyseal.Params in text form, salt included
}

// Vault is the one record that lets the CA check its password at start-up
// without storing it: the KDF parameters and a known value sealed under
// the derived key.
type Vault struct {
	KDF      string
	Verifier []byte
}

// Intermediate states.
const (
	IntermediatePending = "pending" // CSR issued, waiting for the signed certificate
	IntermediateActive  = "active"
	IntermediateRetired = "retired"
)

// Intermediate is an organisation's intermediate CA.
type Intermediate struct {
	ID       string // random, hex
	OrgID    string
	KeyID    string
	State    string
	CSR      []byte   // DER, while pending
	Cert     []byte   // DER, once active
	Chain    [][]byte // DER certificates above Cert, root last (may be empty)
	NotAfter time.Time
	// CreatedAt orders an org's intermediates.
	CreatedAt time.Time
}

// Revocation is a revoked certificate serial of one organisation.
type Revocation struct {
	OrgID     string
	Serial    []byte // big-endian, as in the certificate
	RevokedAt time.Time
	Reason    int // RFC 5280 §5.3.1 CRLReason
}

// Edge is an enrolled edge and its entitlement.
type Edge struct {
	ID string
	// OrgID is "" for an edge of the public fleet, else the one org whose
	// private edge this is.
	OrgID string
	// CertSHA256 is the SHA-256 of the client certificate the CA issued.
	CertSHA256 [32]byte
	CertSerial []byte
	CreatedAt  time.Time
	Revoked    bool
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	Seq    int64 // assigned by the store
	Time   time.Time
	Actor  string // "edge:<id>", "admin", "system"
	Action string // "key.issued", "key.refused", "org.created", ...
	OrgID  string
	KeyID  string
	Detail string
}

// Store is the CA's state. Implementations are safe for concurrent use.
type Store interface {
	// Vault returns the password record, or ErrNotFound in a new store.
	Vault(ctx context.Context) (Vault, error)
	// InitVault stores the password record once; ErrExists after that.
	InitVault(ctx context.Context, v Vault) error

	CreateOrg(ctx context.Context, o Org) error
	Org(ctx context.Context, id string) (Org, error)
	Orgs(ctx context.Context) ([]Org, error)
	UpdateOrg(ctx context.Context, o Org) error

	// PutKey stores a sealed key and its data key together.
	PutKey(ctx context.Context, k SealedKey, dk DataKey) error
	// Key returns a sealed key and its data key.
	Key(ctx context.Context, id string) (SealedKey, DataKey, error)
	// DeleteKey deletes a key and destroys its data key.
	DeleteKey(ctx context.Context, id string) error

	PutIntermediate(ctx context.Context, in Intermediate) error
	Intermediate(ctx context.Context, id string) (Intermediate, error)
	// Intermediates lists an org's intermediates, newest first.
	Intermediates(ctx context.Context, orgID string) ([]Intermediate, error)
	// Activate makes in the org's active intermediate in one transaction:
	// the previous active one is retired and its key deleted (with its
	// data key).
	Activate(ctx context.Context, in Intermediate) error

	Revoke(ctx context.Context, r Revocation) error
	Revocations(ctx context.Context, orgID string) ([]Revocation, error)

	CreateEdge(ctx context.Context, e Edge) error
	EdgeByCert(ctx context.Context, sha [32]byte) (Edge, error)
	Edges(ctx context.Context) ([]Edge, error)

	// Audit appends to the audit log; there is no way to change or delete
	// an entry.
	Audit(ctx context.Context, e AuditEntry) error
	AuditLog(ctx context.Context, afterSeq int64, limit int) ([]AuditEntry, error)

	// Backup writes a consistent copy of everything but data keys,
	// compressed with zstd, to w.
	Backup(ctx context.Context, w io.Writer) error

	Close() error
}
