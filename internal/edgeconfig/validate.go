package edgeconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/internal/passhash"
	"github.com/lucid-edge/lucid/internal/policy"
)

// orgIDPattern is the CA's rule for organisation IDs (ca/authority).
var orgIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Bounds that keep a configuration sane.
const (
	maxLoops       = 4096
	minConnBuffer  = 32 << 10 // two full TLS records
	maxConnBuffer  = 64 << 20
	maxLeafValidty = 398 * 24 * time.Hour // the CA/Browser Forum's limit

	maxAuthFailures = 1000000
	// An access log buffer holds at least a few of the longest lines
	// (accesslog bounds a line to 16 KiB).
	minAccessLogBuffer = 64 << 10
	maxAccessLogBuffer = 1 << 30
)

// problems collects FieldErrors.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Validate checks every field, builds the lookups that Authenticate and
// HostOverride use, replaces plain passwords by their Argon2id hash, and
// sets Warnings. Its error lists every problem found.
func (c *Config) Validate() error {
	var p problems
	c.Warnings = nil
	checkAddr(&p, "listen", c.Listen, false)
	checkAddr(&p, "admin", c.Admin, true)
	if c.AdminPprof {
		if c.Admin == "" {
			p.add("admin_pprof", "profiles are served on admin, which is off")
		} else if !loopbackAddr(c.Admin) {
			c.Warnings = append(c.Warnings, "admin_pprof: Go's profiles are served on "+c.Admin+", which is not loopback")
		}
	}
	if c.Loops < 0 || c.Loops > maxLoops {
		p.add("loops", "%d is not in 0-%d (0 is one per CPU)", c.Loops, maxLoops)
	}
	c.validateCA(&p)
	orgs := c.validateOrgs(&p)
	c.validateUsers(&p, orgs)
	c.validateHosts(&p)
	c.validateAccessLog(&p)
	if c.Upstream.SessionCacheSize < 0 {
		p.add("upstream.session_cache_size", "%d is negative (0 turns resumption off)", c.Upstream.SessionCacheSize)
	}
	positive(&p, "timeouts.connect_line", c.Timeouts.ConnectLine)
	positive(&p, "timeouts.handshake", c.Timeouts.Handshake)
	positive(&p, "timeouts.idle", c.Timeouts.Idle)
	if c.MaxConnections <= 0 {
		p.add("max_connections", "%d is not positive", c.MaxConnections)
	}
	if b := c.Buffers.MaxPerConnection; b < minConnBuffer || b > maxConnBuffer {
		p.add("buffers.max_per_connection", "%v is not in %v-%v", b, ByteSize(minConnBuffer), ByteSize(maxConnBuffer))
	}
	if positive(&p, "leaf.max_validity", c.Leaf.MaxValidity) && c.Leaf.MaxValidity > maxLeafValidty {
		p.add("leaf.max_validity", "%v is longer than 398 days", c.Leaf.MaxValidity)
	}
	positive(&p, "leaf.key_rotation", c.Leaf.KeyRotation)
	if c.Cache.MaxEntries <= 0 {
		p.add("cache.max_entries", "%d is not positive", c.Cache.MaxEntries)
	}
	if c.Cache.MaxBytes <= 0 {
		p.add("cache.max_bytes", "%v is not positive", c.Cache.MaxBytes)
	}
	return errors.Join(p...)
}

func checkAddr(p *problems, field, addr string, mayBeEmpty bool) {
	if addr == "" && mayBeEmpty {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(field, "%q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(field, "%q has no port number in 0-65535", addr)
	}
	if _, err := netip.ParseAddr(host); host != "" && host != "localhost" && err != nil {
		p.add(field, "%q: listen on an IP address (or localhost)", addr)
	}
}

// loopbackAddr reports whether host:port listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func positive(p *problems, field string, d time.Duration) bool {
	if d <= 0 {
		p.add(field, "%v is not a positive duration", d)
		return false
	}
	return true
}

func (c *Config) validateCA(p *problems) {
	ca := &c.CA
	if ca.URL == "" {
		c.Warnings = append(c.Warnings, "ca.url: none given; the edge holds no keys and decrypts nothing")
	} else if u, err := url.Parse(ca.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		p.add("ca.url", "%q is not an https:// URL", ca.URL)
	} else {
		if ca.CertFile == "" {
			p.add("ca.cert_file", "required with ca.url: the edge's client certificate")
		}
		if ca.KeyFile == "" {
			p.add("ca.key_file", "required with ca.url: the edge's client key")
		}
	}
	positive(p, "ca.idle_timeout", ca.IdleTimeout)
}

