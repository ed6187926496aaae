// Package accesslog writes one JSON line per request the edge relays:
// who asked (organisation, user, client address), for what (SNI, method,
// URL), what happened (status, bytes, the policy decision, both TLS
// sessions, the origin certificate's verification) and how long it took.
//
// Lines are encoded by hand into a buffer the Logger reuses, so a line
// costs no allocation; BenchmarkLog and BenchmarkEncodingJSON compare it
// with encoding/json. An Entry has no field for headers or bodies, and
// Log strips userinfo from URLs, so credentials never reach the log.
package accesslog

import (
	"crypto/tls"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Entry is one request.
type Entry struct {
	Time     time.Time // when the request arrived; written in UTC
	Org      string
	User     string
	Client   string // the client's address, host:port
	SNI      string
	Method   string
	URL      string // userinfo is removed when written
	Status   int
	BytesIn  int64 // from the client
	BytesOut int64 // to the client
	Decision string
	Rule     string // the policy rule behind Decision
	// TLSClient and TLSUpstream describe the two TLS sessions; zero when
	// there is none (plain HTTP, or a bypassed tunnel's upstream side).
	TLSClient   TLSInfo
	TLSUpstream TLSInfo
	// UpstreamVerify is "" when the origin's certificate verified, else
	// why it did not.
	UpstreamVerify string
	Duration       time.Duration
}

// TLSInfo describes one TLS session.
type TLSInfo struct {
	Version uint16 // tls.VersionTLS13, …; 0 when unknown
	Suite   uint16 // tls.TLS_AES_128_GCM_SHA256, …; 0 when unknown
	JA4     string // the client's fingerprint; only for the client side
	// Resumed: the client's handshake resumed a session from a ticket
	// (RFC 8446 §2.2); only for the client side.
	Resumed bool
}

// Logger writes entries to an io.Writer, one Write per line. It is safe
// for use by many goroutines; lines are written whole and in turn.
type Logger struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	c   io.Closer // set when the Logger opened the file
}

// New returns a Logger that writes to w.
func New(w io.Writer) *Logger {
	return &Logger{w: w, buf: make([]byte, 0, 1024)}
}

// Open returns a Logger for a configured destination: "" for none (a nil
// Logger, whose Log does nothing), "-" for standard output, or a file
// that lines are appended to.
func Open(dest string) (*Logger, error) {
	switch dest {
	case "":
		return nil, nil
	case "-":
		return New(os.Stdout), nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	l := New(f)
	l.c = f
	return l, nil
}

// Close closes the file Open opened; for other Loggers it does nothing.
func (l *Logger) Close() error {
	if l == nil || l.c == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Close()
}

// Log writes e as one line. A nil Logger writes nothing.
func (l *Logger) Log(e *Entry) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = AppendEntry(l.buf[:0], e)
	_, err := l.w.Write(l.buf)
	if cap(l.buf) > 64<<10 {
		l.buf = make([]byte, 0, 1024) // one huge URL does not pin memory
	}
	return err
}

// AppendEntry appends e to dst as a JSON object and a newline.
func AppendEntry(dst []byte, e *Entry) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "org", e.Org)
	dst = appendField(dst, "user", e.User)
	dst = appendField(dst, "client", e.Client)
	dst = appendField(dst, "sni", e.SNI)
	dst = appendField(dst, "method", e.Method)
	dst = append(dst, `,"url":`...)
	dst = appendString(dst, stripUserinfo(e.URL))
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
	return appendString(dst, v)
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
		return appendString(dst, name)
	}
	if v == 0 {
		return append(dst, `""`...)
	}
	return append(dst, '"', '0', 'x', hex[v>>12], hex[v>>8&0xf], hex[v>>4&0xf], hex[v&0xf], '"')
}

// stripUserinfo removes "user:password@" from a URL's authority.
func stripUserinfo(u string) string {
	const sep = "://"
	i := 0
	for ; i+len(sep) <= len(u); i++ {
		if u[i:i+len(sep)] == sep {
			break
		}
		if u[i] == '/' || u[i] == '?' {
			return u // no scheme: origin-form
		}
	}
	if i+len(sep) > len(u) {
		return u
	}
	start := i + len(sep)
	for j := start; j < len(u); j++ {
		switch u[j] {
		case '/', '?', '#':
			return u
		case '@':
			return u[:start] + u[j+1:]
		}
	}
	return u
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, and U+2028 and U+2029 (which break JavaScript
// readers of JSON lines), are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
