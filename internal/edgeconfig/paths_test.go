package edgeconfig

import (
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/internal/policy"
)

func TestPathRules(t *testing.T) {
	cfg, err := Parse([]byte(`
orgs:
  - id: acme
    rules:
      - action: block
        hosts: ["*.example.com"]
        paths: ["/admin", "/debug/", "/x/../metrics"]
      - action: block
        paths: ["/wp-login.php"]
        name: wordpress
      - action: bypass
        hosts: [bank.test]
      - action: block
        hosts: [api.test]
        paths: ["/V1/Keys"]
        paths_case_sensitive: true
`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	// A URL rule does not block the connection; the bypass rule keeps its name.
	if d := pol.Decide("acme", "www.example.com", 443); d.Action.String() != "inspect" {
		t.Fatalf("a URL rule decided the connection: %+v", d)
	}
	if d := pol.Decide("acme", "bank.test", 443); d.Action.String() != "bypass" || d.Rule != "rules[2]" {
		t.Fatalf("bank.test: %+v", d)
	}
	cases := []struct {
		host, target string
		rule         string
	}{
		{"www.example.com", "/admin/users", "rules[0]"},
		{"www.example.com", "/ADMIN/users", "rules[0]"},
		{"www.example.com", "/debug/pprof", "rules[0]"},
		{"www.example.com", "/metrics", "rules[0]"},
		{"www.example.com", "/public", ""},
		{"other.test", "/admin", ""},
		{"other.test", "/wp-login.php?x=1", "wordpress"},
		{"api.test", "/V1/Keys/7", "rules[3]"},
		{"api.test", "/v1/keys/7", ""},
	}
	for _, c := range cases {
		r, err := policy.ParseRequest("GET", "https", c.host, c.target, 443)
		if err != nil {
			t.Fatal(err)
		}
		d := pol.Judge("acme", &r)
		if blocked := d.Action == policy.Block; blocked != (c.rule != "") || blocked && d.Rule != c.rule {
			t.Errorf("%s%s: %+v, want blocked by %q", c.host, c.target, d, c.rule)
		}
	}
	r, _ := policy.ParseRequest("GET", "https", "www.example.com", "/admin", 443)
	if d := pol.Judge("other-org", &r); d.Rule != "no-policy" {
		t.Errorf("another org's request was judged by acme's rules: %+v", d)
	}
}

func TestPathRulesValidation(t *testing.T) {
	_, err := Parse([]byte(`
orgs:
  - id: acme
    rules:
      - action: inspect
        paths: ["/x"]
      - action: block
        paths: ["admin", "/a%zz", "/a\\b", "/%c0%ae"]
      - action: block
        hosts: [a.test]
        paths_case_sensitive: true
      - {action: block, hosts: [b.test], name: "has space"}
      - {action: block, hosts: [c.test], name: default}
      - {action: block, hosts: [d.test], name: r1}
      - {action: block, hosts: [e.test], name: r1}
`))
	for _, want := range []string{
		"orgs[0].rules[0].paths", "only a block rule",
		`orgs[0].rules[1].paths[0] (line 8): "admin": the path does not start with '/'`,
		"orgs[0].rules[1].paths[1] (line 8)", "two hex digits",
		"orgs[0].rules[1].paths[2] (line 8)", `'\'`,
		"orgs[0].rules[1].paths[3] (line 8)", "not UTF-8",
		"orgs[0].rules[2].paths_case_sensitive", "without paths",
		"orgs[0].rules[3].name", "not a rule name",
		"orgs[0].rules[4].name", "policy gives its own",
		"orgs[0].rules[6].name", "already used",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to mention %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "rules[5].name") {
		t.Errorf("the first use of a name was refused: %v", err)
	}
}

// TestUpstreamTLSLegacy: upstream_tls: legacy lowers the TLS floor for
// its rule's hosts only, and is refused where it could mean nothing.
func TestUpstreamTLSLegacy(t *testing.T) {
	cfg, err := Parse([]byte(`
orgs:
  - id: acme
    rules:
      - {action: inspect, hosts: [old.example], upstream_tls: legacy}
      - {action: bypass, hosts: [older.example], upstream_tls: legacy}
`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"old.example": true, "older.example": true, "new.example": false} {
		if d := pol.Decide("acme", host, 443); d.LegacyTLS != want {
			t.Errorf("%s: LegacyTLS %v, want %v", host, d.LegacyTLS, want)
		}
	}
	_, err = Parse([]byte(`
orgs:
  - id: acme
    rules:
      - {action: inspect, hosts: [a.example], upstream_tls: tls1.0}
      - {action: block, hosts: [b.example], upstream_tls: legacy}
      - {action: block, paths: [/x], upstream_tls: legacy}
`))
	for _, want := range []string{
		`orgs[0].rules[0].upstream_tls (line 5): "tls1.0" is not legacy`,
		"orgs[0].rules[1].upstream_tls (line 6): set on a block rule",
		"orgs[0].rules[2].upstream_tls (line 7): set on a block rule",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to mention %q", err, want)
		}
	}
}
