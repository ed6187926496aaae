package sqlstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lucid-edge/lucid/ca/store"
)

// Limits on what ReadBackup reads, since a backup file is input: the whole
// backup decompressed, and one line of it.
const (
	MaxBackupSize = 1 << 30
	MaxBackupLine = 16 << 20
)

// Snapshot is a backup decoded.
type Snapshot struct {
	Schema  int    // schema version of the database it was taken from
	Source  string // the backend: "sqlite" or "postgres"
	TakenAt time.Time

	Vault         *store.Vault // nil if the store had no password yet
	Orgs          []store.Org
	Keys          []store.SealedKey // ciphertext only: backups hold no data keys
	Intermediates []store.Intermediate
	Revocations   []store.Revocation
	Edges         []store.Edge
	Audit         []store.AuditEntry
}

var errBackupTooBig = fmt.Errorf("backup is larger than %d bytes decompressed", MaxBackupSize)

// ReadBackup decodes a backup that Store.Backup wrote. It refuses one that
// is malformed, truncated, larger than MaxBackupSize decompressed, or that
// holds data keys.
func ReadBackup(r io.Reader) (*Snapshot, error) {
	zr, err := zstd.NewReader(r,
		zstd.WithDecoderMaxWindow(backupWindow),
		zstd.WithDecoderMaxMemory(MaxBackupSize),
		zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("store: read backup: %w", err)
	}
	defer zr.Close()
	snap, err := readLines(&capReader{r: zr, left: MaxBackupSize})
	if err != nil {
		return nil, fmt.Errorf("store: read backup: %w", err)
	}
	return snap, nil
}

// readLines decodes a backup's decompressed JSON lines.
func readLines(r io.Reader) (*Snapshot, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxBackupLine)
	if !sc.Scan() {
		return nil, scanErr(sc, "no header")
	}
	var h backupHeader
	if err := decodeStrict(sc.Bytes(), &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Format != backupFormat || h.Version != backupVersion {
		return nil, fmt.Errorf("not a %s version %d: format %q version %d", backupFormat, backupVersion, h.Format, h.Version)
	}
	snap := &Snapshot{Schema: h.Schema, Source: h.Source, TakenAt: h.TakenAt}
	var rows int64
	for n := 2; sc.Scan(); n++ {
		var l struct {
			Table string          `json:"table"`
			Row   json.RawMessage `json:"row"`
			End   *struct {
				Rows int64 `json:"rows"`
			} `json:"end"`
		}
		if err := decodeStrict(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if l.End != nil {
			if l.Table != "" || l.Row != nil {
				return nil, fmt.Errorf("line %d: end line with a row", n)
			}
			if l.End.Rows != rows {
				return nil, fmt.Errorf("line %d: end line counts %d rows, the backup has %d", n, l.End.Rows, rows)
			}
			if sc.Scan() {
				return nil, fmt.Errorf("line %d: data after the end line", n+1)
			}
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return snap, nil
		}
		if err := snap.add(l.Table, l.Row); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rows++
	}
	return nil, scanErr(sc, "truncated: no end line")
}

// add decodes one row of table into the snapshot.
func (s *Snapshot) add(table string, row json.RawMessage) error {
	var err error
	switch table {
	case tableVault:
		if s.Vault != nil {
			return errors.New("a second vault row")
		}
		var v store.Vault
		v, err = decodeRow[vaultRow](row)
		s.Vault = &v
	case tableOrgs:
		s.Orgs, err = appendRow[orgRow](s.Orgs, row)
	case tableKeys:
		s.Keys, err = appendRow[keyRow](s.Keys, row)
	case tableIntermediates:
		s.Intermediates, err = appendRow[intermediateRow](s.Intermediates, row)
	case tableRevocations:
		s.Revocations, err = appendRow[revocationRow](s.Revocations, row)
	case tableEdges:
		s.Edges, err = appendRow[edgeRow](s.Edges, row)
	case tableAudit:
		s.Audit, err = appendRow[auditRow](s.Audit, row)
	case "data_keys":
		return errors.New("the backup holds data keys, which no backup may")
	default:
		return fmt.Errorf("unknown table %q", table)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return nil
}

// row is a backup row type that converts to its store type.
type row[T any] interface {
	value() (T, error)
}

func decodeRow[R row[T], T any](raw json.RawMessage) (T, error) {
	var r R
	if err := decodeStrict(raw, &r); err != nil {
		var zero T
		return zero, err
	}
	return r.value()
}

func appendRow[R row[T], T any](list []T, raw json.RawMessage) ([]T, error) {
	v, err := decodeRow[R](raw)
	if err != nil {
		return list, err
	}
	return append(list, v), nil
}

// decodeStrict decodes one JSON value that must be all of b and name no
// field v lacks.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func scanErr(sc *bufio.Scanner, ifNone string) error {
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line longer than %d bytes", MaxBackupLine)
		}
		return err
	}
	return errors.New(ifNone)
}

// capReader fails once more than left bytes have come through.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errBackupTooBig
	}
	return n, err
}
