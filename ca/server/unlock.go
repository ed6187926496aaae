package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/lucid-edge/lucid/ca/keyseal"
	"github.com/lucid-edge/lucid/ca/store"
	"github.com/lucid-edge/lucid/ca/store/postgres"
	"github.com/lucid-edge/lucid/ca/store/sqlite"
)

// Errors at start-up that an operator acts on.
var (
	ErrWrongPassword = errors.New("wrong CA password")
	ErrNoPassword    = errors.New("no CA password: set password.file or password.env in the config, or start the CA on a terminal to be asked for it")
	ErrInitialised   = errors.New("the CA is already initialised")
)

// openStore opens the configured store.
func openStore(ctx context.Context, cfg StoreConfig) (store.Store, error) {
	switch cfg.Driver {
	case DriverPostgres:
		return postgres.Open(ctx, cfg.DSN)
	default:
		return sqlite.Open(ctx, cfg.Path)
	}
}

// unlock derives the key-encryption key from the CA password and checks it
// against the store's vault, or makes the vault if the store has none yet.
// A password typed at a prompt for a new vault is asked for twice: a typo
// there would seal every key under a password nobody knows.
func unlock(ctx context.Context, st store.Store, cfg Config, opts Options) (kek *keyseal.KEK, created bool, err error) {
	v, err := st.Vault(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("reading the vault: %w", err)
	}
	isNew := errors.Is(err, store.ErrNotFound)
	pw, err := readPassword(cfg.Password, opts, isNew)
	if err != nil {
		return nil, false, err
	}
	defer keyseal.Wipe(pw)
	if !isNew {
		kek, err := openVault(v, pw)
		return kek, false, err
	}
	p, err := newVaultParams(cfg.KDF)
	if err != nil {
		return nil, false, err
	}
	kek, err = keyseal.DeriveKEK(pw, p)
	if err != nil {
		return nil, false, err
	}
	verifier, err := kek.NewVerifier()
	if err == nil {
		err = st.InitVault(ctx, store.Vault{KDF: p.String(), Verifier: verifier})
	}
	switch {
	case err == nil:
		return kek, true, nil
	case errors.Is(err, store.ErrExists):
		// Another CA node made the vault first: check against it.
		kek.Close()
		if v, err = st.Vault(ctx); err != nil {
			return nil, false, fmt.Errorf("reading the vault: %w", err)
		}
		kek, err := openVault(v, pw)
		return kek, false, err
	default:
		kek.Close()
		return nil, false, fmt.Errorf("making the vault: %w", err)
	}
}

func openVault(v store.Vault, pw []byte) (*keyseal.KEK, error) {
	p, err := keyseal.ParseParams(v.KDF)
	if err != nil {
		return nil, fmt.Errorf("the vault's KDF record: %w", err)
	}
	kek, err := keyseal.DeriveKEK(pw, p)
	if err != nil {
		return nil, err
	}
	if err := kek.CheckVerifier(v.Verifier); err != nil {
		kek.Close()
		if errors.Is(err, keyseal.ErrWrongPassword) {
			return nil, ErrWrongPassword
		}
		return nil, fmt.Errorf("the vault record: %w", err)
	}
	return kek, nil
}

func newVaultParams(c KDFConfig) (keyseal.Params, error) {
	p, err := keyseal.DefaultParams()
	if err != nil {
		return p, err
	}
	if c.MemoryKiB != 0 {
		p.MemoryKiB = c.MemoryKiB
	}
	if c.Time != 0 {
		p.Time = c.Time
	}
	if c.Threads != 0 {
		p.Threads = c.Threads
	}
	// ParseParams applies keyseal's bounds; fail here, before any key is
	// sealed, rather than at the next start.
	if _, err := keyseal.ParseParams(p.String()); err != nil {
		return p, fmt.Errorf("kdf: %w", err)
	}
	return p, nil
}

// readPassword reads the CA password from the configured file or variable,
// or asks for it on the terminal.
func readPassword(c PasswordConfig, opts Options, confirm bool) ([]byte, error) {
	if c.File != "" || c.Env != "" {
		return keyseal.ReadPassword(keyseal.Source{File: c.File, Env: c.Env})
	}
	in := opts.Stdin
	if in == nil {
		in = os.Stdin
	}
	if !term.IsTerminal(int(in.Fd())) {
		return nil, ErrNoPassword
	}
	src := keyseal.Source{Prompt: true, In: in, Out: opts.Stderr}
	pw, err := keyseal.ReadPassword(src)
	if err != nil || !confirm {
		return pw, err
	}
	fmt.Fprintln(stderr(opts), "This is a new CA: type the password again.")
	again, err := keyseal.ReadPassword(src)
	if err != nil {
		keyseal.Wipe(pw)
		return nil, err
	}
	defer keyseal.Wipe(again)
	if !bytes.Equal(pw, again) {
		keyseal.Wipe(pw)
		return nil, errors.New("the two passwords differ: run the command again")
	}
	return pw, nil
}

func stderr(opts Options) io.Writer {
	if opts.Stderr != nil {
		return opts.Stderr
	}
	return os.Stderr
}

// maxTokenLen bounds what readToken reads.
const maxTokenLen = 4096

// readToken returns the SHA-256 of the admin token in path, refusing a
// file that others may read.
func readToken(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return [32]byte{}, fmt.Errorf("admin token file %s does not exist: run `ca init` first", path)
	}
	if err != nil {
		return [32]byte{}, fmt.Errorf("admin token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return [32]byte{}, fmt.Errorf("admin token file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return [32]byte{}, fmt.Errorf("admin token file %s has mode %04o, which lets group or others read it: run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenLen+1))
	if err != nil {
		return [32]byte{}, fmt.Errorf("admin token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || len(b) > maxTokenLen {
		return [32]byte{}, fmt.Errorf("admin token file %s holds no token of at most %d bytes", path, maxTokenLen)
	}
	return sha256.Sum256([]byte(tok)), nil
}

// ReadTokenFile returns the admin token in path, for clients.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	return tok, nil
}

// createToken writes a new random admin token to path, readable by its
// owner only. An existing file is kept.
func createToken(path string) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin token file: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		f.Close()
		return false, err
	}
	if _, err := f.WriteString(hex.EncodeToString(b[:]) + "\n"); err != nil {
		f.Close()
		return false, fmt.Errorf("admin token file: %w", err)
	}
	return true, f.Close()
}
