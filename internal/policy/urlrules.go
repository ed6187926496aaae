package policy

import (
	"errors"
	"strconv"
)

// unjudged blocks a Request that ParseRequest refused (it has no Path or
// no Host), for a caller that went on despite the error.
var unjudged = Decision{Action: Block, Rule: "bad-request"}

// Judge decides one request inside a connection policy let through: the
// org's host rules on r.Host and r.Port (as Decide), then its URL rules;
// it returns the stricter of the two and the rule that decided. A URL rule
// applies wherever it stands among the rules, so a rule that inspects or
// bypasses a host does not shield its paths from a URL rule.
//
// A URL rule (a block rule with Paths) matches a request to one of its
// hosts and ports whose Path starts with one of its prefixes. Prefixes
// are string prefixes, so "/admin" also blocks "/administrator" and
// "/admin.php": a rule meant for one segment is written "/admin/", which
// also blocks "/admin" itself, since origins serve a directory with and
// without its trailing slash. Without PathsCaseSensitive, ASCII case is
// ignored: IIS and most Windows-hosted origins map "/ADMIN" to "/admin".
//
// A Request without Path or Host (ParseRequest refused it) is blocked with
// the rule "bad-request". Judge allocates nothing; it is safe from any
// goroutine.
func (p *Policy) Judge(org string, r *Request) Decision {
	o := p.orgs[org]
	if o == nil {
		return noPolicy
	}
	if r.Path == "" || r.Host == "" {
		return unjudged
	}
	d := o.decide(r.Host, r.Port)
	if d.Action == Block {
		return d
	}
	for i := range o.urls {
		if u := &o.urls[i]; u.matchPath(r.Path) && u.hosts.decide(r.Host, r.Port).Action == Block {
			return u.decision
		}
	}
	return d
}

// urlRule is a compiled URL rule.
type urlRule struct {
	decision Decision
	// hosts is the rule alone as an organisation: it blocks the rule's
	// hosts and ports and inspects the rest, so they match exactly as a
	// connection rule's would.
	hosts         *orgPolicy
	prefixes      []string // normalised; ASCII lower case unless caseSensitive
	caseSensitive bool
}

// urlRules are an organisation's URL rules in the order given, tried path
// first since that is cheaper than the host lookup.
type urlRules []urlRule

// add compiles r, a rule with Paths, as the URL rule called name.
func (us *urlRules) add(name string, r *Rule) error {
	if r.Action != Block {
		return errors.New(name + ": only a block rule can list paths (it blocks those requests)")
	}
	hosts, err := compileOrg(&Org{Default: Inspect, Rules: []Rule{{Action: Block, Hosts: r.Hosts, Ports: r.Ports, Name: name}}})
	if err != nil {
		return err
	}
	u := urlRule{decision: Decision{Action: Block, Rule: name}, hosts: hosts, caseSensitive: r.PathsCaseSensitive}
	for i, path := range r.Paths {
		if err := CheckPath(path); err != nil {
			return errors.New(name + ": paths[" + strconv.Itoa(i) + "] " + strconv.Quote(path) + ": " + err.Error())
		}
		n, _ := NormalizePath(path)
		if !u.caseSensitive {
			n = lowerASCII(n)
		}
		u.prefixes = append(u.prefixes, n)
	}
	*us = append(*us, u)
	return nil
}

// CheckPath reports what is wrong with a URL rule's path, or nil; the
// rule matches the path NormalizePath gives.
func CheckPath(path string) error {
	_, err := NormalizePath(path)
	if reason, ok := err.(badRequest); ok {
		return errors.New(string(reason))
	}
	return err
}

func (u *urlRule) matchPath(path string) bool {
	for _, p := range u.prefixes {
		if len(path) >= len(p) && u.equal(path[:len(p)], p) {
			return true
		}
		if len(p) > 1 && p[len(p)-1] == '/' && len(path) == len(p)-1 && u.equal(path, p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// equal compares a piece of a request's path with a prefix of the same
// length, which is already in lower case unless the rule is case
// sensitive.
func (u *urlRule) equal(s, prefix string) bool {
	if u.caseSensitive {
		return s == prefix
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
