// Package policy decides, per organisation, what the edge does with a
// connection to a host and port: inspect it, bypass it (relay the bytes
// untouched) or block it.
//
// An organisation's rules are tried in order and the first whose hosts and
// ports both match wins; then, unless the organisation turned it off, the
// built-in list of names that pin their certificates (Pinned) bypasses;
// then the organisation's default action applies.
//
// A block rule with paths is a URL rule: it does not decide connections
// but the requests inside them, which Judge decides one by one on their
// normalised path (NormalizePath), the strictest of the host rules and the
// URL rules winning.
//
// Host patterns, compared without regard to ASCII case and ignoring a
// trailing dot:
//
//	example.com     exactly that name
//	*.example.com   any name one or more labels below example.com
//	.example.com    example.com and any name below it
//	*               any host
//	192.0.2.1, ::1  that IP address (IPv6 with or without brackets)
//	10.0.0.0/8      any IP address in that range (CIDR, RFC 4632), and
//	fd00::/8        in IPv6 (RFC 4291 §2.3); no bits set after the length
//
// IP and CIDR patterns match IP-literal hosts and, in Destination, the
// address the edge dials; names and * never match a dialed address. An
// IPv4-mapped IPv6 address or range (::ffff:10.0.0.1, ::ffff:10.0.0.0/104)
// is the IPv4 one; an IPv6 range that holds all of ::ffff:0:0/96 (::/0)
// is refused, since it would silently mean every IPv4 address too.
//
// New compiles names into one map per organisation, keyed by name, and
// addresses into one map per range length, so Decide costs one map lookup
// per label of the host (or per range length the rules use) and allocates
// nothing. A Policy is immutable: every method is safe from any
// goroutine.
package policy

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
)

// Action is what the edge does with a connection.
type Action uint8

// Actions.
const (
	Inspect Action = iota // decrypt, inspect and re-encrypt
	Bypass                // relay the TLS bytes untouched
	Block                 // refuse the connection
)

var actionNames = [...]string{Inspect: "inspect", Bypass: "bypass", Block: "block"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// ParseAction reads an action's name: inspect, bypass or block.
func ParseAction(s string) (Action, bool) {
	for a, name := range actionNames {
		if s == name {
			return Action(a), true
		}
	}
	return 0, false
}

// Rule is one of an organisation's rules. Empty Hosts match any host and
// empty Ports any port.
type Rule struct {
	Action Action
	Hosts  []string
	Ports  []int
	// Paths makes a block rule a URL rule (see Judge): path prefixes,
	// normalised by New as NormalizePath does, so "/a/../admin" is
	// "/admin". Decide never applies such a rule.
	Paths []string
	// PathsCaseSensitive compares Paths with ASCII case; by default case
	// is ignored.
	PathsCaseSensitive bool
	// Name identifies the rule in decisions and logs; empty means
	// "rules[i]" for the rule's index.
	Name string
	// UpstreamTLSLegacy (upstream_tls: legacy) lets origins of this rule's
	// hosts negotiate below the edge's TLS floor: Decision.LegacyTLS.
	UpstreamTLSLegacy bool
}

// Org is one organisation's policy.
type Org struct {
	ID string
	// Rules are tried in order for connections; the URL rules among them
	// (rules with Paths, block rules only) for each request, by Judge.
	Rules []Rule
	// Default applies when no rule and no pinned name matches.
	Default Action
	// BypassPinned turns on the built-in bypass list (Pinned), tried after
	// Rules: a rule can still inspect or block a pinned name.
	BypassPinned bool
}

// Decision is what Decide chose and why.
type Decision struct {
	Action Action
	// Rule names what matched: a rule's name, "pinned:" and the pinned
	// pattern, "default", or "no-policy" for an unknown organisation.
	// Destination's refusals say "refused:" and why (see Destination).
	Rule string
	// LegacyTLS is true when the deciding rule has UpstreamTLSLegacy and
	// does not block: the edge accepts an origin below its TLS floor. It
	// belongs to the host the edge dials, so the edge reads it from
	// Decide for the CONNECT target (or the original destination), never
	// from a decision combined with the SNI or a request's host, which
	// the client chooses.
	LegacyTLS bool
}

// Policy holds every organisation's compiled rules and the edge's own
// listeners.
type Policy struct {
	orgs       map[string]*orgPolicy
	own        ownListeners
	generation uint64
}

// generations numbers compiled policies, so that no two share one.
var generations atomic.Uint64

// noPolicy is the decision for an organisation the policy does not know:
// block, since nobody said anything may pass.
var noPolicy = Decision{Action: Block, Rule: "no-policy"}

// New compiles the organisations' policies. It fails on a duplicate
// organisation, an unknown action, a bad pattern or a port out of range.
func New(orgs []Org) (*Policy, error) {
	p := &Policy{orgs: make(map[string]*orgPolicy, len(orgs)), generation: generations.Add(1)}
	for i := range orgs {
		o := &orgs[i]
		if _, dup := p.orgs[o.ID]; dup {
			return nil, fmt.Errorf("policy: organisation %q twice", o.ID)
		}
		op, err := compileOrg(o)
		if err != nil {
			return nil, fmt.Errorf("policy: organisation %q: %w", o.ID, err)
		}
		p.orgs[o.ID] = op
	}
	return p, nil
}

// Decide returns the action for a connection of org's user to host:port.
// host is a DNS name or an IP literal (IPv6 with or without brackets), in
// any case, with or without a trailing dot.
func (p *Policy) Decide(org, host string, port int) Decision {
	o := p.orgs[org]
	if o == nil {
		return noPolicy
	}
	return o.decide(host, port)
}

// Generation identifies what this Policy allows: every New returns a
// Policy with a generation no other Policy of the process has (a reload
// gets a new one even when its rules are unchanged), and copies made by
// WithOwnListeners keep it, since LeafNames answers the same for them.
// The leaf cache puts it in its key, next to the organisation, the
// origin's certificate and the SNI, so a leaf minted under one policy is
// never served under the next; see LeafNames.
func (p *Policy) Generation() uint64 { return p.generation }

// Orgs reports how many organisations the policy holds.
func (p *Policy) Orgs() int { return len(p.orgs) }

// CheckPattern reports what is wrong with a host pattern, or nil.
func CheckPattern(s string) error {
	_, err := parsePattern(s)
	return err
}

// CheckPort reports whether n is a TCP port a rule can name.
func CheckPort(n int) error {
	if n < 1 || n > 65535 {
		return errors.New("port " + strconv.Itoa(n) + " is not in 1-65535")
	}
	return nil
}
