// Package authority is the CA's logic: organisations and their
// intermediates, the service root, edge enrolment and entitlement, key
// issuance to edges, revocation and CRLs. It sits between the thin HTTP
// handlers of package api and the store, and every decision that protects
// an organisation's key is made here, in one place, and audited.
//
// Private keys are sealed (package keyseal) before they reach the store and
// opened only for the moment they sign or are sent to an entitled edge.
package authority

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/internal/secmem"
)

// Config wires an Authority to its store and its key-encryption key.
type Config struct {
	Store store.Store
	KEK   *keyseal.KEK
	// PublicURL is where the CA's public listener is reached; leaves carry
	// PublicURL + "/crl/" + org as their CRL distribution point.
	PublicURL string
	// Validity of what the CA signs; zero picks the defaults below.
	IntermediateValidity time.Duration // 2 years
	EdgeCertValidity     time.Duration // 90 days
	CRLValidity          time.Duration // 24 hours
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authority is the CA. It is safe for concurrent use.
type Authority struct {
	cfg  Config
	root *x509.Certificate // the service root, self-signed
	// rootKeyID names the service root's sealed key in the store.
	rootKeyID string

	crlMu sync.Mutex
	crls  map[string]cachedCRL // org ID ("" for the root's CRL) -> CRL
}

type cachedCRL struct {
	der        []byte
	nextUpdate time.Time
	refreshAt  time.Time
}

// Error is a refusal with the HTTP status an API should answer with and a
// message that says what to fix.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Status returns the HTTP status for err: its own for an *Error, 404 for a
// store.ErrNotFound, 409 for store.ErrExists, 500 otherwise.
func Status(err error) int {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Status
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// Open starts the authority: it makes the service root on first use and
// loads it after that.
func Open(ctx context.Context, cfg Config) (*Authority, error) {
	if cfg.Store == nil || cfg.KEK == nil {
		return nil, errors.New("authority: a store and a key-encryption key are required")
	}
	if cfg.IntermediateValidity <= 0 {
		cfg.IntermediateValidity = 2 * 365 * 24 * time.Hour
	}
	if cfg.EdgeCertValidity <= 0 {
		cfg.EdgeCertValidity = 90 * 24 * time.Hour
	}
	if cfg.CRLValidity <= 0 {
		cfg.CRLValidity = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authority{cfg: cfg, crls: make(map[string]cachedCRL)}
	if err := a.loadOrCreateRoot(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// Root is the service root certificate: edges trust it for the CA's TLS
// listener, and it signs default intermediates and edge certificates.
func (a *Authority) Root() *x509.Certificate { return a.root }

var orgIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// withKey opens a sealed key, hands it to f as a signer, and wipes what it
// can reach of the key afterwards. The key exists in plaintext only for
// the duration of f.
func (a *Authority) withKey(ctx context.Context, keyID string, f func(crypto.Signer) error) error {
	sk, dk, err := a.cfg.Store.Key(ctx, keyID)
	if err != nil {
		return fmt.Errorf("authority: key %s: %w", keyID, err)
	}
	der, err := a.cfg.KEK.Open(keyID, sk.Ciphertext, dk.Sealed)
	if err != nil {
		return fmt.Errorf("authority: opening key %s: %w", keyID, err)
	}
	defer keyseal.Wipe(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("authority: key %s does not parse: %w", keyID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return fmt.Errorf("authority: key %s cannot sign", keyID)
	}
	defer secmem.WipePrivateKey(signer)
	return f(signer)
}

// audit appends to the audit log; a failure to audit fails the action it
// records, since an unrecorded key issuance must not happen.
func (a *Authority) audit(ctx context.Context, actor, action, org, keyID, detail string) error {
	err := a.cfg.Store.Audit(ctx, store.AuditEntry{
		Time: a.cfg.Now().UTC(), Actor: actor, Action: action, OrgID: org, KeyID: keyID, Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("authority: audit %s: %w", action, err)
	}
	return nil
}
