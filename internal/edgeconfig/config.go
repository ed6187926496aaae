// Package edgeconfig reads the edge's YAML configuration: what it listens
// on, where its CA is, who its users are, each organisation's policy, and
// the limits that bound its resources.
//
//	listen: 127.0.0.1:3128          # the explicit proxy
//	admin: 127.0.0.1:9090           # /metrics and /healthz; "" turns it off
//	admin_pprof: false              # Go's profiles under /debug/pprof/ on admin (for profiling)
//	allow_core_dumps: false         # leave the process dumpable and traceable (debugging, core tests); by default PR_SET_DUMPABLE is 0
//	loops: 0                        # event loops; 0 is one per CPU
//	ca:
//	  url: https://ca.example:8444  # the CA's key API; none means no keys, so no decryption
//	  cert_file: edge.pem           # the edge's client certificate from enrolment
//	  key_file: edge-key.pem
//	  root_file: ca-root.pem        # the CA's service root
//	  idle_timeout: 10m             # an unused organisation key is wiped after this
//	users:                          # Proxy-Authorization: Basic; none means no authentication
//	  - {name: alice, password_hash: "$argon2id$v=19$m=19456,t=2,p=1$…$…", org: acme}   # from `edge hash-password`
//	  - {name: bob, password_hash: "$2b$12$…", org: acme}          # bcrypt is accepted too
//	  - {name: lab, password: lab, org: acme}     # plain text: labs only (hashed at load, with a warning)
//	serve_unauthenticated: loopback # without users: serve loopback clients only; "any" serves every client
//	auth_failures: {limit: 10, per: 1m}   # failed logins per client IP (IPv6 per /64); beyond: 429 and close
//	orgs:
//	  - id: acme
//	    fail_mode: tunnel           # without a key: tunnel or block; "" follows the CA
//	    allow_invalid_upstream: false   # pass origin certificate failures on under an untrusted leaf
//	    default: inspect            # when no rule matches
//	    bypass_pinned: true         # the built-in list of certificate-pinning apps
//	    log_query_values: false     # the access log redacts query values (?q=<redacted>) unless true
//	    rules:
//	      - {action: bypass, hosts: [.bank.example]}
//	      - {action: block, hosts: ["*.ads.example"], ports: [80, 443]}
//	      - {action: inspect, hosts: [old-erp.example], upstream_tls: legacy}   # below the TLS floor (TLS 1.0/1.1, CBC, RSA kx): allowed for these hosts only
//	      - {action: inspect, hosts: [10.20.0.0/16], ports: [443, 8443]}      # opens a private range (by address or CIDR only) and a port
//	      - name: no-admin            # in decisions and the log; "rules[i]" when absent
//	        action: block             # with paths: a URL rule, judged per request, not per connection
//	        hosts: [intranet.example]
//	        paths: [/admin, /debug/]  # prefixes of the normalised path ("/debug/" also blocks "/debug")
//	        paths_case_sensitive: false   # the default: /ADMIN is /admin
//	hosts: {demo.test: "127.0.0.1:8443"}      # overrides DNS (tests, labs)
//	upstream: {roots_file: extra-roots.pem, session_cache_size: 256}
//	timeouts: {connect_line: 10s, handshake: 15s, idle: 5m}
//	max_connections: 10000
//	buffers: {max_per_connection: 256KiB}
//	leaf: {max_validity: 168h, key_rotation: 1h}
//	cache: {max_entries: 10000, max_bytes: 64MiB}
//	access_log: "-"                 # a file, "-" for standard output, "" for none
//	access_log_buffer: 0            # per event loop, written off the loop at least every 100ms; 0 sizes it for max_connections (below)
//	access_log_overflow: refuse     # when the log cannot keep up: refuse (503), drop (counted) or block
//
// Passwords are stored as Argon2id or bcrypt hashes; a bare SHA-256
// (password_sha256, accepted before) is refused with a hint to re-hash.
// An edge without users asks for no credentials, so by default it serves
// only clients on loopback: serving others needs serve_unauthenticated:
// any. The access log buffers per loop; when its sink is slower than the
// traffic, refuse (the default) answers new requests 503 until the log
// catches up, so nothing goes unlogged; drop serves them and counts the
// lost lines (lucid_access_log_dropped_total); block stalls the loop
// until the writer catches up. Under refuse, a loop's buffer also holds
// room for the line of each request and bypassed tunnel open on it, from
// admission until it ends (a line is about 400 bytes plus its URL), so
// it is sized for those too: 0, the default, gives each loop 1.25 KiB
// for every connection it may hold (max_connections over the loops), at
// least 1 MiB, which is one open request per connection; more requests
// open at once on a loop (HTTP/2 streams) get 503 while the log is full.
// A size set by hand below that is warned about at start.
//
// Destinations are checked on the address actually dialed, after DNS
// (so a name that resolves or rebinds to a refused address is refused):
// loopback, link-local, private, unique-local, CGNAT, unspecified,
// multicast and reserved addresses and the cloud metadata services are
// refused unless an org rule names them by address or CIDR (never by a
// name or *; a metadata address only by itself); the edge's own
// listeners and the CA's are refused whatever the rules. A CONNECT to a
// port other than 443, or a plain request to one other than 80, is
// refused unless a non-block rule lists that port. Names in hosts are
// the operator's: the range and port checks skip them, the own-listener
// check does not. What can be known before resolution (an IP literal, a
// port, "localhost" names) is refused before the CONNECT is answered.
// Upstream TLS below TLS 1.2, or with a CBC or RSA key-exchange suite,
// gets a 502 page unless the rule for the host says upstream_tls: legacy.
//
// Unknown fields are errors, and every error names the field it is about
// (orgs[1].rules[0].action) and, from a file, its line. Durations are Go
// duration strings; sizes are bytes or a number with B, KiB, MiB, GiB, KB,
// MB or GB. Load resolves relative file names against the folder of the
// configuration file.
package edgeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the edge's configuration. Parse and Load return it validated;
// one built in code must pass Validate before its methods are used. After
// that it is read-only, and safe to share between goroutines.
type Config struct {
	Listen     string `yaml:"listen"`
	Admin      string `yaml:"admin"`
	AdminPprof bool   `yaml:"admin_pprof"`
	// AllowCoreDumps leaves the process dumpable (internal/nodump): a
	// core, /proc/PID/mem and ptrace by the same user. Off by default.
	AllowCoreDumps bool              `yaml:"allow_core_dumps"`
	Loops          int               `yaml:"loops"`
	CA             CA                `yaml:"ca"`
	Users          []User            `yaml:"users"`
	Orgs           []Org             `yaml:"orgs"`
	Hosts          map[string]string `yaml:"hosts"`
	Upstream       Upstream          `yaml:"upstream"`
	Timeouts       Timeouts          `yaml:"timeouts"`
	MaxConnections int               `yaml:"max_connections"`
	Buffers        Buffers           `yaml:"buffers"`
	Leaf           Leaf              `yaml:"leaf"`
	Cache          Cache             `yaml:"cache"`
	AccessLog      string            `yaml:"access_log"`
	// AccessLogBuffer is the access log's buffer per event loop; zero
	// sizes it for MaxConnections (AccessLogBufferFor).
	AccessLogBuffer ByteSize `yaml:"access_log_buffer"`
	// AccessLogOverflow is what happens when that buffer is full:
	// OverflowRefuse, OverflowDrop or OverflowBlock.
	AccessLogOverflow string `yaml:"access_log_overflow"`
	// ServeUnauthenticated says whom an edge without users serves:
	// ServeLoopback or ServeAny.
	ServeUnauthenticated string `yaml:"serve_unauthenticated"`
	// AuthFailures limits failed logins per client.
	AuthFailures AuthFailures `yaml:"auth_failures"`

	// Warnings are what Validate accepted but an operator should hear of.
	Warnings []string `yaml:"-"`

	auth  *authenticator
	hosts map[string]netip.AddrPort
}

