package sqlstore

import (
	"context"
	"fmt"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q querier, query string, args []any, what string, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := each(ctx, q, query, args, scan, func(v T) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// each runs a query and hands every row, scanned, to fn.
func each[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error), fn func(T) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
