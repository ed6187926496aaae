package policy

import (
	"strings"
	"testing"
)

func TestCIDRPatterns(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		errPart string // "" for a valid pattern
	}{
		{"IPv4", "10.0.0.0/8", ""},
		{"IPv4 whole", "0.0.0.0/0", ""},
		{"IPv4 one address", "192.0.2.1/32", ""},
		{"IPv6", "fd00::/8", ""},
		{"IPv6 one address", "2001:db8::1/128", ""},
		{"IPv4-mapped", "::ffff:10.0.0.0/104", ""},
		{"IPv6 leaving the mapped range out", "2000::/3", ""},
		{"host bits set", "10.1.0.0/8", "the range is 10.0.0.0/8"},
		{"IPv6 host bits set", "fd00::1/8", "the range is fd00::/8"},
		{"length too long", "10.0.0.0/33", "not a CIDR range"},
		{"no length", "10.0.0.0/", "not a CIDR range"},
		{"negative length", "10.0.0.0/-1", "not a CIDR range"},
		{"bracketed", "[fd00::]/8", "not a CIDR range"},
		{"zone", "fe80::%eth0/10", "letters"},
		{"no address", "/8", "not a CIDR range"},
		{"IPv6 all", "::/0", "IPv4-mapped"},
		{"IPv6 holding mapped", "::fffe:0:0/95", "IPv4-mapped"},
		{"name with slash", "example.com/8", "letters"},
		{"two slashes", "10.0.0.0/8/8", "not a CIDR range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPattern(tc.pattern)
			if tc.errPart == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.errPart)
			}
		})
	}
}

func cidrPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New([]Org{{
		ID: "acme",
		Rules: []Rule{
			{Action: Inspect, Hosts: []string{"10.1.2.3"}, Name: "one-host"},
			{Action: Block, Hosts: []string{"10.1.0.0/16"}, Name: "lab-block"},
			{Action: Bypass, Hosts: []string{"10.0.0.0/8", "fd00::/8"}, Name: "internal"},
			{Action: Block, Hosts: []string{"::ffff:203.0.113.0/120"}, Name: "mapped-block"},
			{Action: Inspect, Hosts: []string{"198.51.100.0/24"}, Ports: []int{8443}, Name: "port-range"},
			{Action: Block, Hosts: []string{"198.51.100.0/25"}, Name: "half"},
			{Action: Block, Hosts: []string{"0.0.0.0/0"}, Ports: []int{25}, Name: "no-smtp"},
		},
		Default: Inspect,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecideCIDR(t *testing.T) {
	p := cidrPolicy(t)
	cases := []struct {
		name   string
		host   string
		port   int
		action Action
		rule   string
	}{
		{"exact before range", "10.1.2.3", 443, Inspect, "one-host"},
		{"narrow range before wide", "10.1.9.9", 443, Block, "lab-block"},
		{"wide range", "10.200.0.1", 443, Bypass, "internal"},
		{"range edge low", "10.0.0.0", 443, Bypass, "internal"},
		{"range edge high", "10.255.255.255", 443, Bypass, "internal"},
		{"just outside", "11.0.0.0", 443, Inspect, "default"},
		{"IPv6 range", "fd12:3456::1", 443, Bypass, "internal"},
		{"IPv6 range bracketed", "[FD12::1]", 443, Bypass, "internal"},
		{"IPv6 outside", "fe00::1", 443, Inspect, "default"},
		{"mapped literal in IPv4 range", "::ffff:10.9.9.9", 443, Bypass, "internal"},
		{"mapped range pattern", "203.0.113.7", 443, Block, "mapped-block"},
		{"mapped range pattern, mapped literal", "::ffff:203.0.113.7", 443, Block, "mapped-block"},
		{"range with ports, port matches", "198.51.100.1", 8443, Inspect, "port-range"},
		{"range with ports, port fails, next range", "198.51.100.1", 443, Block, "half"},
		{"outside the half", "198.51.100.200", 443, Inspect, "default"},
		{"zero range on port", "8.8.8.8", 25, Block, "no-smtp"},
		{"zero range is IPv4 only", "2001:4860::8888", 25, Inspect, "default"},
		{"names never match a range", "ten.example", 443, Inspect, "default"},
		{"IPv4-compatible is not IPv4", "::10.1.2.3", 443, Inspect, "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide("acme", tc.host, tc.port)
			if d.Action != tc.action || d.Rule != tc.rule {
				t.Fatalf("Decide(%q, %d) = %v %q, want %v %q", tc.host, tc.port, d.Action, d.Rule, tc.action, tc.rule)
			}
		})
	}
}

func TestDecideCIDRAllocs(t *testing.T) {
	p := cidrPolicy(t)
	for _, host := range []string{"10.1.9.9", "fd12::1", "[::ffff:10.9.9.9]", "8.8.8.8"} {
		if n := testing.AllocsPerRun(100, func() { p.Decide("acme", host, 443) }); n != 0 {
			t.Errorf("Decide(%q) allocates %v times", host, n)
		}
	}
}

func BenchmarkDecideCIDR(b *testing.B) {
	p := cidrPolicy(b)
	for _, bc := range []struct{ name, host string }{
		{"v4-range", "10.200.0.1"},
		{"v4-miss", "8.8.8.8"},
		{"v6-range", "fd12:3456::1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide("acme", bc.host, 443)
			}
		})
	}
}
