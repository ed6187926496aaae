package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	type want struct {
		host  string
		port  int
		path  string
		query string
	}
	cases := []struct {
		name                      string
		method, scheme, authority string
		target                    string
		want                      want
		errPart                   string // "" when it parses
	}{
		{"origin form", "GET", "https", "echo.example", "/admin/x?a=1&b", want{"echo.example", 443, "/admin/x", "a=1&b"}, ""},
		{"upper-case host", "GET", "https", "ECHO.Example", "/", want{"echo.example", 443, "/", ""}, ""},
		{"trailing dot", "GET", "https", "echo.example.", "/", want{"echo.example", 443, "/", ""}, ""},
		{"default port same as none", "GET", "https", "echo.example:443", "/admin", want{"echo.example", 443, "/admin", ""}, ""},
		{"empty port same as none", "GET", "https", "echo.example:", "/", want{"echo.example", 443, "/", ""}, ""},
		{"leading zeros in the port", "GET", "https", "echo.example:0443", "/", want{"echo.example", 443, "/", ""}, ""},
		{"other port", "GET", "https", "echo.example:8443", "/", want{"echo.example", 8443, "/", ""}, ""},
		{"plain http default", "GET", "http", "echo.example:80", "/", want{"echo.example", 80, "/", ""}, ""},
		{"IPv4", "GET", "https", "192.0.2.1:443", "/", want{"192.0.2.1", 443, "/", ""}, ""},
		{"IPv6 brackets dropped", "GET", "https", "[2001:DB8::1]:8443", "/", want{"2001:db8::1", 8443, "/", ""}, ""},
		{"IPv6 canonical", "GET", "https", "[2001:db8:0:0::1]", "/", want{"2001:db8::1", 443, "/", ""}, ""},
		{"IPv4-mapped IPv6", "GET", "https", "[::ffff:192.0.2.1]", "/", want{"192.0.2.1", 443, "/", ""}, ""},
		{"path normalised", "GET", "https", "echo.example", "//%61dmin/./x", want{"echo.example", 443, "/admin/x", ""}, ""},
		{"query kept raw", "GET", "https", "echo.example", "/s?q=%2e%2E/..&x", want{"echo.example", 443, "/s", "q=%2e%2E/..&x"}, ""},
		{"empty query", "GET", "https", "echo.example", "/s?", want{"echo.example", 443, "/s", ""}, ""},
		{"absolute form", "GET", "https", "", "https://echo.example/admin", want{"echo.example", 443, "/admin", ""}, ""},
		{"absolute form agrees with Host", "GET", "https", "Echo.Example:443", "HTTPS://echo.example./admin?x", want{"echo.example", 443, "/admin", "x"}, ""},
		{"absolute form without path", "GET", "https", "", "https://echo.example", want{"echo.example", 443, "/", ""}, ""},
		{"absolute form with query only", "GET", "https", "", "https://echo.example?q", want{"echo.example", 443, "/", "q"}, ""},
		{"absolute form plain http", "GET", "http", "echo.example", "http://echo.example:80/a", want{"echo.example", 80, "/a", ""}, ""},
		{"OPTIONS asterisk", "OPTIONS", "https", "echo.example", "*", want{"echo.example", 443, "*", ""}, ""},
		{"dot-dot at the root", "GET", "https", "echo.example", "/../admin", want{"echo.example", 443, "/admin", ""}, ""},

		{"absolute form disagrees with Host", "GET", "https", "echo.example", "https://blocked.example/", want{}, "another host"},
		{"absolute form disagrees on the port", "GET", "https", "echo.example:8443", "https://echo.example/", want{}, "another host"},
		{"absolute form other scheme", "GET", "https", "", "http://echo.example/admin", want{}, "scheme"},
		{"absolute form unknown scheme", "GET", "https", "", "ftp://echo.example/", want{}, "origin or absolute form"},
		{"absolute form without host", "GET", "https", "", "https:///admin", want{}, "no host"},
		{"absolute form userinfo", "GET", "https", "", "https://user@echo.example/", want{}, "user information"},
		{"absolute form bad path", "GET", "https", "", "https://echo.example/%zz", want{}, "two hex digits"},
		{"backslash target", "GET", "https", "echo.example", "\\admin", want{}, "origin or absolute form"},
		{"authority form", "CONNECT", "https", "echo.example", "echo.example:443", want{}, "origin or absolute form"},
		{"asterisk for GET", "GET", "https", "echo.example", "*", want{}, "origin or absolute form"},
		{"empty target", "GET", "https", "echo.example", "", want{}, "origin or absolute form"},
		{"no host", "GET", "https", "", "/admin", want{}, "no host"},
		{"dot-dot climbing", "GET", "https", "echo.example", "/x/../admin", want{}, `".."`},
		{"encoded dot-dot climbing", "GET", "https", "echo.example", "/admin/%2e%2e/x", want{}, `".."`},
		{"dot-dot parameter climbing", "GET", "https", "echo.example", "/public/..;/admin", want{}, `".."`},
		{"encoded-slash dot-dot climbing", "GET", "https", "echo.example", "/x%2f..%2fadmin", want{}, `".."`},
		{"fragment", "GET", "https", "echo.example", "/admin#top", want{}, "'#'"},
		{"fragment in the query", "GET", "https", "echo.example", "/a?b#c", want{}, "query"},
		{"control character in the query", "GET", "https", "echo.example", "/a?b\nc", want{}, "query"},
		{"space in the query", "GET", "https", "echo.example", "/a?b c", want{}, "query"},
		{"NUL in the path", "GET", "https", "echo.example", "/admin\x00", want{}, "control"},
		{"port zero", "GET", "https", "echo.example:0", "/", want{}, "port"},
		{"port too big", "GET", "https", "echo.example:65536", "/", want{}, "port"},
		{"port not a number", "GET", "https", "echo.example:https", "/", want{}, "port"},
		{"port overflow", "GET", "https", "echo.example:99999999999999999999", "/", want{}, "port"},
		{"IPv6 without brackets", "GET", "https", "2001:db8::1", "/", want{}, "not a DNS name"},
		{"IPv6 zone", "GET", "https", "[fe80::1%25eth0]", "/", want{}, "not a DNS name"},
		{"IPv4 in brackets", "GET", "https", "[192.0.2.1]", "/", want{}, "not a DNS name"},
		{"junk after brackets", "GET", "https", "[::1]x", "/", want{}, "not a DNS name"},
		{"unclosed bracket", "GET", "https", "[::1", "/", want{}, "not a DNS name"},
		{"short IPv4", "GET", "https", "127.1", "/", want{}, "not a DNS name"},
		{"hex IPv4", "GET", "https", "0x7f000001", "/", want{}, "not a DNS name"},
		{"IPv4 with leading zeros", "GET", "https", "010.0.0.1", "/", want{}, "not a DNS name"},
		{"two trailing dots", "GET", "https", "echo.example..", "/", want{}, "not a DNS name"},
		{"percent in the host", "GET", "https", "echo%2eexample", "/", want{}, "not a DNS name"},
		{"space in the host", "GET", "https", "echo example", "/", want{}, "not a DNS name"},
		{"userinfo in Host", "GET", "https", "a@echo.example", "/", want{}, "user information"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.method, tc.scheme, tc.authority, tc.target, map[string]int{"https": 443, "http": 80}[tc.scheme])
			if tc.errPart != "" {
				if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want an ErrBadRequest mentioning %q", err, tc.errPart)
				}
				if r.Path != "" || r.RawTarget != tc.target {
					t.Fatalf("a refused request has Path %q, RawTarget %q", r.Path, r.RawTarget)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{r.Host, r.Port, r.Path, r.Query}
			if got != tc.want || r.RawTarget != tc.target || r.Method != tc.method || r.Scheme != tc.scheme {
				t.Fatalf("ParseRequest = %+v, want %+v and the raw target", r, tc.want)
			}
		})
	}
}

func TestParseRequestAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		_, _ = ParseRequest("GET", "https", "echo.example", "/admin/users?id=1", 443)
	})
	if n != 0 {
		t.Errorf("ParseRequest of a normal request allocates %v times", n)
	}
	n = testing.AllocsPerRun(100, func() {
		_, _ = ParseRequest("GET", "https", "echo.example", "/x/../admin", 443)
	})
	if n != 0 {
		t.Errorf("refusing a request allocates %v times", n)
	}
}

func TestStricter(t *testing.T) {
	in, by, bl := Decision{Action: Inspect, Rule: "i"}, Decision{Action: Bypass, Rule: "b"}, Decision{Action: Block, Rule: "x"}
	for _, c := range []struct{ a, b, want Decision }{
		{in, by, in}, {by, in, in}, {in, bl, bl}, {bl, in, bl}, {by, bl, bl}, {by, by, by},
	} {
		if got := Stricter(c.a, c.b); got != c.want {
			t.Errorf("Stricter(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
