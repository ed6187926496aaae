package policy

import (
	"net"
	"net/netip"
	"testing"
)

// destPolicy's orgs: "open" inspects everything by * (which opens
// nothing), "lab" opens ranges by address, "strict" has no rules.
func destPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New([]Org{
		{ID: "open", Rules: []Rule{{Action: Inspect, Hosts: []string{"*"}}}, Default: Inspect},
		{
			ID: "lab",
			Rules: []Rule{
				{Action: Block, Hosts: []string{"10.9.0.0/16"}, Name: "block-lab9"},
				{Action: Inspect, Hosts: []string{"10.0.0.0/8", "fc00::/7"}, Name: "internal"},
				{Action: Bypass, Hosts: []string{"192.168.1.10"}, Ports: []int{8443}, Name: "nas"},
				{Action: Inspect, Hosts: []string{"169.254.0.0/16"}, Name: "link-devices"},
				{Action: Inspect, Hosts: []string{"64:ff9b::/96"}, Name: "nat64"},
				{Action: Block, Hosts: []string{"203.0.113.0/24", "2001:db8:bad::/48"}, Name: "bad-net"},
				{Action: Inspect, Hosts: []string{"app.example"}, Ports: []int{8080}, Name: "app-8080"},
				{Action: Block, Hosts: []string{"*"}, Ports: []int{8081}, Name: "block-8081"},
				{Action: Bypass, Ports: []int{5223}, Name: "push"},
				{Action: Inspect, Hosts: []string{"100.64.0.0/10"}, Ports: []int{9000}, Name: "cgnat-9000"},
			},
			Default: Inspect,
		},
		{ID: "metadata", Rules: []Rule{
			{Action: Inspect, Hosts: []string{"0.0.0.0/0"}, Name: "all-v4"},
			{Action: Inspect, Hosts: []string{"169.254.169.254/32"}, Name: "imds"},
		}, Default: Inspect},
		{ID: "metadata-blocked", Rules: []Rule{
			{Action: Inspect, Hosts: []string{"0.0.0.0/0"}, Name: "all-v4"},
			{Action: Block, Hosts: []string{"169.254.169.254"}, Name: "no-imds"},
		}, Default: Inspect},
		{ID: "strict", Default: Block},
		{ID: "star-first", Rules: []Rule{
			{Action: Block, Hosts: []string{"198.51.100.0/24"}, Name: "early-block"},
			{Action: Inspect, Hosts: []string{"*"}},
			{Action: Block, Hosts: []string{"93.184.0.0/16"}, Name: "late-block"},
		}, Default: Inspect},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func connect(host, addr string) Dest {
	return Dest{Host: host, Addr: netip.MustParseAddrPort(addr)}
}

func TestDestinationRefusedRanges(t *testing.T) {
	p := destPolicy(t)
	cases := []struct {
		name string
		addr string // dialed, on the port the scheme expects
		rule string // the refusal, "" for allowed
	}{
		{"public IPv4", "93.184.215.14", ""},
		{"public IPv6", "2606:2800:21f:cb07::1", ""},
		{"loopback", "127.0.0.1", refusedLoopback},
		{"loopback elsewhere in 127/8", "127.45.0.9", refusedLoopback},
		{"IPv6 loopback", "::1", refusedLoopback},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", refusedLoopback},
		{"unspecified", "0.0.0.0", refusedUnspecified},
		{"this network", "0.1.2.3", refusedUnspecified},
		{"IPv6 unspecified", "::", refusedUnspecified},
		{"link-local", "169.254.10.1", refusedLinkLocal},
		{"IPv6 link-local", "fe80::1", refusedLinkLocal},
		{"IPv6 link-local with zone", "fe80::1%eth0", refusedLinkLocal},
		{"private 10", "10.0.0.1", refusedPrivate},
		{"private 172.16", "172.16.0.1", refusedPrivate},
		{"private 172.31 edge", "172.31.255.255", refusedPrivate},
		{"172.32 is public", "172.32.0.1", ""},
		{"private 192.168", "192.168.0.1", refusedPrivate},
		{"unique-local fc", "fc00::1", refusedUniqueLocal},
		{"unique-local fd", "fd12:3456::1", refusedUniqueLocal},
		{"CGNAT", "100.64.0.1", refusedCGNAT},
		{"CGNAT high edge", "100.127.255.255", refusedCGNAT},
		{"100.128 is public", "100.128.0.1", ""},
		{"multicast", "224.0.0.251", refusedMulticast},
		{"IPv6 multicast", "ff02::1", refusedMulticast},
		{"broadcast", "255.255.255.255", refusedBroadcast},
		{"class E", "240.0.0.1", refusedReserved},
		{"benchmarking", "198.18.0.1", refusedReserved},
		{"documentation", "192.0.2.1", refusedReserved},
		{"IETF assignments", "192.0.0.8", refusedReserved},
		{"IPv6 documentation", "2001:db8::1", refusedReserved},
		{"IPv6 site-local", "fec0::1", refusedReserved},
		{"local-use NAT64", "64:ff9b:1::a00:1", refusedReserved},
		{"discard-only", "100::1", refusedReserved},
		{"metadata", "169.254.169.254", refusedMetadata},
		{"AWS metadata IPv6", "fd00:ec2::254", refusedMetadata},
		{"ECS task metadata", "169.254.170.2", refusedMetadata},
		{"GCP metadata IPv6", "fd20:ce::254", refusedMetadata},
		{"Alibaba metadata", "100.100.100.200", refusedMetadata},
		{"Azure WireServer", "168.63.129.16", refusedMetadata},
		{"mapped metadata", "::ffff:169.254.169.254", refusedMetadata},
		{"NAT64 of metadata", "64:ff9b::a9fe:a9fe", refusedMetadata},
		{"NAT64 of loopback", "64:ff9b::7f00:1", refusedLoopback},
		{"NAT64 of private", "64:ff9b::a00:1", refusedPrivate},
		{"NAT64 of public", "64:ff9b::5db8:d70e", ""},
		{"6to4 of private", "2002:c0a8:101::1", refusedPrivate},
		{"6to4 of loopback", "2002:7f00:1::", refusedLoopback},
		{"6to4 of public", "2002:5db8:d70e::1", ""},
		{"Teredo of private", "2001:0:4136:e378:8000:63bf:f5ff:fffe", refusedPrivate}, // client 10.0.0.1 inverted
		{"IPv4-compatible loopback", "::127.0.0.1", refusedLoopback},
		{"IPv4-translated private", "::ffff:0:10.0.0.1", refusedPrivate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Destination("open", connect("victim.example", netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 443).String()))
			if tc.rule == "" {
				if d.Action == Block {
					t.Fatalf("%s refused: %q", tc.addr, d.Rule)
				}
				return
			}
			if d.Action != Block || d.Rule != tc.rule {
				t.Fatalf("%s: %v %q, want block %q", tc.addr, d.Action, d.Rule, tc.rule)
			}
		})
	}
}

