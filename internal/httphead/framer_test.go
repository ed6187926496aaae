package httphead

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// frameRequests runs stream through a RequestFramer cut at cut, and
// describes what it yields: "H <method> <target>" per head, "B <bytes>"
// per request's body (pieces joined), "E" per end.
func frameRequests(stream string, cut int) (string, error) {
	var f RequestFramer
	var out strings.Builder
	var body strings.Builder
	for _, piece := range []string{stream[:cut], stream[cut:]} {
		data := []byte(piece)
		for {
			ev, n, err := f.Next(data)
			data = data[n:]
			if err != nil {
				return out.String(), err
			}
			switch ev.Kind {
			case EventHead:
				fmt.Fprintf(&out, "H %s %s|", ev.Head.Method, ev.Head.Target)
			case EventBody:
				body.Write(ev.Bytes)
			case EventEnd:
				if body.Len() > 0 {
					fmt.Fprintf(&out, "B %q|", body.String())
					body.Reset()
				}
				out.WriteString("E|")
			}
			if ev.Kind == EventNeedMore {
				break
			}
		}
	}
	return out.String(), nil
}

func TestRequestFramer(t *testing.T) {
	cases := []struct {
		name, in, want string
		status         int // a refusal after want
	}{
		{name: "pipelined", in: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", want: "H GET /a|E|H GET /b|E|"},
		{name: "length body", in: "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n", want: "H POST /a|B \"hello\"|E|H GET /b|E|"},
		{name: "chunked body", in: "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d;e\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
			want: "H POST /a|B \"5;a=b;c=\\\"d;e\\\"\\r\\nhello\\r\\n0\\r\\nX-T: 1\\r\\n\\r\\n\"|E|H GET /b|E|"},
		{name: "chunked hides a request", in: "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2a\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\nxxxxxxxxxx\r\n0\r\n\r\n",
			want: "H POST /a|B \"2a\\r\\nGET /admin HTTP/1.1\\r\\nHost: h\\r\\n\\r\\nxxxxxxxxxx\\r\\n0\\r\\n\\r\\n\"|E|"},
		{name: "second request smuggles", in: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", want: "H GET /a|E|", status: 400},
		{name: "chunk size with space", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", want: "H POST /|", status: 400},
		{name: "chunk ext with space", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n", want: "H POST /|", status: 400},
		{name: "chunk size bare LF", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", want: "H POST /|", status: 400},
		{name: "chunk data too long", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", want: "H POST /|", status: 400},
		{name: "chunk size overflow", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", want: "H POST /|", status: 400},
		{name: "chunk size negative", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", want: "H POST /|", status: 400},
		{name: "chunk size empty", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", want: "H POST /|", status: 400},
		{name: "trailer obs-fold", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n", want: "H POST /|", status: 400},
		{name: "trailer NUL", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \x00\r\n\r\n", want: "H POST /|", status: 400},
		{name: "trailer bare LF", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n", want: "H POST /|", status: 400},
		{name: "bare LF second request", in: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\nHost: h\n\n", want: "H GET /a|E|", status: 400},
		{name: "HTTP/1.2 first", in: "GET /a HTTP/1.2\r\nHost: h\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n", status: 505},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.in); cut++ {
				got, err := frameRequests(tc.in, cut)
				var he *Error
				switch {
				case tc.status == 0 && err != nil:
					t.Fatalf("cut %d: %v after %s", cut, err, got)
				case tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status):
					t.Fatalf("cut %d: err = %v, want status %d", cut, err, tc.status)
				case got != tc.want && !(tc.status != 0 && strings.HasPrefix(tc.want, got)):
					t.Fatalf("cut %d:\n got %s\nwant %s", cut, got, tc.want)
				}
			}
		})
	}
}

func TestRequestFramerHeadLimit(t *testing.T) {
	var f RequestFramer
	piece := []byte("GET / HTTP/1.1\r\nHost: h\r\nX: ")
	_, n, err := f.Next(piece)
	if err != nil || n != len(piece) {
		t.Fatalf("first piece: %d %v", n, err)
	}
	fill := []byte(strings.Repeat("a", 1024))
	for i := 0; i < 20 && err == nil; i++ {
		_, _, err = f.Next(fill)
	}
	if err != ErrTooLarge {
		t.Fatalf("a head fed past 16 KiB: %v", err)
	}
	if len(f.hb.buf) > MaxHead {
		t.Fatalf("held %d bytes", len(f.hb.buf))
	}
}

// frameResponses runs a response stream against the requests sent, and
// describes each completed response as "status/size" or "switch status".
func frameResponses(sent []SentRequest, stream string, cut int) (string, error) {
	var f ResponseFramer
	for _, s := range sent {
		f.Sent(s)
	}
	var out strings.Builder
	forwarded := 0
	for _, piece := range []string{stream[:cut], stream[cut:]} {
		data := []byte(piece)
		for {
			ev, n, err := f.Next(data)
			data = data[n:]
			if err != nil {
				return out.String(), err
			}
			switch ev.Kind {
			case EventHead, EventBody:
				forwarded += len(ev.Bytes)
			case EventEnd:
				fmt.Fprintf(&out, "%d/%d|", ev.Status, ev.Size)
			case EventSwitch:
				fmt.Fprintf(&out, "switch %d|", ev.Status)
			}
			if ev.Kind == EventNeedMore {
				break
			}
		}
	}
	if forwarded != len(stream) {
		return out.String(), fmt.Errorf("forwarded %d of %d bytes", forwarded, len(stream))
	}
	return out.String(), nil
}

func TestResponseFramer(t *testing.T) {
	get, head, upgrade, connect := SentRequest{}, SentRequest{Head: true}, SentRequest{Upgrade: true}, SentRequest{Connect: true}
	cases := []struct {
		name   string
		sent   []SentRequest
		in     string
		want   string
		desync bool
	}{
		{name: "sequence", sent: []SentRequest{get, get, get, head},
			in: "HTTP/1.1 100 Continue\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
				"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" +
				"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
			want: "200/43|404/87|304/49|200/39|"},
		{name: "103 then 204", sent: []SentRequest{get}, in: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", want: "204/27|"},
		{name: "upgrade", sent: []SentRequest{upgrade}, in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", want: "switch 101|"},
		{name: "upgrade declined", sent: []SentRequest{upgrade, get}, in: "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: "426/52|200/38|"},
		{name: "connect", sent: []SentRequest{connect}, in: "HTTP/1.1 200 OK\r\n\r\nanything", want: "switch 200|"},
		{name: "close-delimited", sent: []SentRequest{get}, in: "HTTP/1.0 200 OK\r\n\r\nbody to the end", want: "switch 200|"},
		{name: "no reason", sent: []SentRequest{get}, in: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", want: "200/35|"},

		{name: "two answers to one request", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: "200/38|", desync: true},
		{name: "answer to nothing", in: "HTTP/1.1 200 OK\r\n\r\n", desync: true},
		{name: "101 unasked", sent: []SentRequest{get}, in: "HTTP/1.1 101 Switching Protocols\r\n\r\n", desync: true},
		{name: "CL and TE", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", desync: true},
		{name: "differing CL", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", desync: true},
		{name: "bare LF", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", desync: true},
		{name: "obs-fold", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", desync: true},
		{name: "HTTP/1.2", sent: []SentRequest{get}, in: "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", desync: true},
		{name: "bad chunk", sent: []SentRequest{get}, in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", desync: true},
		{name: "status 600", sent: []SentRequest{get}, in: "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", desync: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.in); cut++ {
				got, err := frameResponses(tc.sent, tc.in, cut)
				if tc.desync {
					if !errors.Is(err, ErrDesync) || got != tc.want {
						t.Fatalf("cut %d: got %s, err %v; want %s and a desync", cut, got, err, tc.want)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Fatalf("cut %d: got %s, err %v; want %s", cut, got, err, tc.want)
				}
			}
		})
	}
}
