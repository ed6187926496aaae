package h2bridge

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

var validRequest = []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "/x"}

func with(extra ...string) []string { return append(append([]string(nil), validRequest...), extra...) }

// TestMalformedRequestsNeverReachOrigin plays a client that sends what RFC
// 9113 §8.2/§8.3 call malformed: each gets RST_STREAM PROTOCOL_ERROR, a
// log line, and the origin (a real HTTP/2 server) never sees it; the next
// stream on the connection is served as usual.
func TestMalformedRequestsNeverReachOrigin(t *testing.T) {
	cases := []struct {
		name   string
		fields []string
		end    bool   // END_STREAM on HEADERS
		data   string // DATA with END_STREAM after HEADERS
		late   bool   // found in the body, after the head went on
	}{
		{"connection", with("connection", "close"), true, "", false},
		{"keep-alive", with("keep-alive", "5"), true, "", false},
		{"proxy-connection", with("proxy-connection", "keep-alive"), true, "", false},
		{"transfer-encoding", with("transfer-encoding", "chunked"), true, "", false},
		{"upgrade", with("upgrade", "websocket"), true, "", false},
		{"te gzip", with("te", "gzip"), true, "", false},
		{"uppercase name", with("X-Admin", "1"), true, "", false},
		{"CR in value", with("x-a", "a\rb"), true, "", false},
		{"LF in value", with("x-a", "a\nGET /admin HTTP/1.1"), true, "", false},
		{"NUL in value", with("x-a", "a\x00b"), true, "", false},
		{"leading space", with("x-a", " a"), true, "", false},
		{"trailing tab", with("x-a", "a\t"), true, "", false},
		{"pseudo after regular", []string{":method", "GET", ":scheme", "https", "x-a", "1", ":authority", "echo.example", ":path", "/x"}, true, "", false},
		{"unknown pseudo", with(), true, "", false},
		{"duplicate path", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "/x", ":path", "/admin"}, true, "", false},
		{"missing method", []string{":scheme", "https", ":authority", "echo.example", ":path", "/x"}, true, "", false},
		{"missing scheme", []string{":method", "GET", ":authority", "echo.example", ":path", "/x"}, true, "", false},
		{"missing path", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example"}, true, "", false},
		{"empty path", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", ""}, true, "", false},
		{"relative path", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "admin"}, true, "", false},
		{"asterisk GET", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "*"}, true, "", false},
		{"space in path", []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "/x /admin"}, true, "", false},
		{"no authority nor host", []string{":method", "GET", ":scheme", "https", ":path", "/x"}, true, "", false},
		{"host disagrees", with("host", "blocked.example"), true, "", false},
		{"two hosts", []string{":method", "GET", ":scheme", "https", ":path", "/x", "host", "echo.example", "host", "blocked.example"}, true, "", false},
		{"userinfo", []string{":method", "GET", ":scheme", "https", ":authority", "user@echo.example", ":path", "/x"}, true, "", false},
		{":protocol not enabled", []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "echo.example", ":path", "/chat"}, true, "", false},
		{"CONNECT with path", []string{":method", "CONNECT", ":authority", "echo.example:443", ":path", "/x"}, true, "", false},
		{"content-length with END_STREAM", with("content-length", "5"), true, "", false},
		{"content-length short", with("content-length", "5"), false, "abc", true},
		{"content-length long", with("content-length", "2"), false, "abc", true},
		{"conflicting content-length", with("content-length", "2", "content-length", "3"), false, "ab", false},
		{"invalid content-length", with("content-length", "+2"), false, "ab", false},
	}
	cases[13].fields = []string{":method", "GET", ":scheme", "https", ":authority", "echo.example", ":path", "/x", ":admin", "1"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPump(t, Config{})
			o := &origin{}
			bodies := make(chan error, 4)
			o.serve(t, p.originConn, func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				bodies <- err
			})
			c := newRawClient(t, p.clientConn)
			c.headers(1, tc.end, tc.fields...)
			if tc.data != "" {
				c.send(func(fr *http2.Framer) error { return fr.WriteData(1, true, []byte(tc.data)) })
			}
			rst := c.waitFor(isRST(1)).(*http2.RSTStreamFrame)
			if rst.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", rst.ErrCode)
			}
			c.headers(3, true, validRequest...)
			h := c.waitFor(isResponse(3)).(*http2.MetaHeadersFrame)
			if h.PseudoValue("status") != "200" {
				t.Errorf("next stream: status %q", h.PseudoValue("status"))
			}
			if !h.StreamEnded() {
				c.waitFor(func(f http2.Frame) bool {
					return f.Header().StreamID == 3 && f.Header().Flags.Has(http2.FlagDataEndStream)
				})
			}
			want := []string{"GET echo.example /x"}
			if tc.late {
				// The head went on before the body could disagree with it;
				// the origin gets no more than content-length and a reset,
				// never a complete request.
				want = append(want, want[0])
				if err := <-bodies; err == nil {
					t.Error("origin read a complete body")
				}
			}
			if got := o.requests(); !slices.Equal(got, want) {
				t.Errorf("origin saw %q", got)
			}
			logs := p.streamLogs()
			if len(logs) != 2 || logs[0].StreamID != 1 || logs[0].Reset == "" {
				t.Errorf("logs %+v", logs)
			}
		})
	}
}

