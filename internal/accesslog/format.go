package accesslog

import (
	"crypto/tls"
	"strconv"
	"time"
	"unicode/utf8"
)

// Bounds on what one field and one line may hold: a hostile target or
// certificate name cannot make a line larger than a loop's buffer. A cut
// value ends in "…"; in the URL that mark cannot come from the target
// itself, whose non-ASCII bytes are all percent-encoded.
const (
	maxURL   = 8 << 10 // bytes of the encoded URL
	maxField = 1 << 10 // bytes of any other encoded string
	// MaxLine bounds a line: the URL, nine other strings and the fixed
	// part (under 1 KiB).
	MaxLine = maxURL + 9*maxField + 1<<10
)

const redacted = "<redacted>"

// AppendEntry appends e to dst as a JSON object and a newline, with the
// URL's query values redacted.
func AppendEntry(dst []byte, e *Entry) []byte { return appendEntry(dst, e, false) }

// appendEntry writes the line; queryValues keeps query values as they are.
func appendEntry(dst []byte, e *Entry, queryValues bool) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "org", e.Org)
	dst = appendField(dst, "user", e.User)
	dst = appendField(dst, "client", e.Client)
	dst = appendField(dst, "sni", e.SNI)
	dst = appendField(dst, "method", e.Method)
	dst = append(dst, `,"url":`...)
	dst = appendURL(dst, e.URL, queryValues)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, `,"bytes_in":`...)
	dst = strconv.AppendInt(dst, e.BytesIn, 10)
	dst = append(dst, `,"bytes_out":`...)
	dst = strconv.AppendInt(dst, e.BytesOut, 10)
	dst = appendField(dst, "decision", e.Decision)
	dst = appendField(dst, "rule", e.Rule)
	dst = append(dst, `,"tls_client":`...)
	dst = appendTLS(dst, &e.TLSClient, true)
	dst = append(dst, `,"tls_upstream":`...)
	dst = appendTLS(dst, &e.TLSUpstream, false)
	dst = appendField(dst, "upstream_verify", e.UpstreamVerify)
	dst = append(dst, `,"duration_ms":`...)
	dst = strconv.AppendFloat(dst, float64(e.Duration.Microseconds())/1000, 'f', -1, 64)
	return append(dst, "}\n"...)
}

func appendField(dst []byte, name, v string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, v, maxField)
}

func appendTLS(dst []byte, t *TLSInfo, ja4 bool) []byte {
	dst = append(dst, `{"version":`...)
	dst = appendName(dst, versionNames, t.Version)
	dst = append(dst, `,"suite":`...)
	dst = appendName(dst, suiteNames, t.Suite)
	if ja4 {
		dst = appendField(dst, "ja4", t.JA4)
		if t.Resumed {
			dst = append(dst, `,"resumed":true`...)
		}
	}
	return append(dst, '}')
}

var versionNames = map[uint16]string{
	tls.VersionTLS13: "TLS1.3",
	tls.VersionTLS12: "TLS1.2",
	tls.VersionTLS11: "TLS1.1",
	tls.VersionTLS10: "TLS1.0",
}

// suiteNames holds the IANA names of the cipher suites Go knows.
var suiteNames = func() map[uint16]string {
	m := make(map[uint16]string)
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			m[cs.ID] = cs.Name
		}
	}
	return m
}()

// appendName writes the name of a TLS code point, its number in hex when
// it has no name, or "" for 0.
func appendName(dst []byte, names map[uint16]string, v uint16) []byte {
	if name, ok := names[v]; ok {
		return appendString(dst, name, maxField)
	}
	if v == 0 {
		return append(dst, `""`...)
	}
	return append(dst, '"', '0', 'x', hex[v>>12], hex[v>>8&0xf], hex[v>>4&0xf], hex[v&0xf], '"')
}