func TestDestinationRules(t *testing.T) {
	p := destPolicy(t)
	cases := []struct {
		name string
		org  string
		d    Dest
		rule string // the decision's rule
		ok   bool   // allowed
	}{
		{"* does not open private", "open", connect("10.0.0.1", "10.0.0.1:443"), refusedPrivate, false},
		{"CIDR opens private", "lab", connect("10.1.2.3", "10.1.2.3:443"), "internal", true},
		{"CIDR opens unique-local", "lab", connect("", "[fd00::5]:443"), "internal", true},
		{"an earlier block range wins", "lab", connect("10.9.1.1", "10.9.1.1:443"), "block-lab9", false},
		{"a name resolving into an opened range", "lab", connect("intranet.example", "10.1.2.3:443"), "internal", true},
		{"DNS rebinding: an allowed name resolving to loopback", "lab", connect("app.example", "127.0.0.1:443"), refusedLoopback, false},
		{"a block range refuses a name dialed into it", "open", connect("nice.example", "203.0.113.9:443"), refusedReserved, false},
		{"a block IPv6 range refuses a name dialed into it", "lab", connect("nice.example", "[2001:db8:bad::1]:443"), "bad-net", false},
		{"a block range after * decides nothing: first match", "star-first", connect("nice.example", "93.184.215.14:443"), "destination", true},
		{"a block range before * refuses", "star-first", connect("nice.example", "198.51.100.7:443"), "early-block", false},
		{"a rule with ports opens only those ports", "lab", connect("", "192.168.1.10:443"), refusedPrivate, false},
		{"a rule with ports opens its port", "lab", connect("", "192.168.1.10:8443"), "nas", true},
		{"a CIDR covering metadata does not open it", "lab", connect("", "169.254.169.254:443"), refusedMetadata, false},
		{"the CIDR opens the rest of link-local", "lab", connect("", "169.254.1.1:443"), "link-devices", true},
		{"0.0.0.0/0 opens loopback", "metadata", connect("", "127.0.0.1:443"), "all-v4", true},
		{"an exact pattern opens metadata", "metadata", connect("", "169.254.169.254:443"), "all-v4", true},
		{"a later exact block keeps metadata shut", "metadata-blocked", connect("", "169.254.169.254:443"), refusedMetadata, false},
		{"an IPv4 range does not open its NAT64 form", "open", connect("", "[64:ff9b::a00:1]:443"), refusedPrivate, false},
		{"a NAT64 range opens NAT64 forms", "lab", connect("", "[64:ff9b::a00:1]:443"), "nat64", true},
		{"unknown organisation", "nobody", connect("example.com", "93.184.215.14:443"), "no-policy", false},
		{"strict org: the host decision blocks, not Destination", "strict", connect("example.com", "93.184.215.14:443"), "destination", true},
		{"invalid address", "open", Dest{Host: "x.example"}, refusedAddress, false},
		{"port 0", "open", connect("x.example", "93.184.215.14:0"), refusedPort, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Destination(tc.org, tc.d)
			if (d.Action != Block) != tc.ok || d.Rule != tc.rule {
				t.Fatalf("Destination(%q, %+v) = %v %q, want allowed=%v %q", tc.org, tc.d, d.Action, d.Rule, tc.ok, tc.rule)
			}
		})
	}
}

