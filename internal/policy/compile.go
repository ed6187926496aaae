package policy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// maxName is the longest DNS name in text form, without the trailing dot.
const maxName = 253

type patternKind uint8

const (
	exactName patternKind = iota // example.com
	wildcard                     // *.example.com
	suffix                       // .example.com
	anyHost                      // *
	addrRange                    // 192.0.2.1, ::1, 10.0.0.0/8, fd00::/8
)

type pattern struct {
	kind   patternKind
	name   string       // lower case, no trailing dot; the domain for wildcard and suffix
	prefix netip.Prefix // addrRange: an IP address is a range of one
}

func parsePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, errors.New("empty host pattern")
	}
	if s == "*" {
		return pattern{kind: anyHost}, nil
	}
	if a, ok := parseIP(s); ok {
		return pattern{kind: addrRange, prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if addr, _, ok := strings.Cut(s, "/"); ok {
		if _, isIP := parseIP(addr); isIP || addr == "" {
			p, err := parsePrefix(s)
			return pattern{kind: addrRange, prefix: p}, err
		}
	}
	if s[0] == '[' {
		return pattern{}, errors.New("host pattern " + strconv.Quote(s) + ": not an IPv6 address")
	}
	p := pattern{kind: exactName}
	rest := s
	switch {
	case strings.HasPrefix(s, "*."):
		p.kind, rest = wildcard, s[2:]
	case s[0] == '.':
		p.kind, rest = suffix, s[1:]
	}
	if strings.Contains(rest, "*") {
		return pattern{}, errors.New("host pattern " + strconv.Quote(s) + ": '*' only as a whole first label, as in *.example.com")
	}
	name, err := checkName(rest)
	if err != nil {
		return pattern{}, errors.New("host pattern " + strconv.Quote(s) + ": " + err.Error())
	}
	p.name = name
	return p, nil
}

// checkName validates a DNS name and returns it in lower case without a
// trailing dot.
func checkName(s string) (string, error) {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if s == "" || len(s) > maxName {
		return "", errors.New("a name has 1 to 253 characters")
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("a label has 1 to 63 characters")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", errors.New("a name holds only letters, digits, '-' and '_' (IDNs in their xn-- form)")
			}
		}
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		return "", errors.New("an all-digit last label reads as an IPv4 address, and this is not one")
	}
	return s, nil
}

// parseIP reads an IP literal (IPv6 with or without brackets, no zone);
// IPv4-mapped IPv6 addresses become IPv4. It only calls netip for strings
// that can be addresses, since a failed parse allocates its error.
func parseIP(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return netip.Addr{}, false
	}
	colon := strings.IndexByte(s, ':') >= 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || colon && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// orgPolicy is one organisation's compiled rules. Rule indexes are int32
// positions in rules; each list holds them in increasing order, so the
// first entry that matches the port is that list's earliest rule.
type orgPolicy struct {
	rules   []compiledRule
	names   map[string]*nameRules
	addrs   addrIndex
	anyHost []int32
	def     Decision
	urls    urlRules // rules with paths, which Judge applies per request
}

// nameRules are the rules a DNS name's patterns lead to: self for the name
// itself (exact and suffix patterns), below for names under it (wildcard
// and suffix patterns).
type nameRules struct {
	self, below []int32
}

type compiledRule struct {
	decision Decision
	ports    []uint16
	// hosts are the rule's patterns (one anyHost for a rule without
	// hosts); LeafNames reads them to judge a wildcard name against every
	// rule.
	hosts []pattern
}

func compileOrg(o *Org) (*orgPolicy, error) {
	if int(o.Default) >= len(actionNames) {
		return nil, errors.New("unknown default action " + o.Default.String())
	}
	op := &orgPolicy{
		names: make(map[string]*nameRules),
		def:   Decision{Action: o.Default, Rule: "default"},
	}
	for i, r := range o.Rules {
		if int(r.Action) >= len(actionNames) {
			return nil, errors.New("rules[" + strconv.Itoa(i) + "]: unknown action " + r.Action.String())
		}
		name := r.Name
		if name == "" {
			name = "rules[" + strconv.Itoa(i) + "]"
		}
		if len(r.Paths) > 0 {
			if err := op.urls.add(name, &r); err != nil {
				return nil, err
			}
			continue
		}
		d := Decision{Action: r.Action, Rule: name, LegacyTLS: r.UpstreamTLSLegacy && r.Action != Block}
		if err := op.add(d, r.Hosts, r.Ports); err != nil {
			return nil, errors.New(name + ": " + err.Error())
		}
	}
	if o.BypassPinned {
		for _, p := range pinned {
			if err := op.add(Decision{Action: Bypass, Rule: "pinned:" + p}, []string{p}, nil); err != nil {
				panic("policy: built-in pinned pattern: " + err.Error())
			}
		}
	}
	return op, nil
}

