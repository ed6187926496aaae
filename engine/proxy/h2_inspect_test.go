package proxy_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// h2Recorder is an HTTP/2 origin's record of what reached it.
type h2Recorder struct {
	mu   sync.Mutex
	seen []string // "host path" per request
	body []byte   // every request body, concatenated
}

func (r *h2Recorder) handler(rw http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.seen = append(r.seen, req.Host+" "+req.RequestURI)
	r.body = append(r.body, b...)
	r.mu.Unlock()
	io.WriteString(rw, "served "+req.RequestURI)
}

func (r *h2Recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestH2StreamsJudged is the finding 6: over HTTP/2 every stream
// is judged like an HTTP/1.1 request (the same URL rules on the
// normalised path, the strictest of the stream's :authority and the
// connection's names), a refused stream gets its status on that stream
// alone, and none of it reaches the origin.
func TestH2StreamsJudged(t *testing.T) {
	w := newWorld(t)
	rec := &h2Recorder{}
	w.pmStartOrigin(t, "h2.test", pmOrigin{h2Only: true, certNames: []string{"h2.test", "other.test"}, handler: http.HandlerFunc(rec.handler)})
	w.blockPath = blockAdmin("h2.test")
	w.startProxy(t, "acme", inspectAll)
	proxyURL, _ := url.Parse("http://" + w.proxy.Addr())
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: w.rootPool()}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()

	do := func(method, path, host string, body io.Reader) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://h2.test/", body)
		req.URL.Opaque = path // sent as written, not cleaned
		if host != "" {
			req.Host = host
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s (Host %q): %v", method, path, host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s %s: %s, want HTTP/2", method, path, resp.Proto)
		}
		return resp.StatusCode, string(b)
	}
	if status, body := do("GET", "/ok", "", nil); status != 200 || body != "served /ok" {
		t.Fatalf("allowed stream: %d %q", status, body)
	}
	cases := []struct {
		method, path, host string
		want               int
	}{
		{"GET", "/admin", "", 403},
		{"GET", "/ADMIN/panel", "", 403},
		{"GET", "/.//admin", "", 403},
		{"GET", "/%2Fadmin", "", 403},
		{"GET", "/./admin", "", 403},
		{"GET", "/%61dmin", "", 403},
		{"GET", "/admin;x=1", "", 403},
		{"GET", "/x/../admin", "", 400},
		// :authority names another host the origin's certificate covers;
		// the stream still goes to h2.test, whose rule holds.
		{"GET", "/admin", "other.test", 403},
		{"POST", "/admin/upload", "", 403},
	}
	for _, tc := range cases {
		var body io.Reader
		if tc.method == "POST" {
			body = strings.NewReader("secret-upload-body")
		}
		if status, page := do(tc.method, tc.path, tc.host, body); status != tc.want {
			t.Errorf("%s %s (:authority %q): %d %q, want %d", tc.method, tc.path, tc.host, status, page, tc.want)
		}
	}
	// The connection carries on after refused streams.
	if status, _ := do("GET", "/ok-after", "other.test", nil); status != 200 {
		t.Fatalf("allowed stream after refusals: %d", status)
	}
	got := rec.requests()
	want := []string{"h2.test /ok", "other.test /ok-after"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the origin received %q, want only %q", got, want)
	}
	if bytes.Contains(rec.body, []byte("secret-upload-body")) {
		t.Fatal("a refused stream's body reached the origin")
	}
	// Each stream has its own line: the refused ones with their rule.
	w.waitLog(t, `"method":"GET"`, `"url":"https://h2.test/ADMIN/panel"`, `"status":403`, `"rule":"admin-rule"`)
	w.waitLog(t, `"url":"https://h2.test/ok"`, `"status":200`)
	w.waitLog(t, `"url":"https://other.test/admin"`, `"status":403`)
}

