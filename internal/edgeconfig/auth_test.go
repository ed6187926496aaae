package edgeconfig

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

const twoUsers = "orgs: [{id: acme}, {id: beta}]\nusers:\n" +
	"- {name: alice, password_hash: '" + argonPassword + "', org: acme}\n" +
	"- {name: bob, password_hash: '" + bcryptHunter2 + "', org: beta}\n"

func parseAuth(t *testing.T, yaml string) (*Config, *time.Time) {
	t.Helper()
	c, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.auth.now = func() time.Time { return now }
	return c, &now
}

// The loop asks AuthenticateCached first: only a password that verified,
// for that user, within the TTL, passes there; everything else goes to
// the slow check.
func TestAuthenticateCache(t *testing.T) {
	c, now := parseAuth(t, twoUsers)
	if _, ok := c.AuthenticateCached("alice", "password"); ok {
		t.Fatal("a password that never verified passed the cache")
	}
	if org, ok := c.Authenticate("alice", "password"); !ok || org != "acme" {
		t.Fatalf("Authenticate = %q, %v", org, ok)
	}
	if org, ok := c.AuthenticateCached("alice", "password"); !ok || org != "acme" {
		t.Fatalf("after a verification AuthenticateCached = %q, %v", org, ok)
	}
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong password for a cached user", "alice", "Password"},
		{"cached password, other user", "bob", "password"},
		{"unknown user with the cached password", "mallory", "password"},
		{"name and password shifted", "alic", "epassword"},
		{"empty", "", ""},
	} {
		if org, ok := c.AuthenticateCached(tc.user, tc.pass); ok {
			t.Errorf("%s: the cache answered %q", tc.name, org)
		}
		if org, ok := c.Authenticate(tc.user, tc.pass); ok {
			t.Errorf("%s: Authenticate answered %q", tc.name, org)
		}
	}
	// A wrong password neither evicts nor replaces the verified one.
	if _, ok := c.AuthenticateCached("alice", "password"); !ok {
		t.Error("failed attempts evicted the verified password")
	}
	*now = now.Add(verifiedTTL)
	if _, ok := c.AuthenticateCached("alice", "password"); ok {
		t.Error("the cache answered after its TTL")
	}
	if _, ok := c.Authenticate("alice", "password"); !ok {
		t.Error("the password no longer verifies after the TTL")
	}
}

// An unknown user must cost what a wrong password costs, or the time of a
// 407 tells which names exist. The slow hash dominates (tens of ms), so
// a generous ratio separates "hashed" from "answered at once" even on a
// busy machine.
func TestUnknownUserCostsAHash(t *testing.T) {
	// Timing is not asserted (a shared machine makes it noise): what makes
	// an unknown name cost what a wrong password costs is that it is
	// checked against a real user's hash, with that user's parameters.
	c, _ := parseAuth(t, twoUsers)
	if c.auth.dummy == nil {
		t.Fatal("no hash for unknown users: their names would answer at once")
	}
	same := false
	for _, cred := range c.auth.users {
		same = same || cred.hash == c.auth.dummy
	}
	if !same {
		t.Error("unknown users are checked against a hash no user has: its cost may differ")
	}
	if _, ok := c.Authenticate("mallory", "wrong"); ok {
		t.Error("an unknown user authenticated")
	}
}

func TestAuthenticateConcurrent(t *testing.T) {
	c, _ := parseAuth(t, twoUsers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for i := range 8 {
		wg.Go(func() {
			user, pass := "alice", "password"
			if i%2 == 1 {
				user, pass = "bob", "hunter2"
			}
			if i%4 == 3 {
				pass = "nope"
			}
			org, ok := c.Authenticate(user, pass)
			mu.Lock()
			got[org+":"+map[bool]string{true: "ok", false: "no"}[ok]]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got["acme:ok"] != 4 || got["beta:ok"] != 2 || got[":no"] != 2 {
		t.Errorf("results %v", got)
	}
}

func TestClientAllowed(t *testing.T) {
	loop4, loop6, mapped := netip.MustParseAddr("127.0.0.9"), netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:127.0.0.1")
	lan, pub := netip.MustParseAddr("192.168.1.5"), netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name    string
		yaml    string
		allowed []netip.Addr
		refused []netip.Addr
	}{
		{"no users: loopback only", "orgs: [{id: a}]\n", []netip.Addr{loop4, loop6, mapped}, []netip.Addr{lan, pub, {}}},
		{"no users, any", "orgs: [{id: a}]\nserve_unauthenticated: any\n", []netip.Addr{loop4, lan, pub}, nil},
		{"users", twoUsers, []netip.Addr{loop4, lan, pub}, nil},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range tc.allowed {
			if !c.ClientAllowed(a) {
				t.Errorf("%s: %v refused", tc.name, a)
			}
		}
		for _, a := range tc.refused {
			if c.ClientAllowed(a) {
				t.Errorf("%s: %v allowed", tc.name, a)
			}
		}
	}
}

func TestAuthWarnings(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no users", "orgs: [{id: a}]\n", "serves loopback clients only"},
		{"open on purpose", "orgs: [{id: a}]\nserve_unauthenticated: any\n", "serves every client"},
		{"plain password", "orgs: [{id: a}]\nusers: [{name: u, password: p, org: a}]\n", "users[0].password: a plain-text password"},
		{"weak bcrypt", "orgs: [{id: a}]\nusers: [{name: u, password_hash: '$2a$04$z7Cs45aVotwTzUXgqPAIqefu0uj4/9qlTfpj6b3L5ypaSDJ1yqQaK', org: a}]\n", "users[0].password_hash: bcrypt cost 4 is below 10"},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, tc.want) {
			t.Errorf("%s: warnings %q lack %q", tc.name, w, tc.want)
		}
	}
}