// validateOrgs checks the organisations and returns the set of their IDs.
func (c *Config) validateOrgs(p *problems) map[string]bool {
	ids := make(map[string]bool, len(c.Orgs))
	if len(c.Orgs) == 0 {
		p.add("orgs", "give at least one organisation")
	}
	for i := range c.Orgs {
		o := &c.Orgs[i]
		f := "orgs[" + strconv.Itoa(i) + "]"
		switch {
		case !orgIDPattern.MatchString(o.ID):
			p.add(f+".id", "%q is not an organisation ID (lower-case letters, digits and '-', at most 63)", o.ID)
		case ids[o.ID]:
			p.add(f+".id", "%q is already used by another organisation", o.ID)
		}
		ids[o.ID] = true
		if o.FailMode != "" && o.FailMode != FailTunnel && o.FailMode != FailBlock {
			p.add(f+".fail_mode", "%q is not one of tunnel, block", o.FailMode)
		}
		checkAction(p, f+".default", o.Default)
		names := make(map[string]bool)
		for j, r := range o.Rules {
			rf := f + ".rules[" + strconv.Itoa(j) + "]"
			if r.Action == "" {
				p.add(rf+".action", "missing; one of inspect, bypass, block")
			} else {
				checkAction(p, rf+".action", r.Action)
			}
			for k, h := range r.Hosts {
				if err := policy.CheckPattern(h); err != nil {
					p.add(rf+".hosts["+strconv.Itoa(k)+"]", "%v", err)
				}
			}
			for k, n := range r.Ports {
				if err := policy.CheckPort(n); err != nil {
					p.add(rf+".ports["+strconv.Itoa(k)+"]", "%v", err)
				}
			}
			checkRulePaths(p, rf, r)
			checkRuleName(p, rf, r.Name, names)
		}
	}
	return ids
}

// checkRulePaths checks a URL rule's paths: each must read as a path (it
// is matched in its normalised form, policy.NormalizePath).
func checkRulePaths(p *problems, rf string, r Rule) {
	if len(r.Paths) > 0 && r.Action != "block" {
		p.add(rf+".paths", "only a block rule can list paths (it blocks those requests)")
	}
	switch {
	case r.UpstreamTLS != "" && r.UpstreamTLS != "legacy":
		p.add(rf+".upstream_tls", "%q is not legacy (the floor is the default)", r.UpstreamTLS)
	case r.UpstreamTLS != "" && (r.Action == "block" || len(r.Paths) > 0):
		p.add(rf+".upstream_tls", "set on a block rule, which never dials")
	}
	if r.PathsCaseSensitive && len(r.Paths) == 0 {
		p.add(rf+".paths_case_sensitive", "set on a rule without paths")
	}
	for k, path := range r.Paths {
		if err := policy.CheckPath(path); err != nil {
			p.add(rf+".paths["+strconv.Itoa(k)+"]", "%q: %v", path, err)
		}
	}
}

// ruleNamePattern is what a rule's name may be: it is printed in logs and
// on 403 pages, and cannot pass for a built-in one (rules[i], pinned:…).
var ruleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// checkRuleName checks an optional rule name, unique within its org.
func checkRuleName(p *problems, rf, name string, names map[string]bool) {
	switch {
	case name == "":
	case !ruleNamePattern.MatchString(name):
		p.add(rf+".name", "%q is not a rule name (letters, digits, '.', '_' and '-', at most 64)", name)
	case name == "default" || name == "no-policy" || name == "bad-request":
		p.add(rf+".name", "%q is a name policy gives its own decisions", name)
	case names[name]:
		p.add(rf+".name", "%q is already used by another rule of this organisation", name)
	}
	names[name] = true
}

func checkAction(p *problems, field, a string) {
	if _, ok := policy.ParseAction(a); !ok {
		p.add(field, "%q is not one of inspect, bypass, block", a)
	}
}

