package policy

import (
	"errors"
	"strings"
	"testing"
)

var pathSeeds = []string{
	"/", "/admin", "/ADMIN", "//admin", "/./admin", "/%61dmin", "/x/../admin", "/%2e%2e/admin",
	"/admin%2f", "\\admin", "/admin;x", "/..;/admin", "/%c0%ae%c0%ae/", "/%u0061", "/a%00",
	"/caf%c3%a9", "/caf\xc3\xa9", "/a|b", "/%zz", "/a%", "/a/b/..", "/a/./", "/%2F%2F..%5C",
}

// FuzzNormalizePath checks that NormalizePath never panics, that what it
// accepts is stable and has no dot-segment or empty segment, and that what
// it refuses wraps ErrBadRequest.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, err := NormalizePath(p)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("NormalizePath(%q): %v does not wrap ErrBadRequest", p, err)
			}
			return
		}
		checkNormal(t, p, n)
		if again, err := NormalizePath(n); err != nil || again != n {
			t.Fatalf("NormalizePath(%q) = %q, normalised again %q, %v", p, n, again, err)
		}
	})
}

// FuzzParseRequest checks that ParseRequest never panics, that a request
// it accepts has a host, a port and a normalised path, and that one it
// refuses has no path (so Judge blocks it).
func FuzzParseRequest(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add("echo.example", s+"?q=1")
	}
	for _, s := range []struct{ authority, target string }{
		{"", "https://echo.example/admin"}, {"echo.example:443", "HTTPS://Echo.Example./a"},
		{"[2001:db8::1]:8443", "/"}, {"0x7f000001", "/"}, {"a@b", "/"}, {"x:99999", "/"},
		{"", "http://echo.example/"}, {"echo.example", "*"}, {"[::1", "/"}, {"e.example", "/a#b"},
	} {
		f.Add(s.authority, s.target)
	}
	p := urlPolicy(f)
	f.Fuzz(func(t *testing.T, authority, target string) {
		r, err := ParseRequest("GET", "https", authority, target, 443)
		d := p.Judge("acme", &r)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) || r.Path != "" || d.Action != Block {
				t.Fatalf("ParseRequest(%q, %q): %v, Path %q, judged %v", authority, target, err, r.Path, d)
			}
			return
		}
		if r.Host == "" || r.Port < 1 || r.Port > 65535 || strings.ToLower(r.Host) != r.Host || strings.HasSuffix(r.Host, ".") {
			t.Fatalf("ParseRequest(%q, %q): host %q port %d", authority, target, r.Host, r.Port)
		}
		if n, err := NormalizePath(r.Path); err != nil || n != r.Path {
			t.Fatalf("ParseRequest(%q, %q): path %q is not normal (%q, %v)", authority, target, r.Path, n, err)
		}
		checkNormal(t, target, r.Path)
	})
}

func checkNormal(t *testing.T, in, n string) {
	t.Helper()
	if !strings.HasPrefix(n, "/") || strings.Contains(n, "//") || strings.Contains(n, "/./") || strings.Contains(n, "/../") ||
		strings.HasSuffix(n, "/.") || strings.HasSuffix(n, "/..") || strings.ContainsAny(n, ";\\?# ") {
		t.Fatalf("normalising %q gave %q", in, n)
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c >= 0x7f {
			t.Fatalf("normalising %q gave %q, with byte %#x", in, n, c)
		}
		if n[i] != '%' {
			continue
		}
		// An escape left encoded: upper-case hex, not unreserved, no separator.
		h := n[i+1 : i+3]
		if strings.ToUpper(h) != h || h == "2F" || h == "5C" || h == "00" || unreserved(byte(unhex(h[0])<<4|unhex(h[1]))) {
			t.Fatalf("normalising %q gave %q, with escape %%%s", in, n, h)
		}
	}
}