// userinfo returns where "user:password@" starts and ends in u's authority,
// or (0, 0) when there is none.
func userinfo(u string) (start, end int) {
	const sep = "://"
	i := 0
	for ; i+len(sep) <= len(u); i++ {
		if u[i:i+len(sep)] == sep {
			break
		}
		if u[i] == '/' || u[i] == '?' {
			return 0, 0 // no scheme: origin-form
		}
	}
	if i+len(sep) > len(u) {
		return 0, 0
	}
	start = i + len(sep)
	for j := start; j < len(u); j++ {
		switch u[j] {
		case '/', '?', '#':
			return 0, 0
		case '@':
			return start, j + 1
		}
	}
	return 0, 0
}

// appendURL appends u as a JSON string: userinfo removed, the query's
// values replaced by <redacted> unless queryValues (names kept; a part
// without '=' may be a bare token, so it is redacted whole), and every
// byte that cannot stand in a URL as it is (controls, space, DEL,
// anything not ASCII, valid UTF-8 or not) percent-encoded, so the field
// shows a hostile target byte for byte and cannot end the line or the
// field early. The path is kept raw: no decoding, no normalising.
func appendURL(dst []byte, u string, queryValues bool) []byte {
	dst = append(dst, '"')
	w := urlWriter{dst: dst, limit: len(dst) + maxURL}
	if s, e := userinfo(u); e > 0 {
		w.raw(u[:s])
		u = u[e:]
	}
	path, query, hasQuery := cut(u, '?')
	w.raw(path)
	if hasQuery {
		w.raw("?")
		if queryValues {
			w.raw(query)
		} else {
			for i := 0; ; i++ {
				part, rest, more := cut(query, '&')
				if i > 0 {
					w.raw("&")
				}
				if name, _, ok := cut(part, '='); ok {
					w.raw(name)
					w.raw("=" + redacted)
				} else if part != "" {
					w.raw(redacted)
				}
				if !more {
					break
				}
				query = rest
			}
		}
	}
	if w.cut {
		w.dst = append(w.dst, "…"...)
	}
	return append(w.dst, '"')
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// urlWriter escapes URL bytes into dst up to limit.
type urlWriter struct {
	dst   []byte
	limit int
	cut   bool
}

func (w *urlWriter) raw(s string) {
	for i := 0; i < len(s) && !w.cut; i++ {
		c := s[i]
		n := 1
		switch {
		case c <= ' ' || c >= 0x7f:
			n = 3
		case c == '"' || c == '\\':
			n = 2
		}
		if len(w.dst)+n > w.limit {
			w.cut = true
			return
		}
		switch n {
		case 1:
			w.dst = append(w.dst, c)
		case 2:
			w.dst = append(w.dst, '\\', c)
		default:
			w.dst = append(w.dst, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
}

const (
	hex      = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// appendString appends s as a JSON string of at most limit bytes (then
// cut, ending in "…"). Invalid UTF-8 becomes U+FFFD; control characters,
// and U+2028 and U+2029 (which break JavaScript readers of JSON lines),
// are escaped.
func appendString(dst []byte, s string, limit int) []byte {
	dst = append(dst, '"')
	end := len(dst) + limit
	for i := 0; i < len(s); {
		c := s[i]
		var esc [6]byte
		unit := esc[:0]
		size := 1
		switch {
		case c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\':
			// Copy the run of plain bytes at once.
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
				j++
			}
			if len(dst)+(j-i) > end {
				j = i + end - len(dst)
				dst = append(dst, s[i:j]...)
				return append(append(dst, "…"...), '"')
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		case c == '"' || c == '\\':
			unit = append(unit, '\\', c)
		case c == '\n':
			unit = append(unit, '\\', 'n')
		case c == '\r':
			unit = append(unit, '\\', 'r')
		case c == '\t':
			unit = append(unit, '\\', 't')
		case c < 0x20:
			unit = append(unit, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				unit = append(unit, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				unit = append(unit, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				unit = append(unit, s[i:i+size]...)
			}
		}
		if len(dst)+len(unit) > end {
			return append(append(dst, "…"...), '"')
		}
		dst = append(dst, unit...)
		i += size
	}
	return append(dst, '"')
}
