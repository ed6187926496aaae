// Package passhash stores and checks proxy passwords as salted, slow
// hashes: Argon2id (RFC 9106) in the PHC string form
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>     (unpadded standard base64)
//
// and bcrypt ($2a$, $2b$, $2y$), so that a leaked configuration does not
// hand out the passwords in it.
//
// New hashes (Argon2id) use m=19 MiB, t=2, p=1, the first of OWASP's
// Argon2id settings and close to RFC 9106 §7.4's memory-constrained
// choice: one check costs some tens of milliseconds and 19 MiB. The edge
// checks many clients at once on few cores, so memory per check matters
// more than the last factor of cost: 64 MiB per check would let a burst
// of logins take hundreds of MiB, and p above 1 adds no throughput when
// the checks already run side by side. Checks are bounded by the caller
// (edgeconfig runs at most one per CPU at a time).
//
// Parse refuses parameters that would stall the edge (over 1 GiB or 16
// passes, bcrypt cost over 15) and Weak names those below the default.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// The parameters of new hashes (see the package comment).
const (
	DefaultMemory  = 19 * 1024 // KiB
	DefaultTime    = 2
	DefaultThreads = 1
	saltLen        = 16
	keyLen         = 32
)

// Bounds on the hashes Parse accepts.
const (
	maxMemory     = 1 << 20 // KiB: 1 GiB
	maxTime       = 16
	maxThreads    = 16
	minSalt       = 8 // RFC 9106 §3.1
	maxSalt       = 64
	minKey        = 16
	maxKey        = 64
	minBcryptCost = 4
	maxBcryptCost = 15
	// bcryptMaxPassword is where bcrypt stops reading a password: a longer
	// one would match on its first 72 bytes alone, so it never matches.
	bcryptMaxPassword = 72
)

// Hash is a parsed password hash. It is read-only, and safe to use from
// many goroutines.
type Hash struct {
	bcrypt []byte // the whole bcrypt string; nil for Argon2id

	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// ErrFormat is wrapped by every error of Parse.
var ErrFormat = errors.New("not an Argon2id ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or bcrypt ($2b$…) hash")

func formatError(why string) error { return fmt.Errorf("%w: %s", ErrFormat, why) }

// Parse reads an Argon2id PHC string or a bcrypt hash.
func Parse(s string) (*Hash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return nil, formatError(strings.TrimPrefix(err.Error(), "crypto/bcrypt: "))
		}
		if cost < minBcryptCost || cost > maxBcryptCost {
			return nil, formatError(fmt.Sprintf("bcrypt cost %d is not in %d-%d", cost, minBcryptCost, maxBcryptCost))
		}
		return &Hash{bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, formatError("only the Argon2id variant is accepted")
	}
	return nil, ErrFormat
}

func parseArgon2id(s string) (*Hash, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 {
		return nil, formatError("want 5 fields separated by $")
	}
	if parts[2] != "v=19" {
		return nil, formatError("version " + strconv.Quote(parts[2]) + " is not v=19")
	}
	var m, t, p uint64
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, formatError("want parameters m=…,t=…,p=…")
	}
	for i, want := range []struct {
		name string
		dst  *uint64
		max  uint64
	}{{"m", &m, maxMemory}, {"t", &t, maxTime}, {"p", &p, maxThreads}} {
		v, ok := strings.CutPrefix(params[i], want.name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 || n > want.max || (len(v) > 1 && v[0] == '0') {
			return nil, formatError(fmt.Sprintf("parameter %d is not %s=1…%d", i+1, want.name, want.max))
		}
		*want.dst = n
	}
	if m < 8*p {
		return nil, formatError("m is below 8 KiB per lane (RFC 9106 §3.1)")
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minSalt || len(salt) > maxSalt {
		return nil, formatError(fmt.Sprintf("the salt is not %d-%d bytes of unpadded base64", minSalt, maxSalt))
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minKey || len(key) > maxKey {
		return nil, formatError(fmt.Sprintf("the hash is not %d-%d bytes of unpadded base64", minKey, maxKey))
	}
	return &Hash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// Verify reports whether password is the one h was made from. It takes
// the same time whatever the password (the comparison is constant-time),
// and it is slow by design: never call it on an event loop.
func (h *Hash) Verify(password string) bool {
	if h.bcrypt != nil {
		match := bcrypt.CompareHashAndPassword(h.bcrypt, []byte(password)) == nil
		return match && len(password) <= bcryptMaxPassword
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// Weak says why h is weaker than the defaults, or "" when it is not.
func (h *Hash) Weak() string {
	if h.bcrypt != nil {
		if cost, _ := bcrypt.Cost(h.bcrypt); cost < 10 {
			return fmt.Sprintf("bcrypt cost %d is below 10", cost)
		}
		return ""
	}
	// RFC 9106 §4: memory and passes trade against each other; compare
	// their product, and the salt.
	if uint64(h.memory)*uint64(h.time) < DefaultMemory*DefaultTime {
		return fmt.Sprintf("m=%d,t=%d costs less than m=%d,t=%d", h.memory, h.time, DefaultMemory, DefaultTime)
	}
	if len(h.salt) < saltLen {
		return fmt.Sprintf("a %d-byte salt is shorter than %d", len(h.salt), saltLen)
	}
	return ""
}

// Argon2id hashes password with a fresh random salt and the default
// parameters, and returns the PHC string.
func Argon2id(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (it crashes the program instead)
	key := argon2.IDKey([]byte(password), salt, DefaultTime, DefaultMemory, DefaultThreads, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", DefaultMemory, DefaultTime, DefaultThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}
