package accesslog

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func sample() *Entry {
	return &Entry{
		Time:     time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
		Org:      "acme",
		User:     "alice",
		Client:   "192.0.2.7:51234",
		SNI:      "www.example.com",
		Method:   "GET",
		URL:      "https://www.example.com/search?q=tls",
		Status:   200,
		BytesIn:  512,
		BytesOut: 48213,
		Decision: "inspect",
		Rule:     "default",
		TLSClient: TLSInfo{
			Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256,
			JA4: "t13d1516h2_8daaf6152771_02713d6af862",
		},
		TLSUpstream: TLSInfo{Version: tls.VersionTLS12, Suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		Duration:    12345678 * time.Nanosecond,
	}
}

func TestAppendEntryGolden(t *testing.T) {
	got := string(AppendEntry(nil, sample()))
	want := `{"time":"2026-03-01T11:30:45.123456789Z","org":"acme","user":"alice","client":"192.0.2.7:51234",` +
		`"sni":"www.example.com","method":"GET","url":"https://www.example.com/search?q=<redacted>","status":200,` +
		`"bytes_in":512,"bytes_out":48213,"decision":"inspect","rule":"default",` +
		`"tls_client":{"version":"TLS1.3","suite":"TLS_AES_128_GCM_SHA256","ja4":"t13d1516h2_8daaf6152771_02713d6af862"},` +
		`"tls_upstream":{"version":"TLS1.2","suite":"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},` +
		`"upstream_verify":"","duration_ms":12.345}` + "\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// decoded mirrors a line for encoding/json.
type decoded struct {
	Time           string  `json:"time"`
	Org            string  `json:"org"`
	User           string  `json:"user"`
	Client         string  `json:"client"`
	SNI            string  `json:"sni"`
	Method         string  `json:"method"`
	URL            string  `json:"url"`
	Status         int     `json:"status"`
	BytesIn        int64   `json:"bytes_in"`
	BytesOut       int64   `json:"bytes_out"`
	Decision       string  `json:"decision"`
	Rule           string  `json:"rule"`
	TLSClient      tlsJSON `json:"tls_client"`
	TLSUpstream    tlsJSON `json:"tls_upstream"`
	UpstreamVerify string  `json:"upstream_verify"`
	DurationMS     float64 `json:"duration_ms"`
}

type tlsJSON struct {
	Version string `json:"version"`
	Suite   string `json:"suite"`
	JA4     string `json:"ja4,omitempty"`
}

func TestEntryFields(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Entry)
		check func(decoded) bool
	}{
		{"userinfo removed", func(e *Entry) { e.URL = "http://bob:hunter2@example.com/x" },
			func(d decoded) bool { return d.URL == "http://example.com/x" }},
		{"@ in path kept", func(e *Entry) { e.URL = "http://example.com/u/@me?x=a@b" },
			func(d decoded) bool { return d.URL == "http://example.com/u/@me?x=<redacted>" }},
		{"origin-form kept", func(e *Entry) { e.URL = "/a@b" },
			func(d decoded) bool { return d.URL == "/a@b" }},
		{"userinfo without path", func(e *Entry) { e.URL = "http://u:p@h" },
			func(d decoded) bool { return d.URL == "http://h" }},
		{"quotes and controls", func(e *Entry) { e.UpstreamVerify = "x509: \"bad\"\n\tname\\ \x01\x7f" },
			func(d decoded) bool { return d.UpstreamVerify == "x509: \"bad\"\n\tname\\ \x01\x7f" }},
		{"invalid UTF-8", func(e *Entry) { e.SNI = "a\xffb\xc3" },
			func(d decoded) bool { return d.SNI == "a\ufffdb\ufffd" }},
		{"line separators", func(e *Entry) { e.UpstreamVerify = "/\u2028\u2029é" },
			func(d decoded) bool { return d.UpstreamVerify == "/\u2028\u2029é" }},
		{"non-ASCII in the URL", func(e *Entry) { e.URL = "/\u2028\u2029é" },
			func(d decoded) bool { return d.URL == "/%E2%80%A8%E2%80%A9%C3%A9" }},
		{"no TLS", func(e *Entry) { e.TLSClient, e.TLSUpstream = TLSInfo{}, TLSInfo{} },
			func(d decoded) bool { return d.TLSClient == tlsJSON{} && d.TLSUpstream == tlsJSON{} }},
		{"unknown code points", func(e *Entry) { e.TLSUpstream = TLSInfo{Version: 0x7f1c, Suite: 0xcafe} },
			func(d decoded) bool { return d.TLSUpstream.Version == "0x7f1c" && d.TLSUpstream.Suite == "0xcafe" }},
		{"negative and big numbers", func(e *Entry) { e.Status, e.BytesOut = -1, 1<<62 },
			func(d decoded) bool { return d.Status == -1 && d.BytesOut == 1<<62 }},
		{"zero duration", func(e *Entry) { e.Duration = 0 },
			func(d decoded) bool { return d.DurationMS == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := sample()
			tc.edit(e)
			line := AppendEntry(nil, e)
			var d decoded
			if err := json.Unmarshal(line, &d); err != nil {
				t.Fatalf("%v in %s", err, line)
			}
			if !tc.check(d) {
				t.Fatalf("unexpected line %s", line)
			}
		})
	}
}

