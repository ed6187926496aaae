package passhash

import (
	"testing"
)

// FuzzParse feeds arbitrary strings to the hash parser: it returns a hash
// or ErrFormat, never panics, and what it accepts has bounded cost. The
// check itself is not run (it is slow by design).
func FuzzParse(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$2y$04$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if h.bcrypt == nil && (h.memory > maxMemory || h.time > maxTime || h.threads > maxThreads || h.memory < 8*uint32(h.threads)) {
			t.Fatalf("accepted unbounded parameters %+v from %q", h, s)
		}
		_ = h.Weak()
	})
}