// AuthFailures is how many failed logins (407s) a client IP address (an
// IPv6 client by its /64) may have per period; beyond it the edge answers
// 429 and closes the connection without checking the password.
type AuthFailures struct {
	Limit int           `yaml:"limit"`
	Per   time.Duration `yaml:"per"`
}

// Values of access_log_overflow.
const (
	OverflowRefuse = "refuse"
	OverflowDrop   = "drop"
	OverflowBlock  = "block"
)

// CA says where the edge fetches organisation keys.
type CA struct {
	URL         string        `yaml:"url"`
	CertFile    string        `yaml:"cert_file"`
	KeyFile     string        `yaml:"key_file"`
	RootFile    string        `yaml:"root_file"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// User is a proxy user. Exactly one of PasswordHash (Argon2id or bcrypt)
// and Password is set; Validate replaces a Password by its Argon2id hash.
// PasswordSHA256 is refused: a bare SHA-256 is too fast to stand up to
// a guessing attack on a leaked configuration.
type User struct {
	Name           string `yaml:"name"`
	PasswordHash   string `yaml:"password_hash"`
	Password       string `yaml:"password"`
	PasswordSHA256 string `yaml:"password_sha256"`
	Org            string `yaml:"org"`
}

// Org is one organisation's settings and policy.
type Org struct {
	ID string `yaml:"id"`
	// FailMode is what happens to its connections while the edge holds no
	// key for it: FailTunnel or FailBlock; "" follows the CA's record of
	// the organisation.
	FailMode string `yaml:"fail_mode"`
	// AllowInvalidUpstream passes an origin certificate failure on to the
	// client under a leaf from an untrusted signer, instead of a 502 page.
	AllowInvalidUpstream bool `yaml:"allow_invalid_upstream"`
	// Default is the action when no rule matches (inspect unless set).
	Default string `yaml:"default"`
	Rules   []Rule `yaml:"rules"`
	// BypassPinned turns on policy's built-in list of names that pin
	// their certificates (on unless set to false).
	BypassPinned bool `yaml:"bypass_pinned"`
	// LogQueryValues writes query values to the access log as they are;
	// by default they are redacted (names kept), as they often carry
	// tokens and passwords.
	LogQueryValues bool `yaml:"log_query_values"`
}

// Fail modes.
const (
	FailTunnel = "tunnel"
	FailBlock  = "block"
)

// UnmarshalYAML fills in the defaults of fields absent from the YAML.
func (o *Org) UnmarshalYAML(n *yaml.Node) error {
	type plain Org // without this method
	p := plain{Default: "inspect", BypassPinned: true}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*o = Org(p)
	return nil
}

// Rule is one policy rule: the first that matches decides.
type Rule struct {
	Action string   `yaml:"action"`
	Hosts  []string `yaml:"hosts"`
	Ports  []int    `yaml:"ports"`
	// Paths turns a block rule into a URL rule: it is not applied to the
	// connection but to each request whose normalised path starts with one
	// of these prefixes (on its Hosts and Ports; all hosts when empty),
	// which gets a 403 page. A prefix is normalised too: "/a/../admin" is
	// "/admin" (policy.NormalizePath; policy.Judge says how they match).
	Paths []string `yaml:"paths"`
	// PathsCaseSensitive compares Paths with ASCII case; by default
	// "/ADMIN" is "/admin".
	PathsCaseSensitive bool `yaml:"paths_case_sensitive"`
	// Name names the rule in decisions and the log; "rules[i]" when empty.
	Name string `yaml:"name"`
	// UpstreamTLS "legacy" lets origins of this rule's hosts negotiate
	// below the edge's TLS floor (a version below TLS 1.2, a CBC or RSA
	// key-exchange suite), which otherwise ends the upstream handshake
	// with a 502 page; "" keeps the floor. Not on a block rule.
	UpstreamTLS string `yaml:"upstream_tls"`
}

// Upstream configures connections to origins.
type Upstream struct {
	// RootsFile holds PEM roots trusted besides the system's.
	RootsFile string `yaml:"roots_file"`
	// SessionCacheSize bounds the TLS session tickets kept per origin
	// set; 0 turns upstream resumption off.
	SessionCacheSize int `yaml:"session_cache_size"`
}

// Timeouts bound how long a client or origin can hold a connection.
type Timeouts struct {
	ConnectLine time.Duration `yaml:"connect_line"` // from accept to a complete CONNECT head
	Handshake   time.Duration `yaml:"handshake"`    // each TLS handshake
	Idle        time.Duration `yaml:"idle"`         // a relay with no bytes either way
}

// Buffers bound memory per connection.
type Buffers struct {
	MaxPerConnection ByteSize `yaml:"max_per_connection"`
}

// Leaf configures minted leaf certificates.
type Leaf struct {
	MaxValidity time.Duration `yaml:"max_validity"`
	KeyRotation time.Duration `yaml:"key_rotation"`
}

// Cache bounds the per-loop cache of minted leaves.
type Cache struct {
	MaxEntries int      `yaml:"max_entries"`
	MaxBytes   ByteSize `yaml:"max_bytes"`
}

// Default returns a configuration with every default filled in and no
// organisations (which Validate refuses: add at least one).
func Default() *Config {
	return &Config{
		Listen:         "127.0.0.1:3128",
		Admin:          "127.0.0.1:9090",
		CA:             CA{IdleTimeout: 10 * time.Minute},
		Upstream:       Upstream{SessionCacheSize: 256},
		Timeouts:       Timeouts{ConnectLine: 10 * time.Second, Handshake: 15 * time.Second, Idle: 5 * time.Minute},
		MaxConnections: 10000,
		Buffers:        Buffers{MaxPerConnection: 256 << 10},
		Leaf:           Leaf{MaxValidity: 168 * time.Hour, KeyRotation: time.Hour},
		Cache:          Cache{MaxEntries: 10000, MaxBytes: 64 << 20},
		AccessLog:      "-",

		AccessLogOverflow:    OverflowRefuse,
		ServeUnauthenticated: ServeLoopback,
		AuthFailures:         AuthFailures{Limit: 10, Per: time.Minute},
	}
}

// Load reads and validates the configuration file at path, resolves the
// file names in it against the file's folder, and checks that the files
// it names can be read.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	c.resolveFiles(filepath.Dir(path))
	if err := c.CheckFiles(); err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return c, nil
}

// Parse reads a configuration from YAML, fills in defaults and validates
// it. Its error lists every problem found, one *FieldError per line.
func Parse(b []byte) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		c := Default()
		return c, c.Validate()
	case err != nil:
		return nil, &FieldError{Field: "config", Problem: "not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &FieldError{Field: "config", Line: extra.Line, Problem: "more than one YAML document"}
	}
	w := newWalker()
	w.walk(&root, configType, "")
	if len(w.errs) > 0 {
		return nil, errors.Join(w.errs...)
	}
	c := Default()
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil {
		// The walker checks each field first, so this is a backstop.
		return nil, &FieldError{Field: "config", Problem: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if err := c.Validate(); err != nil {
		return nil, w.addLines(err)
	}
	return c, nil
}

// resolveFiles makes relative file names relative to dir.
func (c *Config) resolveFiles(dir string) {
	for _, p := range []*string{&c.CA.CertFile, &c.CA.KeyFile, &c.CA.RootFile, &c.Upstream.RootsFile, &c.AccessLog} {
		if *p != "" && *p != "-" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// CheckFiles reports, by field, the files the configuration names that
// cannot be opened for reading. The access log is created later, so only
// its folder is checked.
func (c *Config) CheckFiles() error {
	var errs []error
	for _, f := range []struct{ field, name string }{
		{"ca.cert_file", c.CA.CertFile},
		{"ca.key_file", c.CA.KeyFile},
		{"ca.root_file", c.CA.RootFile},
		{"upstream.roots_file", c.Upstream.RootsFile},
	} {
		if f.name == "" {
			continue
		}
		fh, err := os.Open(f.name)
		if err != nil {
			errs = append(errs, &FieldError{Field: f.field, Problem: err.Error()})
			continue
		}
		fh.Close()
	}
	if c.AccessLog != "" && c.AccessLog != "-" {
		if st, err := os.Stat(filepath.Dir(c.AccessLog)); err != nil || !st.IsDir() {
			errs = append(errs, &FieldError{Field: "access_log", Problem: "no folder " + filepath.Dir(c.AccessLog)})
		}
	}
	return errors.Join(errs...)
}

// FieldError is one problem with one field of the configuration.
type FieldError struct {
	Field   string // a path such as orgs[1].rules[0].action
	Line    int    // the field's line in the YAML, 0 when unknown
	Problem string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Field, e.Line, e.Problem)
	}
	return e.Field + ": " + e.Problem
}

// logRoomPerConnection is what the default access-log buffer holds per
// connection: the room of one open request's line (about 600 bytes with
// a typical URL), in each of the buffer's two halves.
const logRoomPerConnection = 1280

// AccessLogBufferFor is the access-log buffer of each of loops event
// loops: AccessLogBuffer when set, else room for one open request per
// connection a loop may hold (MaxConnections shared out), at least 1 MiB.
// enough reports whether that holds one request per connection.
func (c *Config) AccessLogBufferFor(loops int) (size ByteSize, enough bool) {
	loops = max(loops, 1)
	need := ByteSize((c.MaxConnections + loops - 1) / loops * logRoomPerConnection)
	if c.AccessLogBuffer != 0 {
		return c.AccessLogBuffer, c.AccessLogBuffer >= need
	}
	return min(max(need, 1<<20), maxAccessLogBuffer), true
}
