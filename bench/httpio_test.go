package bench

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		status   int
		reusable bool
		rest     string // what must remain unread: the next response
		wantErr  bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", 200, true, "NEXT", false},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\nNEXT", 200, true, "NEXT", false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false, "", false},
		{"until EOF", "HTTP/1.1 200 OK\r\n\r\nwhatever is left", 200, false, "", false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false, "", false},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nxNEXT", 404, true, "NEXT", false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\nNEXT", 204, true, "NEXT", false},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", 0, false, "", true},
		{"cut in headers", "HTTP/1.1 200 OK\r\nContent-Le", 0, false, "", true},
		{"cut chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 0, false, "", true},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, "", true},
		{"empty", "", 0, false, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(c.in), 64)
			status, reusable, err := readResponse(r)
			if c.wantErr {
				if err == nil {
					t.Fatalf("no error for %q", c.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status || reusable != c.reusable {
				t.Fatalf("status %d reusable %v, want %d %v", status, reusable, c.status, c.reusable)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != c.rest {
				t.Fatalf("left %q unread, want %q", rest, c.rest)
			}
		})
	}
}

func TestReadLineTooLong(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 100)+"\r\n\r\n"), 32)
	if _, _, err := readResponse(r); !errors.Is(err, errLineTooLong) {
		t.Fatalf("got %v, want errLineTooLong", err)
	}
}
