package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// backupWindow is the zstd window Backup compresses with and the largest
// ReadBackup accepts.
const backupWindow = 8 << 20

// Backup writes every table but data_keys, as one consistent snapshot, to
// w in the format described in backupformat.go. Keys are in it only as
// ciphertext whose data keys are not, so deleting a key later shreds it in
// this backup too.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	opts := s.d.Snapshot
	tx, err := s.db.BeginTx(ctx, &opts)
	if err != nil {
		return fmt.Errorf("store: backup: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	zw, err := zstd.NewWriter(w, zstd.WithWindowSize(backupWindow), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := s.writeBackup(ctx, tx, json.NewEncoder(zw)); err != nil {
		_ = zw.Close()
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return tx.Commit()
}

func (s *Store) writeBackup(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	schema, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	err = enc.Encode(backupHeader{
		Format: backupFormat, Version: backupVersion, Schema: schema,
		Source: s.d.Name, TakenAt: time.Now().UTC(),
	})
	if err != nil {
		return err
	}
	var rows int64
	put := func(table string) func(row any) error {
		return func(row any) error {
			rows++
			return enc.Encode(backupLine{Table: table, Row: row})
		}
	}
	err = dump(ctx, tx, `SELECT kdf, verifier FROM vault`, func(r scanner) (any, error) {
		var v vaultRow
		err := r.Scan(&v.KDF, &v.Verifier)
		return v, err
	}, put(tableVault))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+orgColumns+` FROM orgs ORDER BY id`, func(r scanner) (any, error) {
		o, err := scanOrg(r)
		return orgRow(o), err
	}, put(tableOrgs))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+keyColumns+` FROM keys ORDER BY id`, func(r scanner) (any, error) {
		k, err := scanKey(r)
		return keyRow(k), err
	}, put(tableKeys))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+intermediateColumns+` FROM intermediates ORDER BY org_id, created_at, id`, func(r scanner) (any, error) {
		in, err := scanIntermediate(r)
		return intermediateRow(in), err
	}, put(tableIntermediates))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+revocationColumns+` FROM revocations ORDER BY org_id, revoked_at, serial`, func(r scanner) (any, error) {
		v, err := scanRevocation(r)
		return revocationRow(v), err
	}, put(tableRevocations))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+edgeColumns+` FROM edges ORDER BY created_at, id`, func(r scanner) (any, error) {
		e, err := scanEdge(r)
		return edgeToRow(e), err
	}, put(tableEdges))
	if err != nil {
		return err
	}
	err = dump(ctx, tx, `SELECT `+auditColumns+` FROM audit ORDER BY seq`, func(r scanner) (any, error) {
		e, err := scanAudit(r)
		return auditRow(e), err
	}, put(tableAudit))
	if err != nil {
		return err
	}
	var end backupEnd
	end.End.Rows = rows
	return enc.Encode(end)
}

// dump writes every row of a query with put.
func dump(ctx context.Context, tx *sql.Tx, query string, scan func(scanner) (any, error), put func(any) error) error {
	return each(ctx, tx, query, nil, scan, put)
}
