package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

// MaxAuditPage is the most entries AuditLog returns at once.
const MaxAuditPage = 10000

const auditColumns = `seq, logged_at, actor, action, org_id, key_id, detail`

// Audit appends an entry; the store assigns its Seq, and its Time if zero.
// The table refuses UPDATE and DELETE, whoever sends them.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if s.d.AuditLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.AuditLock); err != nil {
				return fmt.Errorf("store: audit: lock: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit (logged_at, actor, action, org_id, key_id, detail) VALUES (?, ?, ?, ?, ?, ?)`),
			micros(e.Time), e.Actor, e.Action, e.OrgID, e.KeyID, e.Detail)
		if err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
		return nil
	})
}

// AuditLog returns up to limit entries with Seq above afterSeq, in Seq
// order. A limit outside 1..MaxAuditPage means MaxAuditPage; page on with
// the last Seq returned until a page comes back empty.
func (s *Store) AuditLog(ctx context.Context, afterSeq int64, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 || limit > MaxAuditPage {
		limit = MaxAuditPage
	}
	return list(ctx, s.db, s.q(`SELECT `+auditColumns+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`),
		[]any{afterSeq, limit}, "store: audit log", scanAudit)
}

func scanAudit(r scanner) (store.AuditEntry, error) {
	var e store.AuditEntry
	var at int64
	if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.OrgID, &e.KeyID, &e.Detail); err != nil {
		return store.AuditEntry{}, err
	}
	e.Time = fromMicros(at)
	return e, nil
}
