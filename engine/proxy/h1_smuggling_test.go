package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const secret = "GET /admin/secret HTTP/1.1\r\nHost: echo.example\r\n\r\n"

// TestH1PipelinedSmuggling is the finding 5: a first request that
// used to make the rest of the connection unparsed, then a blocked
// request. The first is answered (by the origin when it frames cleanly,
// by the edge when it does not); the second never reaches the origin.
func TestH1PipelinedSmuggling(t *testing.T) {
	cases := []struct {
		name, first string
		want        []int
		served      []string // what the origin served
		headGoes    bool     // the first head is judged and forwarded, the origin may see it
	}{
		{name: "chunked body", first: "POST /upload HTTP/1.1\r\nHost: echo.example\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
			want: []int{200, 403}, served: []string{"POST /upload"}},
		{name: "chunked body hiding a request", first: "POST /upload HTTP/1.1\r\nHost: echo.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			want: []int{200, 403}, served: []string{"POST /upload"}},
		{name: "upgrade header", first: "GET /chat HTTP/1.1\r\nHost: echo.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			want: []int{200, 403}, served: []string{"GET /chat"}},
		{name: "CL and TE", first: "POST /x HTTP/1.1\r\nHost: echo.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: []int{400}},
		{name: "HTTP/1.2", first: "GET /x HTTP/1.2\r\nHost: echo.example\r\n\r\n", want: []int{505}},
		{name: "obs-fold", first: "GET /x HTTP/1.1\r\nHost: echo.example\r\nX-Long: a\r\n b\r\n\r\n", want: []int{400}},
		{name: "TE not last", first: "POST /x HTTP/1.1\r\nHost: echo.example\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", want: []int{400}},
		{name: "differing lengths", first: "POST /x HTTP/1.1\r\nHost: echo.example\r\nContent-Length: 0\r\nContent-Length: 51\r\n\r\n", want: []int{400}},
		{name: "NUL in a field", first: "GET /x HTTP/1.1\r\nHost: echo.example\r\nX: a\x00b\r\n\r\n", want: []int{400}},
		// The head was judged and forwarded; its body breaks the framing,
		// so the edge answers at once and ends the connection.
		{name: "bad chunk size", first: "POST /x HTTP/1.1\r\nHost: echo.example\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", want: []int{400}, headGoes: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			o := w.startRawOrigin(t, "echo.example", false)
			w.blockPath = blockAdmin("echo.example")
			w.startProxy(t, "acme", inspectAll)
			tc2, br := w.inspectedConn(t, "echo.example")
			io.WriteString(tc2, tc.first+secret)
			got, _ := readStatuses(br, 3)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("statuses %v, want %v", got, tc.want)
			}
			if served := o.served(); !tc.headGoes && len(served)+len(tc.served) > 0 && !reflect.DeepEqual(served, tc.served) {
				t.Fatalf("the origin served %v, want %v", served, tc.served)
			}
			if strings.Contains(strings.ToLower(o.received()), "admin") {
				t.Fatalf("the blocked request reached the origin:\n%q", o.received())
			}
			if len(tc.served) == 0 && !tc.headGoes && o.received() != "" {
				t.Fatalf("a refused request reached the origin:\n%q", o.received())
			}
			status := tc.want[len(tc.want)-1]
			w.waitLog(t, `"status":`+itoa(status))
		})
	}
}

// TestH1URLVariants is the finding 4: each way of writing the
// blocked URL gets a 403 (or the framing refusal), and nothing reaches
// the origin. The path cases rest on policy.ParseRequest's normalisation.
func TestH1URLVariants(t *testing.T) {
	cases := []struct {
		name, req string
		status    int
	}{
		{"host with default port", "GET /admin HTTP/1.1\r\nHost: echo.example:443\r\n\r\n", 403},
		{"host in upper case with a dot", "GET /admin HTTP/1.1\r\nHost: ECHO.example.\r\n\r\n", 403},
		{"absolute form", "GET https://echo.example/admin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 403},
		{"absolute form without Host agreeing", "GET https://echo.example/admin HTTP/1.1\r\nHost: other.example\r\n\r\n", 400},
		{"absolute form of another scheme", "GET http://echo.example/admin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 400},
		{"upper case", "GET /ADMIN HTTP/1.1\r\nHost: echo.example\r\n\r\n", 403},
		{"double slash", "GET //admin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 403},
		{"dot segment", "GET /./admin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 403},
		{"percent-encoded", "GET /%61dmin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 403},
		// A ".." that removes a segment is refused as a request no client
		// sends (policy.ParseRequest), before any rule is asked.
		{"dot-dot segment", "GET /x/../admin HTTP/1.1\r\nHost: echo.example\r\n\r\n", 400},
		{"head over 16 KiB", "GET /admin HTTP/1.1\r\nHost: echo.example\r\nX-Pad: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", 431},
		{"bare LF", "GET /admin HTTP/1.1\nHost: echo.example\n\n", 400},
		{"upgrade to the blocked path", "GET /admin/ws HTTP/1.1\r\nHost: echo.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 403},
		{"CONNECT inside", "CONNECT echo.example:443 HTTP/1.1\r\nHost: echo.example:443\r\n\r\n", 405},
		{"empty Host", "GET /admin HTTP/1.1\r\nHost:\r\n\r\n", 400},
		{"two Hosts", "GET /admin HTTP/1.1\r\nHost: other.example\r\nHost: echo.example\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			o := w.startRawOrigin(t, "echo.example", false)
			w.blockPath = blockAdmin("echo.example")
			w.startProxy(t, "acme", inspectAll)
			tc2, br := w.inspectedConn(t, "echo.example")
			io.WriteString(tc2, tc.req)
			got, _ := readStatuses(br, 2)
			if len(got) != 1 || got[0] != tc.status {
				t.Fatalf("statuses %v, want [%d]", got, tc.status)
			}
			if r := o.received(); r != "" {
				t.Fatalf("the refused request reached the origin:\n%q", r)
			}
			w.waitLog(t, `"status":`+itoa(tc.status))
		})
	}
}

// TestH1AllowedTrafficFlows: what is not blocked still works, pipelined,
// with bodies of both framings and Expect: 100-continue.
func TestH1AllowedTrafficFlows(t *testing.T) {
	w := newWorld(t)
	o := w.startRawOrigin(t, "echo.example", false)
	w.blockPath = blockAdmin("echo.example")
	w.startProxy(t, "acme", inspectAll)
	tc, br := w.inspectedConn(t, "echo.example")
	io.WriteString(tc, "GET /a HTTP/1.1\r\nHost: echo.example\r\n\r\n"+
		"POST /b HTTP/1.1\r\nHost: echo.example\r\nContent-Length: 5\r\n\r\nhello"+
		"POST /c HTTP/1.1\r\nHost: echo.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"PUT /d HTTP/1.1\r\nHost: echo.example\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"+
		"GET /e HTTP/1.1\r\nHost: echo.example\r\nConnection: close\r\n\r\n")
	got, _ := readStatuses(br, 6)
	if want := []int{200, 200, 200, 200, 200}; !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if want := []string{"GET /a", "POST /b", "POST /c", "PUT /d", "GET /e"}; !reflect.DeepEqual(o.served(), want) {
		t.Fatalf("the origin served %v, want %v", o.served(), want)
	}
	w.waitLog(t, `"url":"https://echo.example/c"`, `"status":200`)
	w.waitLog(t, `"url":"https://echo.example/e"`, `"status":200`)
}

// TestH1ResponseDesync: an origin that answers one request twice has the
// connection ended; the extra response never reaches the client.
func TestH1ResponseDesync(t *testing.T) {
	w := newWorld(t)
	o := w.startRawOrigin(t, "echo.example", false)
	o.twice = true
	w.startProxy(t, "acme", inspectAll)
	tc, br := w.inspectedConn(t, "echo.example")
	io.WriteString(tc, "GET /one HTTP/1.1\r\nHost: echo.example\r\n\r\n")
	statuses, bodies := readStatuses(br, 1)
	if !reflect.DeepEqual(statuses, []int{200}) || bodies[0] != "ok" {
		t.Fatalf("first answer: %v %q", statuses, bodies)
	}
	rest, err := io.ReadAll(br)
	if strings.Contains(string(rest), "smuggled") {
		t.Fatalf("the extra response reached the client: %q (%v)", rest, err)
	}
	if _, err := io.WriteString(tc, "GET /two HTTP/1.1\r\nHost: echo.example\r\n\r\n"); err == nil {
		if statuses, _ := readStatuses(br, 1); len(statuses) != 0 {
			t.Fatalf("the connection went on after the desync: %v", statuses)
		}
	}
	w.waitLog(t, `"url":"https://echo.example/one"`)
}

// TestH1PipelineBounded: against an origin that reads requests and never
// answers, a client's pipeline stops at the bound: the requests beyond it
// never reach the origin, and the first of them is logged as refused.
func TestH1PipelineBounded(t *testing.T) {
	w := newWorld(t)
	o := w.startRawOrigin(t, "echo.example", false)
	o.silent = true
	w.startProxy(t, "acme", inspectAll)
	tc, _ := w.inspectedConn(t, "echo.example")
	var pipeline strings.Builder
	for i := range 200 {
		fmt.Fprintf(&pipeline, "GET /r%d HTTP/1.1\r\nHost: echo.example\r\n\r\n", i)
	}
	io.WriteString(tc, pipeline.String())
	line := w.waitLog(t, `"status":429`, `"url":"https://echo.example/r64"`)
	time.Sleep(200 * time.Millisecond)
	if n := len(o.served()); n != 64 {
		t.Errorf("the silent origin received %d requests, want the 64 of the bound (%s)", n, line)
	}
}

// TestH1UpgradeOpaqueOnlyAfter101: an Upgrade request that the origin
// declines leaves the connection framed, so a blocked request after it
// is still refused.
func TestH1UpgradeOpaqueOnlyAfter101(t *testing.T) {
	w := newWorld(t)
	o := w.startRawOrigin(t, "echo.example", false)
	w.blockPath = blockAdmin("echo.example")
	w.startProxy(t, "acme", inspectAll)
	tc, br := w.inspectedConn(t, "echo.example")
	io.WriteString(tc, "GET /chat HTTP/1.1\r\nHost: echo.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if got, _ := readStatuses(br, 1); !reflect.DeepEqual(got, []int{200}) {
		t.Fatalf("declined upgrade: %v", got)
	}
	io.WriteString(tc, secret)
	if got, _ := readStatuses(br, 2); !reflect.DeepEqual(got, []int{403}) {
		t.Fatalf("after the declined upgrade: %v", got)
	}
	if strings.Contains(o.received(), "admin") {
		t.Fatal("the blocked request reached the origin")
	}
}

// TestH1PlainHTTPURLRules is the finding 7: plain http:// requests
// are judged by URL rules before anything is dialled, their bodies are
// framed, and a pipelined request is never forwarded unjudged.
func TestH1PlainHTTPURLRules(t *testing.T) {
	w := newWorld(t)
	o := w.startRawOrigin(t, "plain.example", true)
	w.blockPath = blockAdmin("plain.example")
	w.startProxy(t, "acme", inspectAll)
	send := func(req string) ([]int, []string) {
		c, err := net.Dial("tcp", w.proxy.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(pmIOTimeout))
		io.WriteString(c, req)
		return readStatuses(bufio.NewReader(c), 3)
	}
	if got, _ := send("GET http://plain.example/admin/x HTTP/1.1\r\nHost: plain.example\r\n\r\n"); !reflect.DeepEqual(got, []int{403}) {
		t.Fatalf("blocked plain request: %v", got)
	}
	if got, _ := send("GET http://plain.example/%61dmin HTTP/1.1\r\nHost: plain.example\r\n\r\n"); !reflect.DeepEqual(got, []int{403}) {
		t.Fatalf("blocked plain request, percent-encoded: %v (waits on policy.ParseRequest's normalisation)", got)
	}
	if got, _ := send("GET http://plain.example/admin HTTP/1.1\r\nHost: other.example\r\n\r\n"); !reflect.DeepEqual(got, []int{400}) {
		t.Fatalf("plain request whose Host disagrees: %v", got)
	}
	o.mu.Lock()
	accepts := o.accepts
	o.mu.Unlock()
	if accepts != 0 || o.received() != "" {
		t.Fatalf("refused plain requests reached the origin (%d connections): %q", accepts, o.received())
	}
	got, bodies := send("POST http://plain.example/up HTTP/1.1\r\nHost: plain.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET http://plain.example/admin HTTP/1.1\r\nHost: plain.example\r\n\r\n")
	if len(got) == 0 || got[0] != 200 || bodies[0] != "ok" {
		t.Fatalf("allowed plain POST then a pipelined blocked one: %v %q", got, bodies)
	}
	if len(got) > 1 && got[1] < 400 {
		t.Fatalf("the pipelined request was answered %d", got[1])
	}
	if r := o.received(); strings.Contains(r, "admin") || !strings.Contains(r, "3\r\nabc\r\n0\r\n\r\n") || strings.Contains(r, "other.example") {
		t.Fatalf("the origin received:\n%q", r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