func TestDestinationPorts(t *testing.T) {
	p := destPolicy(t)
	public := "93.184.215.14"
	cases := []struct {
		name  string
		org   string
		host  string
		port  uint16
		plain bool
		rule  string // "" when allowed
	}{
		{"CONNECT 443", "open", "x.example", 443, false, ""},
		{"CONNECT 22", "open", "x.example", 22, false, refusedPort},
		{"CONNECT 80", "open", "x.example", 80, false, refusedPort},
		{"plain 80", "open", "x.example", 80, true, ""},
		{"plain 443", "open", "x.example", 443, true, refusedPort},
		{"plain 8080", "open", "x.example", 8080, true, refusedPort},
		{"a rule naming the host lists the port", "lab", "app.example", 8080, false, ""},
		{"same port, other host", "lab", "other.example", 8080, false, refusedPort},
		{"host case and trailing dot", "lab", "APP.example.", 8080, true, ""},
		{"a block rule listing the port does not open it", "lab", "x.example", 8081, false, "block-8081"},
		{"a rule of any host lists the port", "lab", "x.example", 5223, false, ""},
		{"a rule matching by the dialed address", "lab", "nas.example", 8443, false, refusedPort}, // public address: rule nas names 192.168.1.10
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Destination(tc.org, Dest{Host: tc.host, Addr: netip.AddrPortFrom(netip.MustParseAddr(public), tc.port), Plain: tc.plain})
			if tc.rule == "" {
				if d.Action == Block {
					t.Fatalf("refused: %q", d.Rule)
				}
				return
			}
			if d.Action != Block || d.Rule != tc.rule {
				t.Fatalf("%v %q, want block %q", d.Action, d.Rule, tc.rule)
			}
		})
	}
	// The port check matches rules by the dialed address too.
	if d := p.Destination("lab", connect("nas.example", "192.168.1.10:8443")); d.Action == Block {
		t.Errorf("nas by address on 8443: %q", d.Rule)
	}
	// A range opened on one port is still refused on another the rule
	// does not list.
	if d := p.Destination("lab", connect("", "100.64.0.1:443")); d.Rule != refusedCGNAT {
		t.Errorf("CGNAT on 443: %v %q", d.Action, d.Rule)
	}
	if d := p.Destination("lab", connect("", "100.64.0.1:9000")); d.Action == Block {
		t.Errorf("CGNAT on 9000: %q", d.Rule)
	}
}