func TestLoggerConcurrent(t *testing.T) {
	var buf syncBuffer
	l := New(&buf)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			e := sample()
			e.User = strings.Repeat("u", w*100)
			for range each {
				if err := l.Log(e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf.b)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var d decoded
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		n++
	}
	if n != workers*each {
		t.Fatalf("%d lines, want %d", n, workers*each)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestOpen(t *testing.T) {
	l, err := Open("")
	if err != nil || l != nil {
		t.Fatalf("Open(\"\") = %v, %v", l, err)
	}
	if err := l.Log(sample()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err := Open("-"); err != nil || l.w != os.Stdout {
		t.Fatalf("Open(-) = %v, %v", l, err)
	}
	path := filepath.Join(t.TempDir(), "access.json")
	for range 2 { // the second Open appends
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Log(sample()); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Fatalf("%d lines in the file, want 2", n)
	}
}

func TestLogAllocs(t *testing.T) {
	l := New(discard{})
	e := sample()
	if n := testing.AllocsPerRun(100, func() { _ = l.Log(e) }); n != 0 {
		t.Fatalf("Log allocates %v times", n)
	}
}

// discard is io.Discard without io.Discard's special cases.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f\x7f", "\xff\xfe", "é\u2028\u2029\U0001F600", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s, 6*len(s)+6) // room for every byte escaped: no cut
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes as invalid JSON %s: %v", s, b, err)
		}
		// Each byte of invalid UTF-8 becomes one U+FFFD.
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += size
		}
		if got != want.String() {
			t.Fatalf("%q round-trips as %q, want %q", s, got, want.String())
		}
	})
}

func BenchmarkLog(b *testing.B) {
	l := New(discard{})
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Log(e)
	}
}

// BenchmarkEncodingJSON is the baseline the hand-written encoder replaced:
// the same line through encoding/json.
func BenchmarkEncodingJSON(b *testing.B) {
	e := sample()
	d := decoded{
		Time: e.Time.UTC().Format(time.RFC3339Nano), Org: e.Org, User: e.User, Client: e.Client,
		SNI: e.SNI, Method: e.Method, URL: e.URL, Status: e.Status, BytesIn: e.BytesIn, BytesOut: e.BytesOut,
		Decision: e.Decision, Rule: e.Rule,
		TLSClient:   tlsJSON{Version: "TLS1.3", Suite: "TLS_AES_128_GCM_SHA256", JA4: e.TLSClient.JA4},
		TLSUpstream: tlsJSON{Version: "TLS1.2", Suite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		DurationMS:  12.345,
	}
	enc := json.NewEncoder(discard{})
	b.ReportAllocs()
	for b.Loop() {
		_ = enc.Encode(&d)
	}
}
