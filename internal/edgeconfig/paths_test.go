package edgeconfig

import (
	"strings"
	"testing"
)

func TestPathRules(t *testing.T) {
	cfg, err := Parse([]byte(`
orgs:
  - id: acme
    rules:
      - action: block
        hosts: ["*.example.com"]
        paths: ["/admin", "/debug/"]
      - action: block
        paths: ["/wp-login.php"]
      - action: bypass
        hosts: [bank.test]
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
	block, err := cfg.PathBlocker()
	if err != nil || block == nil {
		t.Fatalf("PathBlocker: %v", err)
	}
	cases := []struct {
		host, path string
		rule       string
	}{
		{"www.example.com", "/admin/users", "rules[0]"},
		{"www.example.com", "/debug/pprof", "rules[0]"},
		{"www.example.com", "/public", ""},
		{"other.test", "/admin", ""},
		{"other.test", "/wp-login.php?x=1", "rules[1]"},
	}
	for _, c := range cases {
		rule, blocked := block("acme", c.host, c.path)
		if blocked != (c.rule != "") || rule != c.rule {
			t.Errorf("%s%s: blocked=%v by %q, want %q", c.host, c.path, blocked, rule, c.rule)
		}
	}
	if _, blocked := block("other-org", "www.example.com", "/admin"); blocked {
		t.Error("another org's request was blocked by acme's rule")
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
        paths: ["admin"]
`))
	if err == nil || !strings.Contains(err.Error(), "orgs[0].rules[0].paths") || !strings.Contains(err.Error(), "orgs[0].rules[1].paths[0]") {
		t.Fatalf("err = %v", err)
	}
}
