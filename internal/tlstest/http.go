package tlstest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// RoundTrip writes req, a raw HTTP/1.1 request, on c and reads one
// response from br (reading c), returning it with its whole body; each
// step fails the test after 10 s.
func RoundTrip(tb testing.TB, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	tb.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatalf("write request: %v", err)
	}
	return ReadResponse(tb, br)
}

// ReadResponse reads one HTTP/1.1 response and its whole body.
func ReadResponse(tb testing.TB, br *bufio.Reader) (*http.Response, string) {
	tb.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}
