package policy

import (
	"net/netip"
	"testing"
)

// FuzzPattern parses host patterns from anywhere (a configuration, a
// policy pulled from the CA) and checks a valid one against Decide: a
// block rule of that pattern blocks what the pattern names, and an IP or
// CIDR pattern blocks exactly the addresses netip says it contains.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		"example.com", "*.example.com", ".example.com", "*", "10.0.0.0/8", "fd00::/8",
		"::ffff:10.0.0.0/104", "::/0", "10.1.0.0/8", "192.0.2.1", "[2001:db8::1]", "0.0.0.0/0",
		"fe80::%eth0/10", "a..b", "*.*.x", "/8", "10.0.0.0/33", "::ffff:1.2.3.4",
	} {
		f.Add(s, "10.1.2.3")
	}
	f.Add("fc00::/7", "fdff::1")
	f.Add("fc00::/7", "fe00::1")
	f.Add("1.2.3.0/25", "::ffff:1.2.3.127")
	f.Fuzz(func(t *testing.T, pattern, host string) {
		pat, err := parsePattern(pattern)
		if err != nil {
			return
		}
		p, err := New([]Org{{ID: "o", Rules: []Rule{{Action: Block, Hosts: []string{pattern}}}, Default: Inspect}})
		if err != nil {
			t.Fatalf("pattern %q parses but does not compile: %v", pattern, err)
		}
		var named string
		switch pat.kind {
		case exactName, suffix:
			named = pat.name
		case wildcard:
			named = "x." + pat.name
		case anyHost:
			named = "anything.example"
		case addrRange:
			named = pat.prefix.Addr().String()
		}
		if len(named) <= maxName && p.Decide("o", named, 443).Action != Block {
			t.Fatalf("pattern %q does not block %q", pattern, named)
		}
		if pat.kind != addrRange {
			return
		}
		a, ok := parseIP(host)
		if !ok {
			return
		}
		if want, got := pat.prefix.Contains(a), p.Decide("o", host, 443).Action == Block; want != got {
			t.Fatalf("pattern %q (%v) on %q: blocked %v, netip says contained %v", pattern, pat.prefix, host, got, want)
		}
		d := p.Destination("o", Dest{Addr: netip.AddrPortFrom(a, 443), Mapped: true})
		if pat.prefix.Contains(a) && d.Action != Block {
			t.Fatalf("pattern %q does not refuse dialing %v", pattern, a)
		}
	})
}