func (c *Config) validateUsers(p *problems, orgs map[string]bool) {
	c.auth = newAuthenticator()
	switch c.ServeUnauthenticated {
	case ServeLoopback, ServeAny:
	default:
		p.add("serve_unauthenticated", "%q is not one of loopback, any", c.ServeUnauthenticated)
	}
	if len(c.Users) == 0 {
		if c.ServeUnauthenticated == ServeAny {
			c.Warnings = append(c.Warnings, "users: none given and serve_unauthenticated: any; the proxy serves every client that reaches "+c.Listen+" without credentials")
		} else {
			c.Warnings = append(c.Warnings, "users: none given; the proxy asks for no credentials and serves loopback clients only")
		}
		if len(c.Orgs) > 1 {
			p.add("users", "without users every client belongs to the one organisation, but orgs holds %d", len(c.Orgs))
		}
	}
	names := make(map[string]bool, len(c.Users))
	for i := range c.Users {
		u := &c.Users[i]
		f := "users[" + strconv.Itoa(i) + "]"
		switch {
		case u.Name == "" || strings.ContainsFunc(u.Name, func(r rune) bool { return r == ':' || r < ' ' || r == 0x7f }):
			p.add(f+".name", "%q is not a user name (not empty, no ':' or control characters)", u.Name)
		case names[u.Name]:
			p.add(f+".name", "%q is already used by another user", u.Name)
		}
		names[u.Name] = true
		if !orgs[u.Org] {
			p.add(f+".org", "%q is not the id of an organisation in orgs", u.Org)
		}
		if h := c.userHash(p, f, u); h != nil {
			c.auth.users[u.Name] = &credential{hash: h, org: u.Org}
			if c.auth.dummy == nil {
				c.auth.dummy = h
			}
		}
	}
	if c.AuthFailures.Limit < 1 || c.AuthFailures.Limit > maxAuthFailures {
		p.add("auth_failures.limit", "%d is not in 1-%d", c.AuthFailures.Limit, maxAuthFailures)
	}
	positive(p, "auth_failures.per", c.AuthFailures.Per)
}

// userHash reads a user's password hash, hashing a plain password.
func (c *Config) userHash(p *problems, f string, u *User) *passhash.Hash {
	if u.PasswordSHA256 != "" {
		p.add(f+".password_sha256", "a bare SHA-256 is no longer accepted; run `edge hash-password`, type the password, and give what it prints as password_hash")
		return nil
	}
	switch {
	case u.Password != "" && u.PasswordHash != "":
		p.add(f, "give password_hash or password, not both")
		return nil
	case u.Password != "":
		c.Warnings = append(c.Warnings, f+".password: a plain-text password; use password_hash (from `edge hash-password`) outside labs")
		u.PasswordHash, u.Password = passhash.Argon2id(u.Password), ""
	case u.PasswordHash == "":
		p.add(f, "give password_hash (or password, in labs)")
		return nil
	}
	h, err := passhash.Parse(u.PasswordHash)
	if err != nil {
		p.add(f+".password_hash", "%v", err)
		return nil
	}
	if weak := h.Weak(); weak != "" {
		c.Warnings = append(c.Warnings, f+".password_hash: "+weak+"; re-hash with `edge hash-password`")
	}
	return h
}

func (c *Config) validateAccessLog(p *problems) {
	if b := c.AccessLogBuffer; b != 0 && (b < minAccessLogBuffer || b > maxAccessLogBuffer) {
		p.add("access_log_buffer", "%v is not in %v-%v", b, ByteSize(minAccessLogBuffer), ByteSize(maxAccessLogBuffer))
	}
	switch c.AccessLogOverflow {
	case OverflowRefuse, OverflowDrop, OverflowBlock:
	default:
		p.add("access_log_overflow", "%q is not one of refuse, drop, block", c.AccessLogOverflow)
	}
}

func (c *Config) validateHosts(p *problems) {
	c.hosts = make(map[string]netip.AddrPort, len(c.Hosts))
	names := make([]string, 0, len(c.Hosts))
	for name := range c.Hosts {
		names = append(names, name)
	}
	sort.Strings(names) // problems in a stable order
	for _, name := range names {
		addr := c.Hosts[name]
		f := "hosts[" + strconv.Quote(name) + "]"
		key := strings.TrimSuffix(strings.ToLower(name), ".")
		if !isHostName(key) {
			p.add(f, "%q is not a host name", name)
			continue
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || ap.Port() == 0 {
			p.add(f, "%q is not ip:port", addr)
			continue
		}
		if _, dup := c.hosts[key]; dup {
			p.add(f, "%q is given twice in different case", name)
			continue
		}
		c.hosts[key] = ap
	}
}

// isHostName reports whether s is a plain DNS name: a valid exact policy
// pattern that is not an IP address.
func isHostName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	return policy.CheckPattern(s) == nil && !strings.ContainsAny(s, "*:[") && !strings.HasPrefix(s, ".")
}