// TestH2HostileClient: a client that breaks HTTP/2 gets GOAWAY and the
// connection ends; what it sent never reaches the origin.
func TestH2HostileClient(t *testing.T) {
	cases := []struct {
		name  string
		write func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)
	}{
		{"even stream ID", func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			h2Headers(fr, enc, hb, 2, "/smuggled")
		}},
		{"DATA on an idle stream", func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			fr.WriteData(5, true, []byte("GET /smuggled HTTP/1.1\r\n\r\n"))
		}},
		{"headers split without CONTINUATION", func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
			hb.Reset()
			for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "h2.test"}, {Name: ":path", Value: "/smuggled"}} {
				enc.WriteField(f)
			}
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: false})
			fr.WriteData(1, true, []byte("x"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := &h2Recorder{}
			w.pmStartOrigin(t, "h2.test", pmOrigin{h2Only: true, handler: http.HandlerFunc(rec.handler)})
			w.startProxy(t, "acme", inspectAll)
			raw := pmConnectOK(t, w.proxy.Addr(), "h2.test:443")
			defer raw.Close()
			tc2 := tls.Client(raw, &tls.Config{ServerName: "h2.test", RootCAs: w.rootPool(), NextProtos: []string{"h2"}})
			tc2.SetDeadline(time.Now().Add(pmIOTimeout))
			if err := tc2.Handshake(); err != nil {
				t.Fatal(err)
			}
			if p := tc2.ConnectionState().NegotiatedProtocol; p != "h2" {
				t.Fatalf("ALPN %q, want h2", p)
			}
			io.WriteString(tc2, http2.ClientPreface)
			fr := http2.NewFramer(tc2, tc2)
			fr.WriteSettings()
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			tc.write(fr, enc, &hb)
			var goaway *http2.GoAwayFrame
			for goaway == nil {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("the connection ended without GOAWAY: %v", err)
				}
				if g, ok := f.(*http2.GoAwayFrame); ok {
					goaway = g
				}
			}
			if goaway.ErrCode == http2.ErrCodeNo {
				t.Fatalf("GOAWAY %v, want an error code", goaway.ErrCode)
			}
			if _, err := io.Copy(io.Discard, tc2); err != nil && !strings.Contains(err.Error(), "EOF") {
				t.Logf("after GOAWAY: %v", err)
			}
			if got := rec.requests(); len(got) != 0 {
				t.Fatalf("the origin received %q", got)
			}
		})
	}
}

// h2Headers writes one complete GET request's HEADERS on stream id.
func h2Headers(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer, id uint32, path string) {
	hb.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "h2.test"}, {Name: ":path", Value: path}} {
		enc.WriteField(f)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
}

// TestH2BrowserPresets: each browser fingerprint negotiates HTTP/2
// through the edge with an h2 origin (the origin's choice, which the
// browser offered), its streams are judged one by one, and each stream
// has its own access-log line.
func TestH2BrowserPresets(t *testing.T) {
	w := newWorld(t)
	rec := &h2Recorder{}
	names := map[string]string{}
	var certNames []string
	for _, p := range tlstest.BrowserPresets {
		names[p.Name] = strings.ToLower(strings.TrimSuffix(p.Name, "_Auto")) + ".h2.test"
		certNames = append(certNames, names[p.Name])
	}
	w.pmStartOrigin(t, certNames[0], pmOrigin{h2Only: true, certNames: certNames, handler: http.HandlerFunc(rec.handler)})
	for _, n := range certNames[1:] {
		w.origins[n] = w.origins[certNames[0]]
	}
	w.blockPath = func(_, host, path string) (string, bool) { return "admin-rule", strings.HasPrefix(path, "/admin") }
	w.startProxy(t, "acme", inspectAll)
	for _, p := range tlstest.BrowserPresets {
		t.Run(p.Name, func(t *testing.T) {
			name := names[p.Name]
			raw := pmConnectOK(t, w.proxy.Addr(), name+":443")
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(pmIOTimeout))
			uc := utls.UClient(raw, &utls.Config{ServerName: name, RootCAs: w.rootPool()}, p.ID)
			if err := uc.Handshake(); err != nil {
				t.Fatalf("uTLS %s through the edge: %v", p.Name, err)
			}
			if alpn := uc.ConnectionState().NegotiatedProtocol; alpn != "h2" {
				t.Fatalf("ALPN %q, want h2 (the origin's choice)", alpn)
			}
			cc, err := (&http2.Transport{}).NewClientConn(uc)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			for _, tc := range []struct {
				path string
				want int
			}{{"/page", 200}, {"/admin/panel", 403}, {"/style.css", 200}} {
				req, _ := http.NewRequest("GET", "https://"+name+tc.path, nil)
				resp, err := cc.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s: %v", tc.path, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.want)
				}
				w.waitLog(t, `"sni":"`+name+`"`, `"url":"https://`+name+tc.path+`"`, `"status":`+strconv.Itoa(tc.want))
			}
			for _, seen := range rec.requests() {
				if strings.Contains(seen, "/admin") {
					t.Fatalf("a blocked stream reached the origin: %q", seen)
				}
			}
		})
	}
	if n := len(rec.requests()); n != 2*len(tlstest.BrowserPresets) {
		t.Errorf("the origin served %d requests, want %d", n, 2*len(tlstest.BrowserPresets))
	}
}
