package httphead_test

import (
	"bytes"
	"testing"

	"github.com/lucid-edge/lucid/internal/httphead"
)

// FuzzRequestHead feeds arbitrary bytes to the HTTP/1.x request head parser
// that reads decrypted client traffic.
func FuzzRequestHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	f.Add([]byte("POST /upload HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"))
	f.Add([]byte("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
	f.Add([]byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	for _, s := range []string{
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
		"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, n, err := httphead.Parse(data)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with length %d", err, n)
			}
			return
		}
		if n < 4 || n > len(data) || n > httphead.MaxHead || !bytes.HasSuffix(data[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %d bytes does not end a head", n, len(data))
		}
		if len(h.Method) == 0 || (h.Minor != 0 && h.Minor != 1) || (h.Chunked && h.ContentLength >= 0) || (h.Minor == 1 && h.Host == nil) {
			t.Fatalf("inconsistent head %+v", h)
		}
		if bytes.Contains(data[:n], []byte("\r\n ")) || bytes.Contains(data[:n], []byte("\r\n\t")) || bytes.IndexByte(data[:n], 0) >= 0 {
			t.Fatalf("inconsistent head %+v", h)
		}
	})
}
