package edgeconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/policy"
)

const minimal = "orgs: [{id: acme}]\n"

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Hashes of "password" (Argon2id, the defaults of edge hash-password) and
// "hunter2" (bcrypt, cost 10).
const (
	argonPassword = "$argon2id$v=19$m=19456,t=2,p=1$KqRXfbS2cL6uADwnxRAeEg$QzwTsLBTfaqsNOTqakzmX1vnsDu08yq5JvSFv8uFvkA"
	bcryptHunter2 = "$2a$10$z7Cs45aVotwTzUXgqPAIqefu0uj4/9qlTfpj6b3L5ypaSDJ1yqQaK"
)

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	switch {
	case c.Listen != "127.0.0.1:3128", c.Admin != "127.0.0.1:9090", c.Loops != 0:
		t.Errorf("addresses: %q %q %d", c.Listen, c.Admin, c.Loops)
	case c.CA.IdleTimeout != 10*time.Minute:
		t.Errorf("ca.idle_timeout = %v", c.CA.IdleTimeout)
	case c.Upstream.SessionCacheSize != 256:
		t.Errorf("session_cache_size = %d", c.Upstream.SessionCacheSize)
	case c.Timeouts != Timeouts{ConnectLine: 10 * time.Second, Handshake: 15 * time.Second, Idle: 5 * time.Minute}:
		t.Errorf("timeouts = %+v", c.Timeouts)
	case c.MaxConnections != 10000, c.Buffers.MaxPerConnection != 256<<10:
		t.Errorf("limits: %d %v", c.MaxConnections, c.Buffers.MaxPerConnection)
	case c.Leaf != want.Leaf, c.Cache != want.Cache, c.AccessLog != "-":
		t.Errorf("leaf %+v cache %+v access_log %q", c.Leaf, c.Cache, c.AccessLog)
	case c.AccessLogBuffer != 0, c.AccessLogOverflow != "refuse":
		t.Errorf("access_log_buffer %v, access_log_overflow %q", c.AccessLogBuffer, c.AccessLogOverflow)
	case c.ServeUnauthenticated != "loopback", c.AuthFailures != AuthFailures{Limit: 10, Per: time.Minute}:
		t.Errorf("serve_unauthenticated %q, auth_failures %+v", c.ServeUnauthenticated, c.AuthFailures)
	}
	o := c.Orgs[0]
	if o.Default != "inspect" || !o.BypassPinned || o.FailMode != "" || o.AllowInvalidUpstream || o.LogQueryValues {
		t.Errorf("org defaults: %+v", o)
	}
	if c.AuthRequired() {
		t.Error("no users, yet authentication is required")
	}
	if org, ok := c.Authenticate("anyone", "anything"); !ok || org != "acme" {
		t.Errorf("Authenticate without users = %q, %v", org, ok)
	}
	if len(c.Warnings) != 2 {
		t.Errorf("warnings = %q, want ca.url and users", c.Warnings)
	}
}

const full = `
listen: 0.0.0.0:8080
admin: ""
loops: 4
ca:
  url: https://ca.example:8444
  cert_file: edge.pem
  key_file: edge-key.pem
  root_file: /etc/lucid/root.pem
  idle_timeout: 30m
users:
  - {name: alice, password_hash: "` + argonPassword + `", org: acme}
  - {name: lab, password: lab, org: beta}
  - {name: bob, password_hash: "` + bcryptHunter2 + `", org: beta}
orgs:
  - id: acme
    fail_mode: block
    allow_invalid_upstream: true
    default: bypass
    bypass_pinned: false
    rules:
      - {action: block, hosts: ["*.ads.example"], ports: [80, 443]}
      - action: inspect
        hosts: [.bank.example]
  - id: beta
hosts:
  Demo.Test.: "127.0.0.1:8443"
  v6.test: "[::1]:9443"
upstream: {roots_file: roots.pem, session_cache_size: 0}
timeouts: {connect_line: 5s, handshake: 1m, idle: 90s}
max_connections: 500
buffers: {max_per_connection: 1MiB}
leaf: {max_validity: 24h, key_rotation: 30m}
cache: {max_entries: 50, max_bytes: 1048576}
access_log: logs/access.json
access_log_buffer: 4MiB
access_log_overflow: drop
serve_unauthenticated: any
auth_failures: {limit: 3, per: 10m}
`

