package policy

import (
	"slices"
	"strings"
	"testing"
)

func namesPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New([]Org{
		{
			ID: "acme",
			Rules: []Rule{
				{Action: Block, Hosts: []string{"admin.shop.example"}, Name: "no-admin"},
				{Action: Bypass, Hosts: []string{".bank.shop.example"}, Name: "bank"},
				{Action: Inspect, Hosts: []string{"*.cdn.example"}, Name: "cdn"},
				{Action: Block, Hosts: []string{"*.cdn.example"}, Name: "shadowed"},
				{Action: Block, Hosts: []string{"*.ads.example"}, Ports: []int{443}, Name: "ads"},
				{Action: Block, Hosts: []string{"*.deep.example"}, Name: "deep"},
				{Action: Block, Hosts: []string{"10.0.0.0/8"}, Name: "cidr"},
			},
			Default: Inspect,
		},
		{ID: "closed", Rules: []Rule{{Action: Inspect, Hosts: []string{".open.example"}}}, Default: Block},
		{ID: "pins", Default: Inspect, BypassPinned: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeafNames(t *testing.T) {
	p := namesPolicy(t)
	cases := []struct {
		name string
		org  string
		port int
		sni  string
		sans []string
		want []string
	}{
		{"SNI first, then the allowed SANs", "acme", 443, "www.shop.example",
			[]string{"shop.example", "www.shop.example", "static.shop.example"},
			[]string{"www.shop.example", "shop.example", "static.shop.example"}},
		{"a blocked exact SAN is left out", "acme", 443, "www.shop.example",
			[]string{"admin.shop.example", "shop.example"},
			[]string{"www.shop.example", "shop.example"}},
		{"a bypassed SAN is left out: it would be decrypted", "acme", 443, "www.shop.example",
			[]string{"online.bank.shop.example", "bank.shop.example"},
			[]string{"www.shop.example"}},
		{"a wildcard covering a blocked name is replaced by the SNI", "acme", 443, "www.shop.example",
			[]string{"*.shop.example", "shop.example"},
			[]string{"www.shop.example", "shop.example"}},
		{"a wildcard covering a bypassed name is left out too", "acme", 443, "x.bank.shop.example",
			[]string{"*.bank.shop.example"},
			[]string{"x.bank.shop.example"}},
		{"a wildcard over names nothing blocks stays", "acme", 443, "www.other.example",
			[]string{"*.other.example", "other.example"},
			[]string{"www.other.example", "*.other.example", "other.example"}},
		{"a block two labels down does not touch the wildcard", "acme", 443, "a.shop2.example",
			[]string{"*.shop2.example"},
			[]string{"a.shop2.example", "*.shop2.example"}},
		{"a wildcard under a block wildcard", "acme", 443, "www.deep.example",
			[]string{"*.x.deep.example", "*.deep.example"},
			nil},
		{"an inspect wildcard rule before a block one decides", "acme", 443, "a.cdn.example",
			[]string{"*.cdn.example"},
			[]string{"a.cdn.example", "*.cdn.example"}},
		{"a port-limited block applies on its port", "acme", 443, "x.ads.example",
			[]string{"*.ads.example", "y.ads.example"},
			nil},
		{"and not on another", "acme", 8443, "x.ads.example",
			[]string{"*.ads.example"},
			[]string{"x.ads.example", "*.ads.example"}},
		{"CIDR rules match no name", "acme", 443, "www.ten.example",
			[]string{"*.ten.example"},
			[]string{"www.ten.example", "*.ten.example"}},
		{"a blocked SNI is left out", "acme", 443, "admin.shop.example",
			[]string{"*.shop.example", "admin.shop.example", "shop.example"},
			[]string{"shop.example"}},
		{"case, trailing dots and duplicates", "acme", 443, "WWW.Shop.Example.",
			[]string{"www.shop.example", "SHOP.example.", "shop.example"},
			[]string{"www.shop.example", "shop.example"}},
		{"no SNI", "acme", 443, "",
			[]string{"shop.example"},
			[]string{"shop.example"}},
		{"an IP SNI is not a DNS name", "acme", 443, "192.0.2.1",
			[]string{"shop.example"},
			[]string{"shop.example"}},
		{"odd SANs are left out", "acme", 443, "",
			[]string{"f*.other.example", "*.*.other.example", "*", "bad name", "192.0.2.1", "*."},
			[]string{}},
		{"a block default: only what a rule inspects", "closed", 443, "www.open.example",
			[]string{"*.open.example", "open.example", "elsewhere.example", "*.example"},
			[]string{"www.open.example", "*.open.example", "open.example"}},
		{"pinned names are bypassed, so not on an inspected leaf", "pins", 443, "www.example.net",
			[]string{"*.apple.com", "www.icloud.com", "www.example.net"},
			[]string{"www.example.net"}},
		{"a wildcard one label above a pinned exact name", "pins", 443, "www.google.com",
			[]string{"*.google.com"},
			[]string{"www.google.com"}},
		{"unknown organisation", "nobody", 443, "shop.example", []string{"shop.example"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.LeafNames(tc.org, tc.port, tc.sni, tc.sans)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("LeafNames(%q, %d, %q, %q) = %q, want %q", tc.org, tc.port, tc.sni, tc.sans, got, tc.want)
			}
		})
	}
}

// TestLeafNamesAgreeWithDecide checks the wildcard rule against Decide:
// a wildcard the leaf keeps covers no name Decide does not inspect.
func TestLeafNamesAgreeWithDecide(t *testing.T) {
	p := namesPolicy(t)
	labels := []string{"www", "admin", "bank", "a", "online", "x"}
	for _, d := range []string{"shop.example", "bank.shop.example", "cdn.example", "ads.example", "deep.example", "x.deep.example", "other.example"} {
		for _, port := range []int{443, 8443} {
			kept := slices.Contains(p.LeafNames("acme", port, "", []string{"*." + d}), "*."+d)
			for _, l := range labels {
				if a := p.Decide("acme", l+"."+d, port).Action; kept && a != Inspect {
					t.Errorf("*.%s kept on port %d, but %s.%s is %v", d, port, l, d, a)
				}
			}
		}
	}
}

func TestGeneration(t *testing.T) {
	a, b := namesPolicy(t), namesPolicy(t)
	if a.Generation() == b.Generation() {
		t.Errorf("two compiled policies share generation %d", a.Generation())
	}
}

func TestValidServerName(t *testing.T) {
	for s, want := range map[string]bool{
		"www.example.com": true, "WWW.Example.COM.": true, "_dmarc.example": true, "xn--bcher-kva.example": true,
		"127.0.0.1": true, "::1": true, "[::1]": false, "localhost": true,
		"": false, "a..b": false, "a b": false, `x"y`: false, "a/b": false, "1.2.3.999": false,
		strings.Repeat("a", 64) + ".example": false, strings.Repeat("a.", 127) + "com": false,
	} {
		if got := ValidServerName(s); got != want {
			t.Errorf("ValidServerName(%q) = %v, want %v", s, got, want)
		}
	}
}
