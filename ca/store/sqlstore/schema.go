package sqlstore

import "strings"

// migrations are the schema's versions in order: migrations[i] takes a
// database from version i to i+1. Never edit one that has shipped; append.
var migrations = []func(d *Dialect) []string{
	schemaV1,
}

// schemaV1 is the first schema. {BLOB} and {AUDIT_SEQ} stand for the
// dialect's types.
func schemaV1(d *Dialect) []string {
	stmts := []string{
		// The one password record; id is pinned to 1 so there can be only one.
		`CREATE TABLE vault (
			id       INTEGER PRIMARY KEY CHECK (id = 1),
			kdf      TEXT NOT NULL,
			verifier {BLOB} NOT NULL
		)`,
		`CREATE TABLE orgs (
			id           TEXT PRIMARY KEY,
			name         TEXT NOT NULL,
			private_only BOOLEAN NOT NULL,
			fail_mode    TEXT NOT NULL,
			created_at   BIGINT NOT NULL
		)`,
		// org_id is '' for the CA's own root key, hence no foreign key.
		`CREATE TABLE keys (
			id         TEXT PRIMARY KEY,
			org_id     TEXT NOT NULL,
			algorithm  TEXT NOT NULL,
			ciphertext {BLOB} NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		// Never copied by Backup: without these rows the keys are noise.
		`CREATE TABLE data_keys (
			key_id TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
			sealed {BLOB} NOT NULL,
			kdf    TEXT NOT NULL
		)`,
		// key_id has no foreign key: a retired intermediate still names the
		// key that was deleted with its retirement. chain is a JSON array of
		// base64 DER certificates.
		`CREATE TABLE intermediates (
			id         TEXT PRIMARY KEY,
			org_id     TEXT NOT NULL REFERENCES orgs (id),
			key_id     TEXT NOT NULL,
			state      TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
			csr        {BLOB},
			cert       {BLOB},
			chain      TEXT NOT NULL,
			not_after  BIGINT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE INDEX intermediates_by_org ON intermediates (org_id, created_at)`,
		`CREATE UNIQUE INDEX intermediates_one_active ON intermediates (org_id) WHERE state = 'active'`,
		`CREATE TABLE revocations (
			org_id     TEXT NOT NULL REFERENCES orgs (id),
			serial     {BLOB} NOT NULL,
			revoked_at BIGINT NOT NULL,
			reason     INTEGER NOT NULL,
			PRIMARY KEY (org_id, serial)
		)`,
		// org_id is '' for an edge of the public fleet, hence no foreign key.
		`CREATE TABLE edges (
			id          TEXT PRIMARY KEY,
			org_id      TEXT NOT NULL,
			cert_sha256 {BLOB} NOT NULL UNIQUE,
			cert_serial {BLOB} NOT NULL,
			created_at  BIGINT NOT NULL,
			revoked     BOOLEAN NOT NULL
		)`,
		`CREATE TABLE audit (
			seq       {AUDIT_SEQ},
			logged_at BIGINT NOT NULL,
			actor     TEXT NOT NULL,
			action    TEXT NOT NULL,
			org_id    TEXT NOT NULL,
			key_id    TEXT NOT NULL,
			detail    TEXT NOT NULL
		)`,
	}
	stmts = append(stmts, d.AppendOnly("audit")...)
	r := strings.NewReplacer("{BLOB}", d.Blob, "{AUDIT_SEQ}", d.AuditSeq)
	for i := range stmts {
		stmts[i] = r.Replace(stmts[i])
	}
	return stmts
}
