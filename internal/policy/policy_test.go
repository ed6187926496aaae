package policy

import (
	"strings"
	"testing"
)

func testPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New([]Org{
		{
			ID: "acme",
			Rules: []Rule{
				{Action: Block, Hosts: []string{"evil.example"}},                                       // rules[0]
				{Action: Bypass, Hosts: []string{".bank.example", "Health.Example."}},                  // rules[1]
				{Action: Block, Hosts: []string{"*.ads.example"}, Ports: []int{80, 443}},               // rules[2]
				{Action: Inspect, Hosts: []string{"*.dropbox.com"}},                                    // rules[3]
				{Action: Bypass, Hosts: []string{"192.0.2.10", "[2001:db8::10]"}, Name: "lab-servers"}, // lab-servers
				{Action: Block, Ports: []int{25}},                                                      // rules[5]
				{Action: Bypass, Hosts: []string{"*"}, Ports: []int{8443}},                             // rules[6]
				{Action: Block, Hosts: []string{"late.ads.example"}},                                   // rules[7]
			},
			Default:      Inspect,
			BypassPinned: true,
		},
		{ID: "strict", Default: Block},
		{ID: "no-pins", Default: Inspect, BypassPinned: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	p := testPolicy(t)
	cases := []struct {
		name   string
		org    string
		host   string
		port   int
		action Action
		rule   string
	}{
		{"exact", "acme", "evil.example", 443, Block, "rules[0]"},
		{"exact is not a suffix", "acme", "www.evil.example", 443, Inspect, "default"},
		{"exact ignores case and trailing dot", "acme", "EVIL.Example.", 443, Block, "rules[0]"},
		{"suffix matches the domain", "acme", "bank.example", 443, Bypass, "rules[1]"},
		{"suffix matches below", "acme", "online.eu.bank.example", 443, Bypass, "rules[1]"},
		{"suffix needs a label boundary", "acme", "notbank.example", 443, Inspect, "default"},
		{"pattern case folded", "acme", "health.example", 443, Bypass, "rules[1]"},
		{"wildcard one label", "acme", "x.ads.example", 443, Block, "rules[2]"},
		{"wildcard two labels", "acme", "a.b.ads.example", 80, Block, "rules[2]"},
		{"wildcard not the domain", "acme", "ads.example", 443, Inspect, "default"},
		{"wildcard port mismatch", "acme", "x.ads.example", 8080, Inspect, "default"},
		{"first rule wins over later exact", "acme", "late.ads.example", 443, Block, "rules[2]"},
		{"later rule when earlier port fails", "acme", "late.ads.example", 9000, Block, "rules[7]"},
		{"rule beats pinned list", "acme", "client.dropbox.com", 443, Inspect, "rules[3]"},
		{"pinned list", "acme", "1-courier.push.apple.com", 5223, Bypass, "pinned:.apple.com"},
		{"pinned exact", "acme", "mtalk.google.com", 5228, Bypass, "pinned:mtalk.google.com"},
		{"pinned exact not below", "acme", "x.mtalk.google.com", 443, Inspect, "default"},
		{"IPv4 literal", "acme", "192.0.2.10", 443, Bypass, "lab-servers"},
		{"IPv6 literal", "acme", "2001:db8:0:0::10", 443, Bypass, "lab-servers"},
		{"IPv6 literal in brackets", "acme", "[2001:DB8::10]", 443, Bypass, "lab-servers"},
		{"IPv4-mapped IPv6", "acme", "::ffff:192.0.2.10", 443, Bypass, "lab-servers"},
		{"other IP", "acme", "192.0.2.11", 443, Inspect, "default"},
		{"port-only rule", "acme", "mail.example", 25, Block, "rules[5]"},
		{"port-only rule on IP", "acme", "192.0.2.99", 25, Block, "rules[5]"},
		{"earlier rule beats port-only rule", "acme", "evil.example", 25, Block, "rules[0]"},
		{"any-host pattern", "acme", "anything.example", 8443, Bypass, "rules[6]"},
		{"empty host", "acme", "", 443, Inspect, "default"},
		{"overlong host", "acme", strings.Repeat("a.", 200) + "evil.example", 443, Inspect, "default"},
		{"default block", "strict", "example.com", 443, Block, "default"},
		{"pinned list off", "no-pins", "www.icloud.com", 443, Inspect, "default"},
		{"unknown organisation", "nobody", "example.com", 443, Block, "no-policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.org, tc.host, tc.port)
			if d.Action != tc.action || d.Rule != tc.rule {
				t.Fatalf("Decide(%q, %q, %d) = %v %q, want %v %q", tc.org, tc.host, tc.port, d.Action, d.Rule, tc.action, tc.rule)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		errPart string // "" for a valid pattern
	}{
		{"exact", "example.com", ""},
		{"wildcard", "*.example.com", ""},
		{"suffix", ".example.com", ""},
		{"any", "*", ""},
		{"IPv4", "10.1.2.3", ""},
		{"IPv6", "::1", ""},
		{"IPv6 bracketed", "[::1]", ""},
		{"underscore", "_sip._tcp.example.com", ""},
		{"trailing dot", "example.com.", ""},
		{"empty", "", "empty"},
		{"star inside", "foo.*.com", "'*' only"},
		{"star prefix without dot", "*example.com", "'*' only"},
		{"double wildcard", "*.*.example.com", "'*' only"},
		{"empty label", "a..b", "label"},
		{"lone dot", ".", "1 to 253"},
		{"space", "ex ample.com", "letters"},
		{"URL", "http://example.com", "letters"},
		{"CIDR", "10.0.0.0/8", ""},
		{"not an IP", "10.0.0", "IPv4"},
		{"bracketed name", "[example.com]", "IPv6"},
		{"zone", "fe80::1%eth0", "letters"},
		{"long label", strings.Repeat("a", 64) + ".com", "label"},
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

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name    string
		orgs    []Org
		errPart string
	}{
		{"duplicate org", []Org{{ID: "a"}, {ID: "a"}}, `organisation "a" twice`},
		{"bad pattern", []Org{{ID: "a", Rules: []Rule{{Hosts: []string{"a.*"}}}}}, "rules[0]"},
		{"named rule", []Org{{ID: "a", Rules: []Rule{{Name: "r1", Ports: []int{0}}}}}, "r1: port 0"},
		{"bad action", []Org{{ID: "a", Rules: []Rule{{Action: 9}}}}, "unknown action"},
		{"bad default", []Org{{ID: "a", Default: 7}}, "unknown default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.orgs)
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.errPart)
			}
		})
	}
}

func TestActions(t *testing.T) {
	for _, a := range []Action{Inspect, Bypass, Block} {
		got, ok := ParseAction(a.String())
		if !ok || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), got, ok)
		}
	}
	if _, ok := ParseAction("inspekt"); ok {
		t.Error("ParseAction accepted inspekt")
	}
	if s := Action(9).String(); s != "action(9)" {
		t.Errorf("Action(9) = %q", s)
	}
}

func TestPinnedListCompiles(t *testing.T) {
	for _, p := range Pinned() {
		if err := CheckPattern(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestDecideAllocs(t *testing.T) {
	p := testPolicy(t)
	for _, host := range []string{"online.eu.bank.example", "WWW.Example.COM", "192.0.2.10", "[2001:db8::10]", "host1"} {
		if n := testing.AllocsPerRun(100, func() { p.Decide("acme", host, 443) }); n != 0 {
			t.Errorf("Decide(%q) allocates %v times", host, n)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := testPolicy(b)
	for _, bc := range []struct{ name, host string }{
		{"default", "www.example.com"},
		{"suffix", "online.eu.bank.example"},
		{"pinned", "1-courier.push.apple.com"},
		{"ip", "192.0.2.10"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide("acme", bc.host, 443)
			}
		})
	}
}

func TestFailModeNames(t *testing.T) {
	for _, m := range []FailMode{FailBlock, FailTunnel} {
		if got, ok := ParseFailMode(m.String()); !ok || got != m {
			t.Errorf("%v does not read back: %v %v", m, got, ok)
		}
	}
	if _, ok := ParseFailMode("open"); ok {
		t.Error("an unknown fail mode parsed")
	}
}