// TestPlainConnectRefused: a CONNECT inside an inspected connection would
// open a tunnel nobody inspects: 405, and the origin sees nothing.
func TestPlainConnectRefused(t *testing.T) {
	judged := false
	p := newPump(t, Config{Judge: func(*Request) Verdict { judged = true; return Verdict{Allow: true} }})
	o := &origin{}
	o.serve(t, p.originConn, echo)
	c := newRawClient(t, p.clientConn)
	c.headers(1, false, ":method", "CONNECT", ":authority", "10.0.0.1:22")
	h := c.waitFor(isResponse(1)).(*http2.MetaHeadersFrame)
	if h.PseudoValue("status") != "405" {
		t.Errorf("status %q", h.PseudoValue("status"))
	}
	c.send(func(fr *http2.Framer) error { return fr.WriteData(1, false, []byte("SSH-2.0-x\r\n")) })
	c.waitFor(isRST(1))
	if got := o.requests(); len(got) != 0 || judged {
		t.Errorf("origin saw %q, judged %v", got, judged)
	}
}

// TestHostAgreeingWithAuthority: a Host field equal to :authority (in any
// case) is fine; the request is judged on :authority.
func TestHostAgreeingWithAuthority(t *testing.T) {
	var seen string
	judge := func(r *Request) Verdict { seen = r.Authority; return Verdict{Allow: true} }
	_, cc, o := setup(t, Config{Judge: judge}, echo)
	req, _ := http.NewRequest("GET", "https://echo.example/a", nil)
	req.Host = "echo.example"
	resp, err := cc.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if seen != "echo.example" || len(o.requests()) != 1 {
		t.Errorf("judged %q, origin saw %q", seen, o.requests())
	}
}

// TestMalformedRequestLogged: a stream refused as malformed is logged with
// what it asked for as sent, even when the field at fault is :method.
func TestMalformedRequestLogged(t *testing.T) {
	d := newDirect(t, Config{})
	d.client(d.clientHeaders(1, true, ":method", "GET X", ":scheme", "https", ":authority", "echo.example", ":path", "/admin"))
	if len(d.logs) != 1 {
		t.Fatalf("%d log lines, want 1", len(d.logs))
	}
	l := d.logs[0]
	if l.Method != "GET X" || l.Authority != "echo.example" || l.Path != "/admin" || !strings.HasPrefix(l.Reset, "malformed request") {
		t.Errorf("log %+v", l)
	}
	if len(take(&d.toOrigin, http2.FrameHeaders)) != 0 {
		t.Error("the malformed request reached the origin")
	}
}
