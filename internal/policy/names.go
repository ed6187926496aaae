package policy

import "strings"

// LeafNames returns the DNS names a leaf minted for an inspected
// connection of org's user may carry: sni (the name the client asked for:
// its SNI, or the CONNECT host when it sent none) and the subset of sans
// (the origin certificate's DNS names) that policy inspects on port. A
// leaf names every host a client may send on the connection: HTTP/2
// coalesces requests for any name the certificate covers onto it (RFC
// 9113 §9.1.1), so a blocked name on the leaf invites requests policy
// would refuse at CONNECT, and a bypassed one would be decrypted against
// the organisation's choice. In order, without duplicates:
//
//  1. sni, first, when it is a DNS name Decide does not block (the
//     connection was decided on it; an IP address is not a DNS name).
//  2. Each exact SAN that Decide inspects.
//  3. Each wildcard SAN *.d (a whole first label only, RFC 6125 §6.4.3,
//     covering the names exactly one label below d) when Decide inspects
//     every such name. Walking the rules in order, the first that applies
//     on port and covers all of them (any host, *.w or .w with d equal to
//     w or below it) must inspect, and so must every applying rule before
//     it that covers some of them (an exact name or .w one label below
//     d); with no rule covering all, the default must inspect. (This is
//     exact but for a name two rules cover, where it may drop a wildcard
//     Decide would allow: never the other way.) Otherwise the
//     wildcard is left out, and the leaf covers only the names listed,
//     the SNI first: a wildcard that would cover a blocked name is
//     replaced by the SNI. IP and CIDR patterns match no name and do not
//     count.
//
// Names are returned in lower case without a trailing dot; SANs that are
// not DNS names, and other wildcard forms (f*.d, *.*.d), are left out. An
// empty result means no name may be carried: the edge must not mint.
//
// The result depends on the policy, org, port, sni and sans only, so the
// leaf cache keys a leaf by (org, Generation(), the origin certificate,
// port, sni) and calls LeafNames on a miss only; hashing the result
// instead would cost a LeafNames call on every hit, and gain no sharing,
// since the SNI comes first in every result.
func (p *Policy) LeafNames(org string, port int, sni string, sans []string) []string {
	o := p.orgs[org]
	if o == nil {
		return nil
	}
	out := make([]string, 0, len(sans)+1)
	seen := make(map[string]struct{}, len(sans)+1)
	add := func(n string) {
		if _, dup := seen[n]; !dup {
			seen[n] = struct{}{}
			out = append(out, n)
		}
	}
	if _, isIP := parseIP(sni); !isIP {
		if n, err := checkName(sni); err == nil && o.decide(n, port).Action != Block {
			add(n)
		}
	}
	for _, san := range sans {
		if d, ok := strings.CutPrefix(san, "*."); ok {
			if d, err := checkName(d); err == nil && o.inspectsAllBelow(d, port) {
				add("*." + d)
			}
			continue
		}
		if n, err := checkName(san); err == nil && o.decide(n, port).Action == Inspect {
			add(n)
		}
	}
	return out
}

// inspectsAllBelow reports whether the org inspects, on port, every name
// exactly one label below d.
func (op *orgPolicy) inspectsAllBelow(d string, port int) bool {
	for i := range op.rules {
		r := &op.rules[i]
		if len(r.ports) > 0 && !r.hasPort(port) {
			continue
		}
		all, some := r.coversBelow(d)
		if all {
			return r.decision.Action == Inspect
		}
		if some && r.decision.Action != Inspect {
			return false
		}
	}
	return op.def.Action == Inspect
}

// coversBelow reports whether the rule's hosts match every name one label
// below d (all), or at least one of them (some).
func (r *compiledRule) coversBelow(d string) (all, some bool) {
	for _, p := range r.hosts {
		switch p.kind {
		case anyHost:
			return true, true
		case wildcard, suffix:
			if p.name == d || strings.HasSuffix(d, "."+p.name) {
				return true, true
			}
			if p.kind == suffix && oneLabelBelow(p.name, d) {
				some = true
			}
		case exactName:
			if oneLabelBelow(p.name, d) {
				some = true
			}
		}
	}
	return false, some
}

// oneLabelBelow reports whether name is a single label followed by "."
// and d.
func oneLabelBelow(name, d string) bool {
	label, ok := strings.CutSuffix(name, "."+d)
	return ok && label != "" && !strings.Contains(label, ".")
}
