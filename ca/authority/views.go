package authority

import (
	"context"
	"errors"
	"io"

	"github.com/lucid-edge/lucid/ca/store"
)

// OrgView is an organisation with its intermediates, for the admin API.
type OrgView struct {
	store.Org
	Intermediates []store.Intermediate `json:"intermediates"`
}

// Orgs lists the organisations.
func (a *Authority) Orgs(ctx context.Context) ([]store.Org, error) {
	all, err := a.cfg.Store.Orgs(ctx)
	orgs := all[:0]
	for _, o := range all {
		if o.ID != systemOrg {
			orgs = append(orgs, o)
		}
	}
	return orgs, err
}

// Org returns an organisation and its intermediates, newest first.
func (a *Authority) Org(ctx context.Context, orgID string) (OrgView, error) {
	o, err := a.org(ctx, orgID)
	if err != nil {
		return OrgView{}, err
	}
	ins, err := a.cfg.Store.Intermediates(ctx, orgID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return OrgView{}, err
	}
	return OrgView{Org: o, Intermediates: ins}, nil
}

// Edges lists the enrolled edges.
func (a *Authority) Edges(ctx context.Context) ([]store.Edge, error) { return a.cfg.Store.Edges(ctx) }

// AuditLog returns up to limit audit entries after seq.
func (a *Authority) AuditLog(ctx context.Context, afterSeq int64, limit int) ([]store.AuditEntry, error) {
	return a.cfg.Store.AuditLog(ctx, afterSeq, limit)
}

// Backup writes a consistent, compressed copy of the store without data
// keys; the backup is audited.
func (a *Authority) Backup(ctx context.Context, w io.Writer) error {
	if err := a.audit(ctx, "admin", "store.backup", "", "", ""); err != nil {
		return err
	}
	return a.cfg.Store.Backup(ctx, w)
}