func TestParseFull(t *testing.T) {
	c, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:8080" || c.Admin != "" || c.Loops != 4 || c.CA.IdleTimeout != 30*time.Minute {
		t.Errorf("top: %q %q %d %v", c.Listen, c.Admin, c.Loops, c.CA.IdleTimeout)
	}
	if c.AccessLogBuffer != 4<<20 || c.AccessLogOverflow != OverflowDrop || c.ServeUnauthenticated != ServeAny || c.AuthFailures != (AuthFailures{3, 10 * time.Minute}) {
		t.Errorf("top-level settings: %v %q %q %+v", c.AccessLogBuffer, c.AccessLogOverflow, c.ServeUnauthenticated, c.AuthFailures)
	}
	if c.Upstream.SessionCacheSize != 0 || c.Timeouts.Handshake != time.Minute || c.Buffers.MaxPerConnection != 1<<20 || c.Cache.MaxBytes != 1<<20 {
		t.Errorf("limits: %+v %+v %+v %+v", c.Upstream, c.Timeouts, c.Buffers, c.Cache)
	}
	acme := c.Org("acme")
	if acme == nil || acme.FailMode != FailBlock || !acme.AllowInvalidUpstream || acme.Default != "bypass" || acme.BypassPinned || len(acme.Rules) != 2 {
		t.Fatalf("acme = %+v", acme)
	}
	if beta := c.Org("beta"); beta == nil || beta.Default != "inspect" || !beta.BypassPinned {
		t.Errorf("beta = %+v", beta)
	}
	if c.Users[1].Password != "" || !strings.HasPrefix(c.Users[1].PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("plain password kept, or not hashed with Argon2id: %+v", c.Users[1])
	}

	auth := []struct {
		name, user, pass, org string
		ok                    bool
	}{
		{"hashed", "alice", "password", "acme", true},
		{"plain", "lab", "lab", "beta", true},
		{"bcrypt", "bob", "hunter2", "beta", true},
		{"another user's password", "bob", "password", "", false},
		{"wrong password", "alice", "Password", "", false},
		{"unknown user", "mallory", "password", "", false},
	}
	for _, tc := range auth {
		if org, ok := c.Authenticate(tc.user, tc.pass); org != tc.org || ok != tc.ok {
			t.Errorf("%s: Authenticate = %q, %v", tc.name, org, ok)
		}
	}

	if ap, ok := c.HostOverride("DEMO.test"); !ok || ap != netip.MustParseAddrPort("127.0.0.1:8443") {
		t.Errorf("HostOverride(DEMO.test) = %v, %v", ap, ok)
	}
	if ap, ok := c.HostOverride("v6.test."); !ok || ap != netip.MustParseAddrPort("[::1]:9443") {
		t.Errorf("HostOverride(v6.test.) = %v, %v", ap, ok)
	}
	if _, ok := c.HostOverride("other.test"); ok {
		t.Error("HostOverride(other.test) found something")
	}

	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		org, host string
		port      int
		want      policy.Decision
	}{
		{"acme", "x.ads.example", 443, policy.Decision{Action: policy.Block, Rule: "rules[0]"}},
		{"acme", "www.bank.example", 443, policy.Decision{Action: policy.Inspect, Rule: "rules[1]"}},
		{"acme", "www.icloud.com", 443, policy.Decision{Action: policy.Bypass, Rule: "default"}},
		{"beta", "www.icloud.com", 443, policy.Decision{Action: policy.Bypass, Rule: "pinned:.icloud.com"}},
		{"beta", "example.com", 443, policy.Decision{Action: policy.Inspect, Rule: "default"}},
	} {
		if d := p.Decide(tc.org, tc.host, tc.port); d != tc.want {
			t.Errorf("Decide(%s, %s) = %+v, want %+v", tc.org, tc.host, d, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"bad action", "orgs:\n  - id: a\n  - id: b\n    rules:\n      - action: inspekt\n",
			[]string{`orgs[1].rules[0].action (line 5): "inspekt" is not one of inspect, bypass, block`}},
		{"missing action", "orgs:\n  - id: a\n    rules: [{hosts: [a.example]}]\n",
			[]string{"orgs[0].rules[0].action (line 3): missing"}},
		{"unknown top-level field", "orgs: [{id: a}]\nlisten_addr: x\n",
			[]string{"listen_addr (line 2): unknown field; known here: access_log, access_log_buffer, access_log_overflow, admin"}},
		{"unknown nested field", "orgs:\n  - id: a\n    rules:\n      - acton: block\n",
			[]string{"orgs[0].rules[0].acton (line 4): unknown field; known here: action, hosts, name, paths, paths_case_sensitive, ports, upstream_tls"}},
		{"unknown field in org", "orgs: [{id: a, failmode: block}]\n",
			[]string{"orgs[0].failmode (line 1): unknown field"}},
		{"bad duration", "orgs: [{id: a}]\ntimeouts:\n  idle: 5 minutes\n",
			[]string{`timeouts.idle (line 3): "5 minutes" is not a duration`}},
		{"number for duration", "orgs: [{id: a}]\ntimeouts: {handshake: 15}\n",
			[]string{`timeouts.handshake (line 2): "15" is not a duration`}},
		{"zero duration", "orgs: [{id: a}]\ntimeouts: {idle: 0s}\n",
			[]string{"timeouts.idle (line 2): 0s is not a positive duration"}},
		{"bad int", "orgs: [{id: a}]\nloops: many\n",
			[]string{`loops (line 2): "many" is not a whole number`}},
		{"bad bool", "orgs: [{id: a, bypass_pinned: maybe}]\n",
			[]string{`orgs[0].bypass_pinned (line 1): "maybe" is not true or false`}},
		{"bad size", "orgs: [{id: a}]\nbuffers: {max_per_connection: 2 lots}\n",
			[]string{`buffers.max_per_connection (line 2): "2 lots" is not a size`}},
		{"small buffer", "orgs: [{id: a}]\nbuffers: {max_per_connection: 1KiB}\n",
			[]string{"buffers.max_per_connection (line 2): 1KiB is not in 32KiB-64MiB"}},
		{"list for mapping", "orgs: [{id: a}]\nca: [x]\n",
			[]string{"ca (line 2): expected a mapping"}},
		{"mapping for list", "orgs: {id: a}\n",
			[]string{"orgs (line 1): expected a list"}},
		{"list for value", "orgs: [{id: a}]\nlisten: [a, b]\n",
			[]string{"listen (line 2): expected a single value"}},
		{"duplicate key", "orgs: [{id: a}]\nloops: 1\nloops: 2\n",
			[]string{"loops (line 3): given twice (first on line 2)"}},
		{"not a mapping", "just a string\n",
			[]string{"config (line 1): expected a mapping"}},
		{"syntax error", "orgs: [\n",
			[]string{"config: not YAML"}},
		{"two documents", "orgs: [{id: a}]\n---\nloops: 1\n",
			[]string{"more than one YAML document"}},
		{"no orgs", "listen: 127.0.0.1:1\n",
			[]string{"orgs: give at least one organisation"}},
		{"bad org id", "orgs: [{id: Acme_Corp}]\n",
			[]string{`orgs[0].id (line 1): "Acme_Corp" is not an organisation ID`}},
		{"duplicate org", "orgs: [{id: a}, {id: a}]\nusers: [{name: u, password: p, org: a}]\n",
			[]string{`orgs[1].id (line 1): "a" is already used`}},
		{"bad fail mode", "orgs: [{id: a, fail_mode: open}]\n",
			[]string{`orgs[0].fail_mode (line 1): "open" is not one of tunnel, block`}},
		{"bad default", "orgs: [{id: a, default: allow}]\n",
			[]string{`orgs[0].default (line 1): "allow" is not one of inspect, bypass, block`}},
		{"bad pattern and port", "orgs:\n- id: a\n  rules:\n  - action: block\n    hosts: [ok.example, 'bad.*']\n    ports: [443, 70000]\n",
			[]string{"orgs[0].rules[0].hosts[1] (line 5): host pattern \"bad.*\"", "orgs[0].rules[0].ports[1] (line 6): port 70000 is not in 1-65535"}},
		{"user problems", "orgs: [{id: a}]\nusers:\n- {name: 'x:y', password: p, org: a}\n- {name: b, org: nope, password_hash: abc}\n- {name: c, org: a}\n- {name: d, org: a, password: p, password_hash: '" + argonPassword + "'}\n- {name: c, org: a, password: q}\n",
			[]string{`users[0].name (line 3): "x:y" is not a user name`, `users[1].org (line 4): "nope" is not the id`, "users[1].password_hash (line 4): not an Argon2id", "users[2] (line 5): give password_hash", "users[3] (line 6): give password_hash or password, not both", `users[4].name (line 7): "c" is already used`}},
		// Issue 12: a bare SHA-256 falls to a GPU in hours; it is refused,
		// with the way to re-hash.
		{"sha256 refused", "orgs: [{id: a}]\nusers:\n- {name: b, org: a, password_sha256: " + sha("p") + "}\n",
			[]string{"users[0].password_sha256 (line 3): a bare SHA-256 is no longer accepted; run `edge hash-password`"}},
		{"argon2i refused", "orgs: [{id: a}]\nusers:\n- {name: b, org: a, password_hash: '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc'}\n",
			[]string{"users[0].password_hash (line 3): not an Argon2id", "only the Argon2id variant"}},
		{"top-level settings", "orgs: [{id: a}]\nserve_unauthenticated: everyone\nauth_failures: {limit: 0, per: 0s}\naccess_log_buffer: 1KiB\naccess_log_overflow: wait\n",
			[]string{`serve_unauthenticated (line 2): "everyone" is not one of loopback, any`, "auth_failures.limit (line 3): 0 is not in 1-1000000", "auth_failures.per (line 3): 0s is not a positive duration",
				"access_log_buffer (line 4): 1KiB is not in 64KiB-1GiB", `access_log_overflow (line 5): "wait" is not one of refuse, drop, block`}},
		{"no users, two orgs", "orgs: [{id: a}, {id: b}]\n",
			[]string{"users: without users every client belongs to the one organisation, but orgs holds 2"}},
		{"bad hosts", "orgs: [{id: a}]\nhosts:\n  '*.x': 127.0.0.1:1\n  a.test: localhost:80\n  b.test: 127.0.0.1\n  1.2.3.4: 127.0.0.1:1\n",
			[]string{`hosts["*.x"] (line 3): "*.x" is not a host name`, `hosts["a.test"] (line 4): "localhost:80" is not ip:port`, `hosts["b.test"] (line 5): "127.0.0.1" is not ip:port`, `hosts["1.2.3.4"] (line 6): "1.2.3.4" is not a host name`}},
		{"bad addresses", "orgs: [{id: a}]\nlisten: 3128\nadmin: example.com:80\n",
			[]string{`listen (line 2): "3128" is not host:port`, `admin (line 3): "example.com:80": listen on an IP address`}},
		{"pprof without admin", "orgs: [{id: a}]\nadmin: ''\nadmin_pprof: true\n",
			[]string{"admin_pprof (line 3): profiles are served on admin, which is off"}},
		{"ca without client cert", "orgs: [{id: a}]\nca: {url: https://ca.test}\n",
			[]string{"ca.cert_file (line 2): required with ca.url", "ca.key_file (line 2): required with ca.url"}},
		{"ca over http", "orgs: [{id: a}]\nca: {url: http://ca.test, cert_file: a, key_file: b}\n",
			[]string{`ca.url (line 2): "http://ca.test" is not an https:// URL`}},
		{"leaf too long", "orgs: [{id: a}]\nleaf: {max_validity: 10000h}\n",
			[]string{"leaf.max_validity (line 2): 10000h0m0s is longer than 398 days"}},
		{"many problems at once", "orgs: [{id: a}]\nloops: -1\nmax_connections: 0\ncache: {max_entries: 0}\n",
			[]string{"loops (line 2)", "max_connections (line 3)", "cache.max_entries (line 4)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("no *FieldError in %v", err)
			}
		})
	}
}