func TestDestinationMapped(t *testing.T) {
	p := destPolicy(t)
	own, err := p.WithOwnListeners([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9090")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		addr string
		rule string
		ok   bool
	}{
		{"loopback on any port", "127.0.0.1:8443", "mapped", true},
		{"metadata", "169.254.169.254:80", "mapped", true},
		{"a block range still applies", "203.0.113.5:443", "bad-net", false},
		{"own listener", "127.0.0.1:9090", refusedOwn, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			org := "open"
			if tc.rule == "bad-net" {
				org = "lab"
			}
			d := own.Destination(org, Dest{Host: "demo.test", Addr: netip.MustParseAddrPort(tc.addr), Mapped: true})
			if (d.Action != Block) != tc.ok || d.Rule != tc.rule {
				t.Fatalf("%v %q, want allowed=%v %q", d.Action, d.Rule, tc.ok, tc.rule)
			}
		})
	}
}

// interfaceAddr returns an address of one of the machine's interfaces
// other than loopback.
func interfaceAddr(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.Unmap().IsLoopback() {
				return ip.Unmap()
			}
		}
	}
	t.Skip("the machine has no interface address but loopback")
	return netip.Addr{}
}

func TestDestinationOwnListeners(t *testing.T) {
	base, err := New([]Org{{
		ID: "wide-open",
		Rules: []Rule{
			{Action: Bypass, Hosts: []string{"0.0.0.0/0", "2000::/3", "::1", "fe80::/10", "fc00::/7", "::"}, Ports: []int{8080, 9443, 8444, 22}},
		},
		Default: Inspect,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ifAddr := interfaceAddr(t)
	p, err := base.WithOwnListeners([]netip.AddrPort{
		netip.MustParseAddrPort("0.0.0.0:8080"),   // the edge's proxy, every address
		netip.MustParseAddrPort("127.0.0.1:9443"), // the edge's admin
		netip.MustParseAddrPort("[::1]:8444"),     // the CA's key API
		netip.AddrPortFrom(netip.MustParseAddr("192.0.2.50"), 22),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Generation() != base.Generation() {
		t.Error("WithOwnListeners changed the generation")
	}
	refused := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:8080"),
		netip.MustParseAddrPort("127.3.4.5:8080"),
		netip.MustParseAddrPort("[::1]:8080"),
		netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"),
		netip.MustParseAddrPort("0.0.0.0:8080"),
		netip.MustParseAddrPort("[::]:8080"),
		netip.AddrPortFrom(ifAddr, 8080),
		netip.MustParseAddrPort("127.0.0.1:9443"),
		netip.MustParseAddrPort("0.0.0.0:9443"), // dialing 0.0.0.0 reaches the local host
		netip.MustParseAddrPort("[::1]:8444"),
		netip.MustParseAddrPort("192.0.2.50:22"),
	}
	for _, ap := range refused {
		for _, org := range []string{"wide-open", "nobody"} {
			for _, mapped := range []bool{false, true} {
				d := p.Destination(org, Dest{Host: "edge.example", Addr: ap, Mapped: mapped})
				if d.Action != Block || d.Rule != refusedOwn {
					t.Errorf("%s (org %s, mapped %v): %v %q, want %s", ap, org, mapped, d.Action, d.Rule, refusedOwn)
				}
			}
		}
	}
	allowed := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.2:9443"), // the admin listens on 127.0.0.1 only
		netip.MustParseAddrPort("8.8.8.8:8080"),   // port 8080 elsewhere
		netip.MustParseAddrPort("192.0.2.51:22"),
	}
	for _, ap := range allowed {
		if d := p.Destination("wide-open", Dest{Addr: ap}); d.Action == Block {
			t.Errorf("%s: refused %q", ap, d.Rule)
		}
	}
	if _, err := base.WithOwnListeners([]netip.AddrPort{{}}); err == nil {
		t.Error("an empty listener was accepted")
	}
	if _, err := base.WithOwnListeners([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}); err == nil {
		t.Error("a listener without a port was accepted")
	}
}

func TestDestinationAllocs(t *testing.T) {
	p, err := destPolicy(t).WithOwnListeners([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:8080")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Dest{
		connect("app.example", "93.184.215.14:8080"),
		connect("10.1.2.3", "10.1.2.3:443"),
		connect("x.example", "[64:ff9b::a9fe:a9fe]:443"),
		connect("x.example", "127.0.0.1:8080"),
		{Host: "demo.test", Addr: netip.MustParseAddrPort("127.0.0.1:8443"), Mapped: true},
	} {
		if n := testing.AllocsPerRun(100, func() { p.Destination("lab", d) }); n != 0 {
			t.Errorf("Destination(%+v) allocates %v times", d, n)
		}
	}
}

func BenchmarkDestination(b *testing.B) {
	p, err := destPolicy(b).WithOwnListeners([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("127.0.0.1:9443")})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		d    Dest
	}{
		{"public", connect("www.example.com", "93.184.215.14:443")},
		{"public-v6", connect("www.example.com", "[2606:2800:21f:cb07::1]:443")},
		{"opened-range", connect("intranet.example", "10.1.2.3:443")},
		{"refused", connect("x.example", "169.254.169.254:80")},
		{"port-by-name", connect("app.example", "93.184.215.14:8080")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Destination("lab", bc.d)
			}
		})
	}
}

// TestDestinationName: what a name's destination check knows before
// resolution is never looser than the dial-time check of what it resolves
// to: loopback names are refused as 127.0.0.1 is, other ports as they are
// for an address, and a port an address rule lists is left to the dial.
func TestDestinationName(t *testing.T) {
	p, err := destPolicy(t).WithOwnListeners([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:3128")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		org, host string
		port      int
		plain     bool
		want      string // the Rule; "" for allowed
	}{
		{"open", "localhost", 443, false, "refused:loopback"},
		{"open", "LocalHost.", 443, false, "refused:loopback"},
		{"open", "db.localhost", 443, false, "refused:loopback"},
		{"open", "localhost", 3128, false, "refused:own-listener"},
		{"metadata", "localhost", 443, false, ""}, // 0.0.0.0/0 opens 127.0.0.1 at dial too
		{"open", "notlocalhost", 443, false, ""},
		{"open", "localhost.example", 443, false, ""},
		{"open", "www.example", 443, false, ""},
		{"open", "www.example", 80, true, ""},
		{"open", "www.example", 22, false, "refused:port"},
		{"open", "www.example", 443, true, "refused:port"},
		{"open", "www.example", 0, false, "refused:port"},
		{"lab", "app.example", 8080, false, ""},
		{"lab", "other.example", 8080, false, "refused:port"},
		{"lab", "other.example", 8081, false, "refused:port"},
		{"lab", "other.example", 5223, false, ""}, // a rule of any host lists it
		{"lab", "nas.example", 8443, false, ""},   // 192.168.1.10 lists it: the dial decides
		{"nobody", "www.example", 443, false, "no-policy"},
	}
	for _, c := range cases {
		d := p.DestinationName(c.org, c.host, c.port, c.plain)
		got := ""
		if d.Action == Block {
			got = d.Rule
		}
		if got != c.want {
			t.Errorf("%s %s:%d plain=%v: %v %q, want %q", c.org, c.host, c.port, c.plain, d.Action, d.Rule, c.want)
		}
	}
}
