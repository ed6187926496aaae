package policy

import (
	"net/netip"
	"strings"
)

// Dest is a connection the edge is about to open to an origin.
type Dest struct {
	// Host is the host the client asked for (the CONNECT target, the
	// original destination or a plain request's host): a name or an IP
	// literal; "" when there is none.
	Host string
	// Addr is the address actually dialed, after DNS or the hosts
	// section: the check is on it, so a name that resolves to a refused
	// address is refused (no DNS rebinding).
	Addr netip.AddrPort
	// Plain is true for a plain http:// request, false for a CONNECT (or
	// a transparent TLS connection).
	Plain bool
	// Mapped is true when Addr comes from the operator's hosts section.
	Mapped bool
}

// Allowing decisions of Destination. Their action is Bypass, the weakest,
// so Stricter(hostDecision, Destination(...)) is the host decision when
// the destination is allowed, and a refusal when it is not.
var (
	destinationAllowed = Decision{Action: Bypass, Rule: "destination"}
	mappedAllowed      = Decision{Action: Bypass, Rule: "mapped"}
)

// Destination checks the address the edge is about to dial for org's
// user. It returns a Block decision whose Rule says why, or an allowing
// one (action Bypass, the weakest: combine it with the host decision by
// Stricter and never use it alone). In order:
//
//   - An own listener (WithOwnListeners) is refused, "refused:own-listener",
//     for every organisation, whatever the rules, mapped or not.
//   - An invalid address is "refused:address", port 0 "refused:port", an
//     unknown organisation "no-policy".
//   - The address is decided as Decide decides an IP literal, but only by
//     rules that cover it by an IP or CIDR pattern or that have any host
//     (no names, no default): a block there refuses with that rule's name.
//     So a block rule on 203.0.113.0/24 refuses a name that resolves into
//     it, unless an earlier rule of any host decided otherwise.
//   - A Mapped destination (the operator's hosts section) is allowed now,
//     "mapped": the range and port checks are the operator's to skip.
//   - A refused address (loopback, link-local, private, unique-local,
//     CGNAT, unspecified, multicast, broadcast, reserved, the metadata
//     services, and IPv6 forms carrying such an IPv4 address) is refused,
//     "refused:loopback" and so on, unless it is opened: the first rule
//     whose IP or CIDR patterns cover the dialed address itself (not the
//     IPv4 address an IPv6 form carries) and whose ports match is not a
//     block; for a metadata address, a non-block rule must also name that
//     address itself (an IP pattern, or a /32 or /128). Names and * never
//     open a refused address.
//   - A CONNECT to a port other than 443, or a plain request to a port
//     other than 80, is "refused:port" unless a non-block rule lists that
//     port in its ports and matches the host (by Host's name or literal,
//     by the dialed address, or as a rule of any host).
//
// An allowed destination's Rule is "destination", "mapped", or the name
// of the rule that opened a refused address. Destination allocates
// nothing.
func (p *Policy) Destination(org string, d Dest) Decision {
	a := d.Addr.Addr().Unmap().WithZone("")
	if !a.IsValid() {
		return Decision{Action: Block, Rule: refusedAddress}
	}
	port := d.Addr.Port()
	if p.own.holds(a, port) {
		return Decision{Action: Block, Rule: refusedOwn}
	}
	o := p.orgs[org]
	if o == nil {
		return noPolicy
	}
	if port == 0 {
		return Decision{Action: Block, Rule: refusedPort}
	}
	return o.destination(&d, a, int(port))
}

func (op *orgPolicy) destination(d *Dest, a netip.Addr, port int) Decision {
	none := op.none()
	byAddr := op.firstAddr(a, port, none, applies)
	if i := op.first(op.anyHost, port, byAddr, applies); i < none && op.rules[i].decision.Action == Block {
		return op.rules[i].decision
	}
	if d.Mapped {
		return mappedAllowed
	}
	allowed := destinationAllowed
	if reason, exactOnly := classify(a); reason != "" {
		if byAddr == none || op.rules[byAddr].decision.Action == Block {
			return Decision{Action: Block, Rule: reason}
		}
		if exactOnly {
			if i := op.first(op.addrs.exact(a), port, none, applies); i == none || op.rules[i].decision.Action == Block {
				return Decision{Action: Block, Rule: reason}
			}
		}
		allowed = Decision{Action: Bypass, Rule: op.rules[byAddr].decision.Rule}
	}
	want := 443
	if d.Plain {
		want = 80
	}
	if port != want {
		i := op.first(op.anyHost, port, none, listsPort)
		i = op.firstHost(d.Host, port, i, listsPort)
		i = op.firstAddr(a, port, i, listsPort)
		if i == none {
			return Decision{Action: Block, Rule: refusedPort}
		}
	}
	return allowed
}

// DestinationName checks what can be known of a named destination before
// it is resolved, so that a CONNECT the dial would refuse is refused
// before it is answered (a 403, not a 200 and then a closed tunnel). It
// is never looser than Destination on the addresses the name resolves to,
// which still checks every one of them at dial:
//
//   - A name reserved for loopback (RFC 6761 §6.3: "localhost" and names
//     below it, which resolvers must answer with loopback addresses) is
//     checked as Destination checks 127.0.0.1 on that port.
//   - A port other than the scheme's (443, or 80 for plain) is
//     "refused:port" unless a non-block rule of the name, of any host, or
//     with an address pattern (which the dialed address may match) lists
//     it.
//
// Anything else is allowed here (action Bypass, as Destination's allowing
// decisions: combine with Stricter). A name the operator maps in the
// hosts section is checked by Destination with Mapped set instead.
func (p *Policy) DestinationName(org, host string, port int, plain bool) Decision {
	if port < 1 || port > 65535 {
		return Decision{Action: Block, Rule: refusedPort}
	}
	if isLocalhostName(host) {
		return p.Destination(org, Dest{Host: host, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)), Plain: plain})
	}
	o := p.orgs[org]
	if o == nil {
		return noPolicy
	}
	want := 443
	if plain {
		want = 80
	}
	if port == want {
		return destinationAllowed
	}
	none := o.none()
	if i := o.firstHost(host, port, o.first(o.anyHost, port, none, listsPort), listsPort); i < none {
		return destinationAllowed
	}
	for i := range o.rules {
		r := &o.rules[i]
		if r.decision.Action != Block && r.hasPort(port) && r.hasAddrPattern() {
			return destinationAllowed // the dialed address decides
		}
	}
	return Decision{Action: Block, Rule: refusedPort}
}

func (r *compiledRule) hasAddrPattern() bool {
	for _, h := range r.hosts {
		if h.kind == addrRange {
			return true
		}
	}
	return false
}

// isLocalhostName reports whether host is "localhost" or a name below it,
// in any case, with or without a trailing dot.
func isLocalhostName(host string) bool {
	h := strings.TrimSuffix(host, ".")
	const l = "localhost"
	if len(h) < len(l) || !strings.EqualFold(h[len(h)-len(l):], l) {
		return false
	}
	return len(h) == len(l) || h[len(h)-len(l)-1] == '.'
}
