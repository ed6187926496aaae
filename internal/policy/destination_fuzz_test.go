package policy

import (
	"net/netip"
	"testing"
)

// FuzzDestination dials fuzzed addresses (the address comes from DNS, so
// from whoever controls a name) and checks what must hold whatever the
// address: an own listener is always refused, and an organisation whose
// only rule is * inspects opens no refused range and no other port.
func FuzzDestination(f *testing.F) {
	base, err := New([]Org{
		{ID: "open", Rules: []Rule{{Action: Inspect, Hosts: []string{"*"}}}, Default: Inspect},
		{ID: "wide", Rules: []Rule{
			{Action: Block, Hosts: []string{"10.9.0.0/16"}},
			{Action: Bypass, Hosts: []string{"0.0.0.0/0", "::1", "fc00::/7", "fe80::/10", "64:ff9b::/96"}, Ports: []int{22, 8080, 9443}},
			{Action: Inspect, Hosts: []string{"10.0.0.0/8", "169.254.169.254"}},
		}, Default: Inspect},
	})
	if err != nil {
		f.Fatal(err)
	}
	p, err := base.withOwnListeners([]netip.AddrPort{
		netip.MustParseAddrPort("0.0.0.0:8080"),
		netip.MustParseAddrPort("127.0.0.1:9443"),
	}, []netip.Addr{netip.MustParseAddr("192.0.2.7")})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"127.0.0.1", "::ffff:127.0.0.1", "169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a00:1::", "10.9.1.1", "93.184.215.14", "fe80::1", "0.0.0.0", "192.0.2.7"} {
		a := netip.MustParseAddr(s).As16()
		for _, port := range []uint16{443, 80, 8080, 9443} {
			f.Add(a[:], port, false, false, "x.example")
		}
	}
	f.Add([]byte{127, 0, 0, 1}, uint16(8080), true, true, "demo.test")
	f.Add([]byte{127, 0, 0, 1}, uint16(9443), false, false, "api.LOCALHOST.")
	f.Fuzz(func(t *testing.T, raw []byte, port uint16, plain, mapped bool, host string) {
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		ap := netip.AddrPortFrom(a, port)
		u := a.Unmap()
		own := port == 8080 && (u.IsLoopback() || u.IsUnspecified() || u == netip.MustParseAddr("192.0.2.7")) ||
			port == 9443 && (u == netip.MustParseAddr("127.0.0.1") || u.IsUnspecified())
		for _, org := range []string{"open", "wide", "nobody"} {
			d := p.Destination(org, Dest{Host: host, Addr: ap, Plain: plain, Mapped: mapped})
			if d.Action != Block && d.Action != Bypass {
				t.Fatalf("%v: action %v", ap, d.Action)
			}
			if own && (d.Action != Block || d.Rule != refusedOwn) {
				t.Fatalf("%s %v: own listener not refused: %v %q", org, ap, d.Action, d.Rule)
			}
			if org != "open" || mapped || d.Action == Block {
				continue
			}
			if reason, _ := classify(u); reason != "" {
				t.Fatalf("%v (%s) allowed by *", ap, reason)
			}
			if want := map[bool]uint16{false: 443, true: 80}[plain]; port != want {
				t.Fatalf("%v allowed on port %d by *", ap, port)
			}
		}
		// Before resolution: never looser than the dial of what the name
		// can resolve to.
		for _, org := range []string{"open", "wide", "nobody"} {
			early := p.DestinationName(org, host, int(port), plain)
			if early.Action != Block && early.Action != Bypass {
				t.Fatalf("%s %q:%d: action %v", org, host, port, early.Action)
			}
			if isLocalhostName(host) {
				dial := p.Destination(org, Dest{Host: host, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port), Plain: plain})
				if early != dial {
					t.Fatalf("%s %q:%d: %v before resolution, %v for 127.0.0.1", org, host, port, early, dial)
				}
			}
			if org == "open" && early.Action != Block && port != map[bool]uint16{false: 443, true: 80}[plain] {
				t.Fatalf("%q allowed on port %d by * before resolution", host, port)
			}
		}
	})
}
