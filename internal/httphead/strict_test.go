package httphead

import (
	"errors"
	"strings"
	"testing"
)

// smuggling are request heads a lenient parser and a strict one would
// read differently; each is refused with its status.
var smuggling = []struct {
	name, in string
	status   int
}{
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
	{"bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
	{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400},
	{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},
	{"CTL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400},
	{"NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\x00: b\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", 400},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
	{"TE not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"TE chunked first", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE empty element", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", 400},
	{"TE look-alike", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
	{"TE quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400},
	{"CL same list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
	{"CL signed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
	{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
	{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CTL in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"high byte in target", "GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	{"two equal Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},
	{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", MaxFields) + "\r\n", 431},
	{"head over 16 KiB", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", MaxHead) + "\r\n\r\n", 431},
}

func TestParseRefusesAmbiguousHeads(t *testing.T) {
	for _, tc := range smuggling {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := Parse([]byte(tc.in))
			var he *Error
			if !errors.As(err, &he) || he.Status != tc.status || n != 0 {
				t.Fatalf("err = %v, n = %d, want status %d", err, n, tc.status)
			}
			// The proxy's first request is as strict.
			_, _, err = ParseProxyRequest([]byte(strings.Replace(tc.in, " / ", " http://a/ ", 1)))
			if !errors.As(err, &he) || he.Status != tc.status {
				t.Fatalf("ParseProxyRequest: err = %v, want status %d", err, tc.status)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name, in                 string
		chunked, upgrade, expect bool
		length                   int64
	}{
		{name: "gzip then chunked", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", chunked: true, length: -1},
		{name: "chunked case", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", chunked: true, length: -1},
		{name: "equal CL twice", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", length: 5},
		{name: "upgrade", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", upgrade: true, length: -1},
		{name: "upgrade ignored in 1.0", in: "GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", length: -1},
		{name: "expect", in: "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", expect: true, length: 3},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\t!\r\n\r\n", length: -1},
		{name: "HTTP/1.0 without Host", in: "GET / HTTP/1.0\r\n\r\n", length: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse([]byte(tc.in))
			if err != nil || n != len(tc.in) {
				t.Fatalf("err = %v n = %d", err, n)
			}
			if h.Chunked != tc.chunked || h.Upgrade != tc.upgrade || h.Expect100 != tc.expect || h.ContentLength != tc.length {
				t.Fatalf("got %+v", h)
			}
		})
	}
}

func TestParseRefusesBareLFBeforeTheEnd(t *testing.T) {
	// A head that will never end in CRLF CRLF is refused at once, not
	// waited for.
	if _, _, err := Parse([]byte("GET / HTTP/1.1\nHost: a")); err != errBareLF {
		t.Fatalf("err = %v", err)
	}
}

// TestUpgradeUnjudged: an Upgrade to anything but websocket is marked for
// refusal (the connection would turn opaque on a protocol that carries
// requests, or one the edge cannot read); websocket alone is not.
func TestUpgradeUnjudged(t *testing.T) {
	for _, tc := range []struct {
		fields   string
		unjudged bool
	}{
		{"Upgrade: websocket\r\n", false},
		{"Upgrade: WebSocket\r\n", false},
		{"Upgrade: websocket, \r\n", false},
		{"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n", true},
		{"Upgrade: websocket, h2c\r\n", true},
		{"Upgrade: TLS/1.2\r\n", true},
		{"Upgrade: websocket\r\nUpgrade: h2c\r\n", true},
		{"Upgrade: \r\n", true},
		{"", false},
	} {
		for _, version := range []string{"HTTP/1.1", "HTTP/1.0"} {
			h, _, err := Parse([]byte("GET / " + version + "\r\nHost: a\r\nConnection: Upgrade\r\n" + tc.fields + "\r\n"))
			if err != nil {
				t.Fatalf("%q %s: %v", tc.fields, version, err)
			}
			if h.UpgradeUnjudged != tc.unjudged {
				t.Errorf("%q %s: UpgradeUnjudged %v, want %v", tc.fields, version, h.UpgradeUnjudged, tc.unjudged)
			}
		}
	}
}
