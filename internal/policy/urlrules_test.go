package policy

import (
	"strings"
	"testing"
)

func urlPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := New([]Org{{
		ID: "acme",
		Rules: []Rule{
			{Action: Bypass, Hosts: []string{"bank.example"}},                                                      // rules[0]
			{Action: Block, Hosts: []string{"echo.example"}, Paths: []string{"/admin"}},                            // rules[1]
			{Action: Block, Hosts: []string{"*.example.com"}, Paths: []string{"/debug/", "/a/../metrics"}},         // rules[2]
			{Action: Block, Paths: []string{"/wp-login.php"}, Name: "wordpress"},                                   // wordpress
			{Action: Block, Hosts: []string{"api.example"}, Paths: []string{"/V1/Keys"}, PathsCaseSensitive: true}, // rules[4]
			{Action: Block, Hosts: []string{"ports.example"}, Ports: []int{8443}, Paths: []string{"/"}},            // rules[5]
			{Action: Block, Hosts: []string{"bank.example"}, Paths: []string{"/transfer"}},                         // rules[6]
			{Action: Block, Hosts: []string{"evil.example"}},                                                       // rules[7]
			{Action: Block, Hosts: []string{"caf.example"}, Paths: []string{"/café"}},                              // rules[8]
		},
		Default: Inspect,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJudge(t *testing.T) {
	p := urlPolicy(t)
	cases := []struct {
		name, authority, target string
		action                  Action
		rule                    string
	}{
		{"blocked path", "echo.example", "/admin", Block, "rules[1]"},
		{"below the blocked path", "echo.example", "/admin/secret?x=1", Block, "rules[1]"},
		{"string prefix", "echo.example", "/administrator", Block, "rules[1]"},
		{"other path", "echo.example", "/public", Inspect, "default"},
		{"other host", "other.example", "/admin", Inspect, "default"},
		{"upper-case path", "echo.example", "/ADMIN", Block, "rules[1]"},
		{"mixed-case path", "echo.example", "/aDmIn/x", Block, "rules[1]"},
		{"repeated slash", "echo.example", "//admin", Block, "rules[1]"},
		{"dot segment", "echo.example", "/./admin", Block, "rules[1]"},
		{"encoded letter", "echo.example", "/%61dmin", Block, "rules[1]"},
		{"encoded dot-dot at the root", "echo.example", "/%2e%2e/admin", Block, "rules[1]"},
		{"encoded slash", "echo.example", "/admin%2f", Block, "rules[1]"},
		{"encoded slash before", "echo.example", "/%2fadmin", Block, "rules[1]"},
		{"path parameter", "echo.example", "/admin;x", Block, "rules[1]"},
		{"path parameter in the prefix", "echo.example", "/adm;x/in", Inspect, "default"},
		{"Host with the default port", "echo.example:443", "/admin", Block, "rules[1]"},
		{"Host with a trailing dot", "echo.example.", "/admin", Block, "rules[1]"},
		{"upper-case Host", "ECHO.EXAMPLE", "/admin", Block, "rules[1]"},
		{"absolute form", "", "https://echo.example/admin", Block, "rules[1]"},
		{"absolute form, upper case", "", "HTTPS://ECHO.example:443/ADMIN", Block, "rules[1]"},
		{"directory prefix", "www.example.com", "/debug/pprof", Block, "rules[2]"},
		{"directory prefix without its slash", "www.example.com", "/debug", Block, "rules[2]"},
		{"directory prefix is a segment", "www.example.com", "/debugger", Inspect, "default"},
		{"normalised config path", "www.example.com", "/metrics", Block, "rules[2]"},
		{"unnormalised config path is not literal", "www.example.com", "/a/metrics", Inspect, "default"},
		{"any host", "other.example", "/wp-login.php", Block, "wordpress"},
		{"case-sensitive rule", "api.example", "/V1/Keys/1", Block, "rules[4]"},
		{"case-sensitive rule, other case", "api.example", "/v1/keys/1", Inspect, "default"},
		{"rule port", "ports.example:8443", "/x", Block, "rules[5]"},
		{"rule port, other port", "ports.example", "/x", Inspect, "default"},
		{"URL rule after a bypass rule", "bank.example", "/transfer", Block, "rules[6]"},
		{"bypass rule otherwise", "bank.example", "/", Bypass, "rules[0]"},
		{"host rule blocks every path", "evil.example", "/", Block, "rules[7]"},
		{"UTF-8 path", "caf.example", "/caf%C3%A9/menu", Block, "rules[8]"},
		{"UTF-8 path, raw", "caf.example", "/café", Block, "rules[8]"},
		{"OPTIONS asterisk is no path", "echo.example", "*", Inspect, "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.target == "*" {
				method = "OPTIONS"
			}
			r, err := ParseRequest(method, "https", tc.authority, tc.target, 443)
			if err != nil {
				t.Fatal(err)
			}
			if d := p.Judge("acme", &r); d.Action != tc.action || d.Rule != tc.rule {
				t.Fatalf("Judge(%q %q) = %v %q, want %v %q", tc.authority, tc.target, d.Action, d.Rule, tc.action, tc.rule)
			}
		})
	}
}

func TestJudgeFailsClosed(t *testing.T) {
	p := urlPolicy(t)
	r, err := ParseRequest("GET", "https", "echo.example", "/x/../admin", 443)
	if err == nil {
		t.Fatal("a climbing path parsed")
	}
	if d := p.Judge("acme", &r); d.Action != Block || d.Rule != "bad-request" {
		t.Fatalf("Judge of a refused request = %+v", d)
	}
	if d := p.Judge("acme", &Request{Path: "/"}); d.Action != Block {
		t.Fatalf("Judge of a request without host = %+v", d)
	}
	if d := p.Judge("nobody", &Request{Host: "echo.example", Port: 443, Path: "/"}); d != noPolicy {
		t.Fatalf("Judge for an unknown org = %+v", d)
	}
}

// A URL rule stays out of the connection's decision.
func TestURLRulesNotInDecide(t *testing.T) {
	p := urlPolicy(t)
	for _, host := range []string{"echo.example", "www.example.com", "other.example", "ports.example"} {
		if d := p.Decide("acme", host, 8443); d.Action != Inspect || d.Rule != "default" {
			t.Errorf("Decide(%q) = %+v: a URL rule decided a connection", host, d)
		}
	}
	if d := p.Decide("acme", "bank.example", 443); d.Action != Bypass || d.Rule != "rules[0]" {
		t.Errorf("bank.example: %+v", d)
	}
}

func TestURLRuleErrors(t *testing.T) {
	cases := []struct {
		name    string
		rule    Rule
		errPart string
	}{
		{"not a block rule", Rule{Action: Inspect, Paths: []string{"/x"}}, "rules[0]: only a block rule"},
		{"relative path", Rule{Action: Block, Paths: []string{"admin"}, Name: "r"}, `r: paths[0] "admin"`},
		{"bad escape", Rule{Action: Block, Paths: []string{"/", "/%zz"}}, "paths[1]"},
		{"bad host", Rule{Action: Block, Hosts: []string{"a.*"}, Paths: []string{"/x"}}, "rules[0]: host pattern"},
		{"bad port", Rule{Action: Block, Ports: []int{0}, Paths: []string{"/x"}}, "rules[0]: port 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]Org{{ID: "a", Rules: []Rule{tc.rule}}})
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.errPart)
			}
		})
	}
	if err := CheckPath("/a/../b"); err != nil {
		t.Errorf("CheckPath refused a path it normalises: %v", err)
	}
	if err := CheckPath("/a\\b"); err == nil {
		t.Error("CheckPath accepted a backslash")
	}
}

func TestJudgeAllocs(t *testing.T) {
	p := urlPolicy(t)
	for _, target := range []string{"/admin/x", "/public/index.html", "/wp-login.php"} {
		r, err := ParseRequest("GET", "https", "echo.example", target, 443)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Judge("acme", &r) }); n != 0 {
			t.Errorf("Judge(%q) allocates %v times", target, n)
		}
	}
}

func BenchmarkJudge(b *testing.B) {
	p := urlPolicy(b)
	for _, bc := range []struct{ name, authority, target string }{
		{"pass", "www.example.com", "/static/app.js"},
		{"blocked", "echo.example", "/admin/users"},
		{"folded", "echo.example", "/ADMIN/users"},
	} {
		r, err := ParseRequest("GET", "https", bc.authority, bc.target, 443)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Judge("acme", &r)
			}
		})
	}
	b.Run("parse+judge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := ParseRequest("GET", "https", "www.example.com:443", "/static/js/app.js?v=3", 443)
			p.Judge("acme", &r)
		}
	})
}
