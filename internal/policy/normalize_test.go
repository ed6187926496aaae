package policy

import (
	"errors"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	cases := []struct {
		name, in, want string // want "" for a refused path
	}{
		{"root", "/", "/"},
		{"plain", "/admin/users", "/admin/users"},
		{"trailing slash kept", "/admin/", "/admin/"},
		{"sub-delims and colon kept", "/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
		{"unreserved decoded", "/%61dmin", "/admin"},
		{"unreserved decoded, lower-case hex", "/%7euser/%2D", "/~user/-"},
		{"reserved stays encoded, upper-case hex", "/a%3fb%3Bc%23", "/a%3Fb%3Bc%23"},
		{"decoded once only", "/%252e%252e/admin", "/%252e%252e/admin"},
		{"encoded control character kept encoded", "/a%0d%0A", "/a%0D%0A"},
		{"repeated slashes", "//admin", "/admin"},
		{"many slashes", "/a///b////", "/a/b/"},
		{"dot", "/./admin", "/admin"},
		{"trailing dot", "/admin/.", "/admin/"},
		{"dot-dot", "/x/../admin", "/admin"},
		{"dot-dot at the end", "/admin/x/..", "/admin/"},
		{"dot-dot above the root", "/../../admin", "/admin"},
		{"encoded dot-dot", "/x/%2e%2e/admin", "/admin"},
		{"encoded dot-dot upper case", "/%2E%2E/admin", "/admin"},
		{"half-encoded dot-dot", "/x/.%2e/admin", "/admin"},
		{"dots in a name are no segment", "/a..b/.c/..d", "/a..b/.c/..d"},
		{"encoded slash separates", "/admin%2fx", "/admin/x"},
		{"encoded slash at the end", "/admin%2F", "/admin/"},
		{"encoded slash at the start", "/%2Fadmin", "/admin"},
		{"encoded backslash separates", "/a%5cadmin", "/a/admin"},
		{"encoded slash with dot-dot", "/x%2F..%2Fadmin", "/admin"},
		{"path parameter dropped", "/admin;x", "/admin"},
		{"path parameter mid-path", "/admin;jsessionid=1/secret", "/admin/secret"},
		{"parameter-only segment", "/;x/admin", "/admin"},
		{"parameter ends at an encoded slash", "/a;x%2Fb", "/a/b"},
		{"dot-dot with a parameter", "/x/..;/admin", "/admin"},
		{"UTF-8 encoded", "/caf%c3%a9", "/caf%C3%A9"},
		{"raw UTF-8 encoded", "/caf\xc3\xa9", "/caf%C3%A9"},
		{"non-URI bytes encoded", "/a|b{c}\"<>^`", "/a%7Cb%7Bc%7D%22%3C%3E%5E%60"},
		{"relative", "admin", ""},
		{"empty", "", ""},
		{"backslash", "/\\admin", ""},
		{"leading backslash", "\\admin", ""},
		{"bad escape", "/%zz", ""},
		{"truncated escape", "/a%4", ""},
		{"lone percent", "/a%", ""},
		{"IIS %u escape", "/%u0061dmin", ""},
		{"encoded NUL", "/admin%00.html", ""},
		{"NUL", "/admin\x00", ""},
		{"CR", "/admin\r", ""},
		{"tab", "/ad\tmin", ""},
		{"DEL", "/admin\x7f", ""},
		{"space", "/ad min", ""},
		{"fragment", "/admin#x", ""},
		{"query not split off", "/admin?x", ""},
		{"overlong dot", "/%c0%ae%c0%ae/admin", ""},
		{"overlong slash", "/x%c0%afadmin", ""},
		{"overlong three bytes", "/x%e0%80%afadmin", ""},
		{"surrogate", "/%ed%a0%80", ""},
		{"stray continuation byte", "/%80", ""},
		{"cut short", "/%c3", ""},
		{"cut by a slash", "/%c3/%a9", ""},
		{"raw overlong", "/\xc0\xae", ""},
		{"Latin-1", "/caf%e9", ""},
		{"bad escape in a parameter", "/a;%zz", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizePath(tc.in)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrBadRequest) {
					t.Fatalf("NormalizePath(%q) = %q, %v; want an ErrBadRequest", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if again, err := NormalizePath(got); err != nil || again != got {
				t.Fatalf("NormalizePath(%q) = %q, %v; not stable", got, again, err)
			}
		})
	}
}

func TestNormalizePathAllocs(t *testing.T) {
	for _, p := range []string{"/", "/admin/users/42", "/static/app.js", "/shop;jsessionid=1", "/a/b/"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = NormalizePath(p) }); n != 0 {
			t.Errorf("NormalizePath(%q) allocates %v times", p, n)
		}
	}
}