func TestAliasesAndMerges(t *testing.T) {
	_, err := Parse([]byte("base: &base {fail_mode: block}\norgs: [{<<: *base, id: a}]\n"))
	if err == nil || !strings.Contains(err.Error(), "base (line 1): unknown field") {
		t.Fatalf("err = %v, want base to be an unknown field", err)
	}
	c, err := Parse([]byte(`
orgs:
  - &a {id: a, fail_mode: block, bypass_pinned: false, rules: [{action: bypass, hosts: [x.test]}]}
  - {id: c, rules: [{action: inspect, hosts: &hosts [y.test]}]}
  - <<: *a
    id: b
    fail_mode: tunnel
    rules: [{action: block, hosts: *hosts}]
users:
  - {name: u, password: p, org: a}
`))
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Org("b"); o.FailMode != FailTunnel || o.BypassPinned || len(o.Rules) != 1 || o.Rules[0].Hosts[0] != "y.test" {
		t.Errorf("merged org = %+v", o)
	}
	_, err = Parse([]byte("orgs:\n  - &a {id: a}\n  - <<: *a\n    id: b\n    bogus: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "orgs[1].bogus (line 5): unknown field") {
		t.Fatalf("err = %v", err)
	}
	_, err = Parse([]byte("users: [{name: u, password: p, org: a}]\norgs:\n  - &a {id: a, fail_mode: sometimes}\n  - <<: *a\n    id: b\n"))
	if err == nil || !strings.Contains(err.Error(), `orgs[1].fail_mode (line 3): "sometimes"`) {
		t.Fatalf("err = %v", err)
	}
	// An alias bomb is refused by the walker before yaml.v3 expands it.
	many := func(alias string) string { return strings.Repeat(", *"+alias, 99) }
	bomb := "orgs: [&o {id: a, rules: [&r {action: block, hosts: [&s x.test" + many("s") + "]}" + many("r") + "]}" + many("o") + "]\n"
	if _, err := Parse([]byte(bomb)); err == nil || !strings.Contains(err.Error(), "aliases expand to too many nodes") {
		t.Fatalf("alias bomb: err = %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"edge.pem", "edge-key.pem", "roots.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "edge.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(minimal + "ca: {url: https://ca.test, cert_file: edge.pem, key_file: edge-key.pem}\nupstream: {roots_file: roots.pem}\naccess_log: access.json\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.CA.CertFile != filepath.Join(dir, "edge.pem") || c.Upstream.RootsFile != filepath.Join(dir, "roots.pem") || c.AccessLog != filepath.Join(dir, "access.json") {
		t.Errorf("paths not resolved: %+v %+v %q", c.CA, c.Upstream, c.AccessLog)
	}

	write(minimal + "ca: {url: https://ca.test, cert_file: missing.pem, key_file: edge-key.pem}\naccess_log: nodir/access.json\n")
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "ca.cert_file: open") || !strings.Contains(err.Error(), "access_log: no folder") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml")); err == nil {
		t.Fatal("absent file loaded")
	}
}

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"262144", 262144, true},
		{"256KiB", 256 << 10, true},
		{"64 MiB", 64 << 20, true},
		{"1GiB", 1 << 30, true},
		{"10KB", 10000, true},
		{"3B", 3, true},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"KiB", 0, false},
		{"9999999999GiB", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
	for b, s := range map[ByteSize]string{0: "0B", 1000: "1000B", 256 << 10: "256KiB", 3 << 20: "3MiB", 2 << 30: "2GiB"} {
		if b.String() != s {
			t.Errorf("%d.String() = %q, want %q", int64(b), b.String(), s)
		}
	}
}