func (op *orgPolicy) add(d Decision, hosts []string, ports []int) error {
	idx := int32(len(op.rules))
	cr := compiledRule{decision: d}
	for _, n := range ports {
		if err := CheckPort(n); err != nil {
			return err
		}
		cr.ports = append(cr.ports, uint16(n))
	}
	if len(hosts) == 0 {
		cr.hosts = []pattern{{kind: anyHost}}
		op.anyHost = appendIndex(op.anyHost, idx)
	}
	for _, h := range hosts {
		p, err := parsePattern(h)
		if err != nil {
			return err
		}
		cr.hosts = append(cr.hosts, p)
		switch p.kind {
		case anyHost:
			op.anyHost = appendIndex(op.anyHost, idx)
		case addrRange:
			op.addrs.add(p.prefix, idx)
		case exactName:
			nr := op.name(p.name)
			nr.self = appendIndex(nr.self, idx)
		case wildcard:
			nr := op.name(p.name)
			nr.below = appendIndex(nr.below, idx)
		case suffix:
			nr := op.name(p.name)
			nr.self = appendIndex(nr.self, idx)
			nr.below = appendIndex(nr.below, idx)
		}
	}
	op.rules = append(op.rules, cr)
	return nil
}

func (op *orgPolicy) name(n string) *nameRules {
	nr := op.names[n]
	if nr == nil {
		nr = &nameRules{}
		op.names[n] = nr
	}
	return nr
}

// appendIndex appends idx unless it is already last: one rule naming a
// host twice needs one entry.
func appendIndex(l []int32, idx int32) []int32 {
	if len(l) > 0 && l[len(l)-1] == idx {
		return l
	}
	return append(l, idx)
}

func (op *orgPolicy) decide(host string, port int) Decision {
	best := op.first(op.anyHost, port, op.none(), applies)
	best = op.firstHost(host, port, best, applies)
	return op.decision(best)
}

// none is the rule index past the last rule: no rule matched.
func (op *orgPolicy) none() int32 { return int32(len(op.rules)) }

// decision returns rule i's decision, or the default for none.
func (op *orgPolicy) decision(i int32) Decision {
	if int(i) < len(op.rules) {
		return op.rules[i].decision
	}
	return op.def
}

// firstHost returns the earliest rule before best that satisfies m for
// port and whose patterns name host: its name patterns, or its IP and
// CIDR patterns when host is an IP literal. Rules of any host are the
// caller's to try.
func (op *orgPolicy) firstHost(host string, port int, best int32, m match) int32 {
	if a, ok := parseIP(host); ok {
		return op.firstAddr(a, port, best, m)
	}
	var buf [maxName]byte
	name, ok := lowerName(&buf, host)
	if !ok {
		return best
	}
	// The name itself, then each parent domain from the longest.
	if nr := op.names[string(name)]; nr != nil {
		best = op.first(nr.self, port, best, m)
	}
	for i := range len(name) {
		if name[i] != '.' {
			continue
		}
		if nr := op.names[string(name[i+1:])]; nr != nil {
			best = op.first(nr.below, port, best, m)
		}
	}
	return best
}

// match is what first asks of a rule beyond its hosts.
type match uint8

const (
	// applies: the rule's ports are empty or hold the port, so the rule
	// decides the connection.
	applies match = iota
	// listsPort: the rule is not a block and names the port in its
	// ports, so it lets a port other than the scheme's own through.
	listsPort
)

// first returns the earliest rule in l before best that satisfies m for
// port, or best.
func (op *orgPolicy) first(l []int32, port int, best int32, m match) int32 {
	for _, i := range l {
		if i >= best {
			break
		}
		r := &op.rules[i]
		switch m {
		case applies:
			if len(r.ports) == 0 || r.hasPort(port) {
				return i
			}
		case listsPort:
			if r.decision.Action != Block && r.hasPort(port) {
				return i
			}
		}
	}
	return best
}

func (r *compiledRule) hasPort(port int) bool {
	for _, p := range r.ports {
		if int(p) == port {
			return true
		}
	}
	return false
}

// lowerName copies host into buf in ASCII lower case without a trailing
// dot; a name too long to be a DNS name is refused.
func lowerName(buf *[maxName]byte, host string) ([]byte, bool) {
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if host == "" || len(host) > maxName {
		return nil, false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(host)], true
}

// ValidServerName reports whether an SNI names a host policy can judge: a
// DNS name (letters, digits, '-' and '_' in labels of 1 to 63, at most
// 253 characters, a trailing dot allowed) or, though RFC 6066 §3 forbids
// it, an IP literal (without brackets), which some clients send and
// policy reads as the address it is. Anything else is refused before a leaf is minted for it.
func ValidServerName(s string) bool {
	if _, ok := parseIP(s); ok && !strings.HasPrefix(s, "[") {
		return true
	}
	_, err := checkName(s)
	return err == nil
}
