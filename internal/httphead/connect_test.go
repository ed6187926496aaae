package httphead

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseProxyRequest(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		connect bool
		method  string
		host    string
		port    int
		target  string // AppendTarget's result for absolute form
		auth    string
		status  int // expected refusal status, 0 for success
	}{
		{name: "CONNECT name", in: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", connect: true, method: "CONNECT", host: "example.com", port: 443},
		{name: "CONNECT keeps case, drops trailing dot", in: "CONNECT WWW.Example.COM.:8443 HTTP/1.1\r\nHost: h\r\n\r\n", connect: true, method: "CONNECT", host: "WWW.Example.COM", port: 8443},
		{name: "CONNECT IPv4", in: "CONNECT 192.0.2.7:443 HTTP/1.1\r\nHost: h\r\n\r\n", connect: true, method: "CONNECT", host: "192.0.2.7", port: 443},
		{name: "CONNECT IPv6", in: "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n", connect: true, method: "CONNECT", host: "2001:db8::1", port: 443},
		{name: "CONNECT HTTP/1.0", in: "CONNECT a.b:443 HTTP/1.0\r\n\r\n", connect: true, method: "CONNECT", host: "a.b", port: 443},
		{name: "CONNECT underscore label", in: "CONNECT _dmarc.example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", connect: true, method: "CONNECT", host: "_dmarc.example.com", port: 443},
		{name: "CONNECT with credentials", in: "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n", connect: true, method: "CONNECT", host: "example.com", port: 443, auth: "Basic YWxpY2U6czNjcmV0"},
		{name: "CONNECT max port", in: "CONNECT h:65535 HTTP/1.1\r\nHost: h\r\n\r\n", connect: true, method: "CONNECT", host: "h", port: 65535},
		{name: "absolute GET", in: "GET http://example.com/a/b?q=1&r HTTP/1.1\r\nHost: example.com\r\n\r\n", method: "GET", host: "example.com", port: 80, target: "/a/b?q=1&r"},
		{name: "absolute with port", in: "POST http://example.com:8080/up HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", method: "POST", host: "example.com", port: 8080, target: "/up"},
		{name: "absolute no path", in: "GET http://example.com HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", host: "example.com", port: 80, target: "/"},
		{name: "absolute query without path", in: "GET http://example.com?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", host: "example.com", port: 80, target: "/?x=1"},
		{name: "absolute empty port", in: "GET http://example.com:/ HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", host: "example.com", port: 80, target: "/"},
		{name: "absolute scheme case", in: "HEAD HTTP://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", method: "HEAD", host: "example.com", port: 80, target: "/"},
		{name: "absolute IPv6", in: "GET http://[::1]:8080/x HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", host: "::1", port: 8080, target: "/x"},

		{name: "origin-form", in: "GET / HTTP/1.1\r\nHost: proxy\r\n\r\n", status: 405},
		{name: "asterisk-form", in: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", status: 405},
		{name: "CONNECT without port", in: "CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT empty port", in: "CONNECT example.com: HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT port 0", in: "CONNECT example.com:0 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT port too big", in: "CONNECT example.com:65536 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT signed port", in: "CONNECT example.com:+443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT absolute URI", in: "CONNECT http://example.com:443/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT origin-form", in: "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT userinfo", in: "CONNECT u:p@example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT bare IPv6", in: "CONNECT ::1:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT IPv6 zone", in: "CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT IPv4 in brackets", in: "CONNECT [127.0.0.1]:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT unclosed bracket", in: "CONNECT [::1:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT junk after bracket", in: "CONNECT [::1]x:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT short IPv4", in: "CONNECT 127.1:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT hex IPv4", in: "CONNECT 0x7f.0.0.1:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT decimal IPv4", in: "CONNECT 2130706433:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT octal IPv4", in: "CONNECT 0177.0.0.1:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT IPv4 octet too big", in: "CONNECT 1.2.3.256:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT empty label", in: "CONNECT a..b:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT only a dot", in: "CONNECT .:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT bad char", in: "CONNECT exa%6dple.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "CONNECT long label", in: "CONNECT " + strings.Repeat("a", 64) + ".com:443 HTTP/1.1\r\n\r\n", status: 400},
		{name: "CONNECT long name", in: "CONNECT " + strings.Repeat("a.", 127) + "com:443 HTTP/1.1\r\n\r\n", status: 400},
		{name: "lower-case connect", in: "connect example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "authority-form GET", in: "GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "https URI", in: "GET https://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "ftp URI", in: "GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "userinfo URI", in: "GET http://user:pw@example.com/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "fragment URI", in: "GET http://example.com/#top HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "URI without host", in: "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "two credentials", in: "CONNECT a.b:443 HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic YTpi\r\nProxy-Authorization: Basic Yzpk\r\n\r\n", status: 400},
		{name: "bad version", in: "CONNECT a.b:443 HTTP/2.0\r\n\r\n", status: 505},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := ParseProxyRequest([]byte(tc.in))
			if tc.status != 0 {
				var he *Error
				if !errors.As(err, &he) || he.Status != tc.status || n != 0 {
					t.Fatalf("err = %v, n = %d, want status %d", err, n, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.in) {
				t.Errorf("n = %d, want %d", n, len(tc.in))
			}
			if r.Connect != tc.connect || string(r.Method) != tc.method || string(r.Host) != tc.host || r.Port != tc.port || string(r.ProxyAuthorization) != tc.auth {
				t.Errorf("got connect=%v method=%q host=%q port=%d auth=%q", r.Connect, r.Method, r.Host, r.Port, r.ProxyAuthorization)
			}
			if got := string(r.AppendTarget(nil)); r.Connect && (r.Path != nil || r.Query != nil) || !r.Connect && got != tc.target {
				t.Errorf("target = %q, want %q", got, tc.target)
			}
		})
	}
}

func TestParseProxyRequestIncomplete(t *testing.T) {
	if _, _, err := ParseProxyRequest([]byte("CONNECT a.b:443 HTTP/1.1\r\n")); err != ErrIncomplete {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
}

func TestParseBasicAuth(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name       string
		in         string
		user, pass string
		ok         bool
	}{
		{name: "plain", in: "Basic " + b64("alice:s3cret"), user: "alice", pass: "s3cret", ok: true},
		{name: "scheme case and spaces", in: "bAsIc   " + b64("bob:pw") + " ", user: "bob", pass: "pw", ok: true},
		{name: "colon in password", in: "Basic " + b64("carol:a:b"), user: "carol", pass: "a:b", ok: true},
		{name: "empty password", in: "Basic " + b64("dave:"), user: "dave", pass: "", ok: true},
		{name: "UTF-8", in: "Basic " + b64("zoë:pässwörd"), user: "zoë", pass: "pässwörd", ok: true},
		{name: "no colon", in: "Basic " + b64("alice"), ok: false},
		{name: "other scheme", in: "Bearer " + b64("alice:pw"), ok: false},
		{name: "scheme glued", in: "Basic" + b64("alice:pw"), ok: false},
		{name: "scheme only", in: "Basic", ok: false},
		{name: "no credentials", in: "Basic   ", ok: false},
		{name: "bad base64", in: "Basic !!!!", ok: false},
		{name: "unpadded", in: "Basic YTpiYw", ok: false},
		{name: "control character", in: "Basic " + b64("al\x00ice:pw"), ok: false},
		{name: "too long", in: "Basic " + b64("u:"+strings.Repeat("x", 800)), ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user, pass, ok := ParseBasicAuth([]byte(tc.in))
			if ok != tc.ok || user != tc.user || pass != tc.pass {
				t.Fatalf("got %q %q %v, want %q %q %v", user, pass, ok, tc.user, tc.pass, tc.ok)
			}
		})
	}
}

func TestParseProxyRequestAllocs(t *testing.T) {
	in := []byte("CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\nUser-Agent: curl/8.5.0\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseProxyRequest(in) }); n != 0 {
		t.Errorf("ParseProxyRequest allocates %v times", n)
	}
	auth := []byte("Basic YWxpY2U6czNjcmV0")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseBasicAuth(auth) }); n > 1 {
		t.Errorf("ParseBasicAuth allocates %v times, want 1", n)
	}
}

func BenchmarkParseProxyRequest(b *testing.B) {
	in := []byte("CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\nUser-Agent: curl/8.5.0\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseProxyRequest(in); err != nil {
			b.Fatal(err)
		}
	}
}
