package httphead

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		n      int // expected head length; 0 means the whole input
		method string
		minor  int
		close  bool
		length int64
		status int // expected refusal status, 0 for success
	}{
		{name: "HTTP/1.1 keep-alive", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", minor: 1, length: -1},
		{name: "HTTP/1.1 close", in: "GET /x HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, close\r\n\r\n", method: "GET", minor: 1, close: true, length: -1},
		{name: "HTTP/1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", minor: 0, close: true, length: -1},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", method: "GET", minor: 0, length: -1},
		{name: "body length", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\nhello world!", n: 48, method: "POST", minor: 1, length: 12},
		{name: "pipelined", in: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", n: 28, method: "GET", minor: 1, length: -1},
		{name: "HTTP/2 line", in: "GET / HTTP/2.0\r\n\r\n", status: 505},
		{name: "no version", in: "GET /\r\n\r\n", status: 400},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost: h\r\nHost : a\r\n\r\n", status: 400},
		{name: "bad length", in: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", status: 400},
		{name: "conflicting lengths", in: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", status: 400},
		{name: "smuggling", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse([]byte(tc.in))
			if tc.status != 0 {
				var he *Error
				if !errors.As(err, &he) || he.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.n
			if want == 0 {
				want = len(tc.in)
			}
			if n != want || string(h.Method) != tc.method || h.Minor != tc.minor || h.Close != tc.close || h.ContentLength != tc.length {
				t.Fatalf("got n=%d %+v", n, h)
			}
		})
	}
}

func TestParseIncompleteAndTooLarge(t *testing.T) {
	if _, _, err := Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n")); err != ErrIncomplete {
		t.Fatalf("partial head: err = %v", err)
	}
	big := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHead)
	if _, _, err := Parse([]byte(big)); err != ErrTooLarge {
		t.Fatalf("oversized head: err = %v", err)
	}
}
