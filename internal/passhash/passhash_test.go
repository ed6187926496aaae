package passhash

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestArgon2idRoundTrip(t *testing.T) {
	s := Argon2id("correct horse")
	if !strings.HasPrefix(s, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q lacks the default parameters", s)
	}
	if s2 := Argon2id("correct horse"); s2 == s {
		t.Error("two hashes of one password are equal: no fresh salt")
	}
	h, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.Weak(); w != "" {
		t.Errorf("the default is weak: %s", w)
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false, "correct horse ": false} {
		if got := h.Verify(pw); got != want {
			t.Errorf("Verify(%q) = %v", pw, got)
		}
	}
}

// A known answer from the reference implementation's parameters checks the
// parsing of a hash made elsewhere (argon2 CLI: echo -n password |
// argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e; the reference test.c vector).
func TestArgon2idKnownAnswer(t *testing.T) {
	h, err := Parse("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("password") || h.Verify("Password") {
		t.Error("the reference hash of \"password\" does not verify as it should")
	}
	if w := h.Weak(); !strings.Contains(w, "salt") {
		t.Errorf("Weak = %q, want the 8-byte salt named", w)
	}
}

func TestBcrypt(t *testing.T) {
	long := strings.Repeat("a", 72)
	b, err := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		s := prefix + string(b[4:])
		h, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		if !h.Verify(long) {
			t.Errorf("%s: the password does not verify", prefix)
		}
		// bcrypt reads 72 bytes: a longer password that shares them must
		// not pass for the stored one.
		if h.Verify(long + "extra") {
			t.Errorf("%s: a password past 72 bytes verifies on its prefix", prefix)
		}
		if !strings.Contains(h.Weak(), "cost 4") {
			t.Errorf("%s: Weak = %q", prefix, h.Weak())
		}
	}
}

func TestParseRefuses(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	cases := map[string]string{
		"empty":          "",
		"sha256 hex":     "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
		"argon2i":        "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key,
		"old version":    "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key,
		"no version":     "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key,
		"order":          "$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + key,
		"zero passes":    "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key,
		"leading zero":   "$argon2id$v=19$m=065536,t=2,p=1$" + salt + "$" + key,
		"huge memory":    "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"many passes":    "$argon2id$v=19$m=65536,t=100,p=1$" + salt + "$" + key,
		"memory < 8p":    "$argon2id$v=19$m=16,t=2,p=4$" + salt + "$" + key,
		"short salt":     "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$" + key,
		"padded salt":    "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "==$" + key,
		"short hash":     "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$c2FsdA",
		"extra field":    "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key + "$x",
		"bcrypt garbage": "$2b$10$short",
		"bcrypt cost 31": "$2b$31$" + strings.Repeat("a", 53),
	}
	for name, s := range cases {
		if h, err := Parse(s); err == nil || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Parse(%q) = %v, %v; want ErrFormat", name, s, h, err)
		}
	}
}