func TestEmptyConfig(t *testing.T) {
	_, err := Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "orgs: give at least one") {
		t.Fatalf("err = %v", err)
	}
}

func TestAdminPprofOffLoopbackWarns(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:9090": false, "[::1]:9090": false, "localhost:9090": false, "0.0.0.0:9090": true} {
		c, err := Parse([]byte("orgs: [{id: a}]\nadmin: '" + addr + "'\nadmin_pprof: true\n"))
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if !c.AdminPprof {
			t.Fatalf("%s: admin_pprof not read", addr)
		}
		got := strings.Contains(strings.Join(c.Warnings, "\n"), "admin_pprof")
		if got != warn {
			t.Errorf("admin %s: pprof warning %v, want %v (%q)", addr, got, warn, c.Warnings)
		}
	}
}

// TestAccessLogBufferFor: by default each loop's access-log buffer holds
// the room of one open request per connection it may hold; a size set by
// hand is kept, and said to be short when it is.
func TestAccessLogBufferFor(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		set        ByteSize
		maxConns   int
		loops      int
		want       ByteSize
		wantEnough bool
	}{
		{0, 10000, 2, 5000 * logRoomPerConnection, true},
		{0, 100, 4, 1 << 20, true}, // at least 1 MiB
		{0, 10000, 0, 10000 * logRoomPerConnection, true},
		{0, 1 << 30, 1, maxAccessLogBuffer, true},
		{4 << 20, 10000, 2, 4 << 20, false},
		{8 << 20, 10000, 2, 8 << 20, true},
	} {
		c.AccessLogBuffer, c.MaxConnections = tc.set, tc.maxConns
		got, enough := c.AccessLogBufferFor(tc.loops)
		if got != tc.want || enough != tc.wantEnough {
			t.Errorf("set %v, %d connections over %d loops: %v (enough %v), want %v (%v)", tc.set, tc.maxConns, tc.loops, got, enough, tc.want, tc.wantEnough)
		}
	}
}

func TestAllowCoreDumps(t *testing.T) {
	for in, want := range map[string]bool{"orgs: [{id: a}]\n": false, "orgs: [{id: a}]\nallow_core_dumps: true\n": true} {
		c, err := Parse([]byte(in))
		if err != nil || c.AllowCoreDumps != want {
			t.Errorf("%q: allow_core_dumps %v (%v), want %v", in, c.AllowCoreDumps, err, want)
		}
	}
}
