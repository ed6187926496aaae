package httphead_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lucid-edge/lucid/internal/httphead"
)

// FuzzParseProxyRequest feeds arbitrary bytes to the parser of the first
// request a proxy client sends (CONNECT or an absolute-form request), and to
// the Basic credentials parser behind Proxy-Authorization.
func FuzzParseProxyRequest(f *testing.F) {
	f.Add([]byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/8.5.0\r\nProxy-Connection: Keep-Alive\r\n\r\n"))
	f.Add([]byte("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"))
	f.Add([]byte("CONNECT 192.0.2.1:443 HTTP/1.0\r\n\r\n"))
	f.Add([]byte("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Basic Ym9iOnB3\r\n\r\n"))
	f.Add([]byte("POST http://example.com:8080 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: proxy\r\n\r\n"))
	f.Add([]byte("CONNECT 0x7f.1:443 HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := httphead.ParseProxyRequest(data)
		if err != nil {
			var he *httphead.Error
			if n != 0 || (err != httphead.ErrIncomplete && !errors.As(err, &he)) {
				t.Fatalf("error %v with length %d", err, n)
			}
			if he != nil && (he.Status < 400 || he.Status > 599) {
				t.Fatalf("status %d", he.Status)
			}
			return
		}
		if n < 4 || n > len(data) || !bytes.HasSuffix(data[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %d bytes", n, len(data))
		}
		if len(r.Host) == 0 || len(r.Host) > 253 || r.Port < 1 || r.Port > 65535 {
			t.Fatalf("target %q port %d", r.Host, r.Port)
		}
		if r.Connect != (string(r.Method) == "CONNECT") || r.Connect != (r.Path == nil) {
			t.Fatalf("inconsistent request %+v", r)
		}
		if !r.Connect && r.AppendTarget(nil)[0] != '/' {
			t.Fatalf("origin-form target %q", r.AppendTarget(nil))
		}
		if r.ProxyAuthorization != nil {
			user, _, ok := httphead.ParseBasicAuth(r.ProxyAuthorization)
			if ok && bytes.IndexByte([]byte(user), ':') >= 0 {
				t.Fatalf("user %q holds a colon", user)
			}
		}
	})
}
