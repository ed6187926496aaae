package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAppendEntry feeds hostile strings to the line formatter. Property:
// the output is exactly one line of one JSON object with the fields of a
// line and no others, within MaxLine; the fields that are not cut decode
// to what went in; the URL holds only bytes that stand in a URL; and with
// values redacted, every query part is <redacted> or name=<redacted>.
func FuzzAppendEntry(f *testing.F) {
	f.Add("GET", "https://h/p?password=x&q=y", "h", "x509: bad", 200, false)
	f.Add("GET", "/a\r\n{\"forged\":1}", "a\"b", "", 403, false)
	f.Add("CONNECT", "h:443", "\xff\xfe", "\u2028", 0, true)
	f.Add("\x00", "http://u:p@h?a&b=&=c#d", "", "\\", -1, false)
	f.Fuzz(func(t *testing.T, method, url, sni, verify string, status int, queryValues bool) {
		e := sample()
		e.Method, e.URL, e.SNI, e.UpstreamVerify, e.Status = method, url, sni, verify, status
		line := appendEntry(nil, e, queryValues)
		if len(line) > MaxLine || bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not one bounded line (%d bytes): %q", len(line), line)
		}
		var d decoded
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%v in %q", err, line)
		}
		if d.Status != status || d.Org != e.Org || d.Time != "2026-03-01T11:30:45.123456789Z" {
			t.Fatalf("fixed fields changed: %+v", d)
		}
		for _, f := range []struct{ in, out string }{{method, d.Method}, {sni, d.SNI}, {verify, d.UpstreamVerify}} {
			if want := strings.ToValidUTF8(f.in, "\ufffd"); f.out != want && !strings.HasSuffix(f.out, "…") {
				// ToValidUTF8 merges runs of bad bytes; the encoder writes one
				// U+FFFD per byte, so compare without them.
				if strings.ReplaceAll(f.out, "\ufffd", "") != strings.ReplaceAll(want, "\ufffd", "") {
					t.Fatalf("%q decoded as %q", f.in, f.out)
				}
			}
		}
		u := strings.TrimSuffix(d.URL, "…")
		for i := 0; i < len(u); i++ {
			if u[i] <= ' ' || u[i] >= 0x7f {
				t.Fatalf("URL field holds byte %#x: %q", u[i], d.URL)
			}
		}
		if _, q, ok := strings.Cut(u, "?"); ok && !queryValues && len(d.URL) == len(u) {
			for _, part := range strings.Split(q, "&") {
				if part != "" && part != redacted && !strings.HasSuffix(part, "="+redacted) {
					t.Fatalf("query part %q not redacted in %q", part, d.URL)
				}
			}
		}
	})
}
