package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// decodeLine checks that line is one JSON line and decodes it.
func decodeLine(t *testing.T, line []byte) decoded {
	t.Helper()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	var d decoded
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%v in %s", err, line)
	}
	return d
}

// Issue 12, finding 10: query strings carry secrets; values are redacted
// unless the organisation opts in, names and the raw path are kept.
func TestRedaction(t *testing.T) {
	for _, tc := range []struct{ url, want, kept string }{
		{"https://echo.example/login?password=hunter2&api_key=K3Y", "https://echo.example/login?password=<redacted>&api_key=<redacted>", ""},
		{"/search?q=tls", "/search?q=<redacted>", ""},
		{"/a?token", "/a?<redacted>", ""}, // a bare part may be the token itself
		{"/a?x=1#frag", "/a?x=<redacted>", ""},
		{"/a?=v&&y=", "/a?=<redacted>&&y=<redacted>", ""},
		{"/a?x=1=2&y", "/a?x=<redacted>&<redacted>", ""},
		{"/a?", "/a?", ""},
		{"/a%3Fb/../%2e/c?d=e", "/a%3Fb/../%2e/c?d=<redacted>", ""},
		{"http://u:secret@h:8080/x?t=1", "http://h:8080/x?t=<redacted>", ""},
		{"http://u:secret@h", "http://h", ""},
		{"/no/query", "/no/query", ""},
		{"/k?sig=a%20b&n=\xff", "/k?sig=<redacted>&n=<redacted>", ""},
		// A name is kept, escaped like the rest.
		{"/a?na\x00me=1", "/a?na%00me=<redacted>", ""},
	} {
		e := sample()
		e.URL = tc.url
		d := decodeLine(t, AppendEntry(nil, e))
		if d.URL != tc.want {
			t.Errorf("%q logged as %q, want %q", tc.url, d.URL, tc.want)
		}
		for _, secret := range []string{"hunter2", "K3Y", "secret", "frag", "tls"} {
			if strings.Contains(d.URL, secret) {
				t.Errorf("%q: %q is in the log", tc.url, secret)
			}
		}
	}
}

func TestQueryValuesOptIn(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, QueryValuesOf("lab"))
	for _, org := range []string{"acme", "lab"} {
		e := sample()
		e.Org, e.URL = org, "http://u:p@h/x?q=1&debug"
		if err := l.Log(e); err != nil {
			t.Fatal(err)
		}
	}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	if acme := decodeLine(t, lines[0]); acme.URL != "http://h/x?q=<redacted>&<redacted>" {
		t.Errorf("acme (no opt-in): %q", acme.URL)
	}
	if lab := decodeLine(t, lines[1]); lab.URL != "http://h/x?q=1&debug" {
		t.Errorf("lab (log_query_values): %q, want the values and no userinfo", lab.URL)
	}
}

// A hostile target must not forge a line or a field: control bytes,
// quotes, spaces and bytes that are not UTF-8 are escaped, and the field
// shows them byte for byte.
func TestHostileTargets(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"/a\r\n{\"time\":\"forged\"}", `/a%0D%0A{"time":"forged"}`},
		{"/a\n", "/a%0A"},
		{`/","status":200,"decision":"bypass`, `/","status":200,"decision":"bypass`},
		{"/a b\tc", "/a%20b%09c"},
		{"/\x00\x1b[31m\x7f", "/%00%1B[31m%7F"},
		{"/\xff\xfe\xc3", "/%FF%FE%C3"},
		{"/é\u2028", "/%C3%A9%E2%80%A8"},
		{`/back\slash\"`, `/back\slash\"`},
		{"/…", "/%E2%80%A6"}, // the cut mark cannot come from the target
	} {
		e := sample()
		e.URL, e.Status, e.Decision = tc.url, 403, "block"
		d := decodeLine(t, AppendEntry(nil, e))
		if d.URL != tc.want || d.Status != 403 || d.Decision != "block" || d.Time != "2026-03-01T11:30:45.123456789Z" {
			t.Errorf("%q: url %q status %d decision %q time %q; want url %q", tc.url, d.URL, d.Status, d.Decision, d.Time, tc.want)
		}
	}
	// Other fields are JSON-escaped the same way.
	e := sample()
	e.SNI, e.Method, e.UpstreamVerify = "a\"\n,\"org\":\"x", "GET\r\nX", "x509: \"evil\"\n"
	d := decodeLine(t, AppendEntry(nil, e))
	if d.SNI != e.SNI || d.Method != e.Method || d.UpstreamVerify != e.UpstreamVerify || d.Org != "acme" {
		t.Errorf("escaped fields changed: %+v", d)
	}
}

func TestLineBounded(t *testing.T) {
	huge := strings.Repeat("\x01", 100000)
	e := &Entry{Org: huge, User: huge, Client: huge, SNI: huge, Method: huge, URL: "/" + huge, Decision: huge, Rule: huge,
		UpstreamVerify: huge, TLSClient: TLSInfo{JA4: huge}, Status: -1 << 31, BytesIn: -1 << 63, BytesOut: -1 << 63}
	line := AppendEntry(nil, e)
	if len(line) > MaxLine {
		t.Fatalf("a line of %d bytes, bound %d", len(line), MaxLine)
	}
	d := decodeLine(t, line)
	if !strings.HasSuffix(d.URL, "%01…") || !strings.HasSuffix(d.SNI, "\x01…") {
		t.Errorf("cut values not marked: url …%q sni …%q", d.URL[len(d.URL)-8:], d.SNI[len(d.SNI)-8:])
	}
	// A cut never splits an escape or a character.
	e = sample()
	e.URL = "/" + strings.Repeat("é", 5000)
	e.SNI = strings.Repeat("\U0001F600", 1000)
	d = decodeLine(t, AppendEntry(nil, e))
	if strings.Contains(d.SNI, "\ufffd") || !strings.HasSuffix(strings.TrimSuffix(d.URL, "…"), "%C3%A9") {
		t.Errorf("a cut split a character: sni …%q url …%q", d.SNI[len(d.SNI)-8:], d.URL[len(d.URL)-8:])
	}
}
