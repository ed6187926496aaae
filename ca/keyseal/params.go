package keyseal

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Params are the Argon2id parameters that derive a key-encryption key from
// the password. They are stored beside what they protect, in the text form
// of String, so records made under older parameters still open.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8 // lanes; also the number of goroutines used
	Salt      [16]byte
}

// Bounds ParseParams and DeriveKEK enforce. The upper bounds matter most: the
// parameters come from the database, and a tampered record must not make the
// CA allocate or compute without limit before the password is even checked.
// The lower bounds stop a record from downgrading the derivation to
// something cheap to brute-force.
const (
	minMemoryKiB = 8 << 10 // 8 MiB
	maxMemoryKiB = 4 << 20 // 4 GiB
	minTime      = 1
	maxTime      = 16
	minThreads   = 1
	maxThreads   = 64
)

// argon2Version is the only Argon2 version golang.org/x/crypto/argon2
// implements: 0x13, written v=19.
const argon2Version = 19

// DefaultParams returns the parameters for a new vault with a fresh random
// salt: Argon2id with t=3, m=64 MiB, p=4, the "second recommended option" of
// RFC 9106 §4 for when 2 GiB per derivation (the first option) is too much
// for a CA that may share a small host.
func DefaultParams() (Params, error) {
	p := Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}
	if _, err := rand.Read(p.Salt[:]); err != nil {
		return Params{}, fmt.Errorf("keyseal: salt: %w", err)
	}
	return p, nil
}

// String returns the parameters in PHC-like form, as stored:
// "argon2id$v=19$m=65536,t=3,p=4$<salt, base64 without padding>".
func (p Params) String() string {
	return fmt.Sprintf("argon2id$v=%d$m=%d,t=%d,p=%d$%s",
		argon2Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(p.Salt[:]))
}

// ParseParams parses the form String writes and refuses parameters outside
// the bounds above, so that a tampered record fails here with a clear error
// rather than in the key derivation.
func ParseParams(s string) (Params, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 4 {
		return Params{}, fmt.Errorf("keyseal: KDF %q: want argon2id$v=19$m=..,t=..,p=..$salt", s)
	}
	if fields[0] != "argon2id" {
		return Params{}, fmt.Errorf("keyseal: KDF %q: algorithm %q is not argon2id", s, fields[0])
	}
	if fields[1] != "v="+strconv.Itoa(argon2Version) {
		return Params{}, fmt.Errorf("keyseal: KDF %q: version %q is not v=%d", s, fields[1], argon2Version)
	}
	costs := strings.Split(fields[2], ",")
	if len(costs) != 3 {
		return Params{}, fmt.Errorf("keyseal: KDF %q: want costs m=N,t=N,p=N", s)
	}
	m, err := parseCost(costs[0], "m")
	if err != nil {
		return Params{}, fmt.Errorf("keyseal: KDF %q: %w", s, err)
	}
	t, err := parseCost(costs[1], "t")
	if err != nil {
		return Params{}, fmt.Errorf("keyseal: KDF %q: %w", s, err)
	}
	threads, err := parseCost(costs[2], "p")
	if err != nil {
		return Params{}, fmt.Errorf("keyseal: KDF %q: %w", s, err)
	}
	// Strict refuses non-zero padding bits, so one salt has one spelling.
	salt, err := base64.RawStdEncoding.Strict().DecodeString(fields[3])
	if err != nil {
		return Params{}, fmt.Errorf("keyseal: KDF %q: salt: %w", s, err)
	}
	var p Params
	if len(salt) != len(p.Salt) {
		return Params{}, fmt.Errorf("keyseal: KDF %q: salt is %d bytes, want %d", s, len(salt), len(p.Salt))
	}
	// Range-check before narrowing Threads to uint8, so p=260 is refused
	// rather than read as p=4.
	if err := checkRanges(m, t, threads); err != nil {
		return Params{}, fmt.Errorf("keyseal: KDF %q: %w", s, err)
	}
	p.MemoryKiB, p.Time, p.Threads = uint32(m), uint32(t), uint8(threads)
	copy(p.Salt[:], salt)
	return p, nil
}

// parseCost parses "name=decimal". Values too large for uint32 are errors
// here; range checks come after.
func parseCost(field, name string) (uint64, error) {
	v, ok := strings.CutPrefix(field, name+"=")
	if !ok {
		return 0, fmt.Errorf("want %s=.. in %q", name, field)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number below 2^32", name, v)
	}
	return n, nil
}

func (p Params) validate() error {
	return checkRanges(uint64(p.MemoryKiB), uint64(p.Time), uint64(p.Threads))
}

func checkRanges(memoryKiB, time, threads uint64) error {
	switch {
	case memoryKiB < minMemoryKiB || memoryKiB > maxMemoryKiB:
		return fmt.Errorf("memory m=%d KiB is outside %d..%d (8 MiB..4 GiB)", memoryKiB, minMemoryKiB, maxMemoryKiB)
	case time < minTime || time > maxTime:
		return fmt.Errorf("passes t=%d is outside %d..%d", time, minTime, maxTime)
	case threads < minThreads || threads > maxThreads:
		return fmt.Errorf("lanes p=%d is outside %d..%d", threads, minThreads, maxThreads)
	}
	return nil
}
