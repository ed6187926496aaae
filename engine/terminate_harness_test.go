package engine_test

// Shared helpers for interop_test.go, negative_test.go and churn_test.go.
// Every identifier is prefixed with "iop" to avoid clashing with other
// engine_test files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/lucid-edge/lucid/engine"
)

const (
	iopBody       = "hello from lucid\n"
	iopIOTimeout  = 10 * time.Second
	recAlert      = 0x15
	recHandshake  = 0x16
	recAppData    = 0x17
	recCCS        = 0x14
	alertCloseNtf = 0
)

// iopServer wraps a running TerminateServer plus what a client needs to trust it.
type iopServer struct {
	srv  *engine.TerminateServer
	addr string
	port string
	leaf *x509.Certificate
	pool *x509.CertPool
	der  []byte
}

func iopStart(t testing.TB, cfg engine.TerminateConfig) *iopServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	srv, err := engine.StartTerminate(cfg)
	if err != nil {
		t.Fatalf("StartTerminate: %v", err)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Logf("Stop: %v", err)
		}
	}
	t.Cleanup(stop)
	cert := srv.Certificate()
	if cert == nil || len(cert.Chain) == 0 {
		t.Fatalf("server Certificate() is empty")
	}
	leaf, err := x509.ParseCertificate(cert.Chain[0])
	if err != nil {
		t.Fatalf("parse leaf: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	addr := srv.Addr()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("bad Addr() %q: %v", addr, err)
	}
	return &iopServer{srv: srv, addr: addr, port: port, leaf: leaf, pool: pool, der: cert.Chain[0]}
}

func iopStartDefault(t testing.TB) *iopServer {
	return iopStart(t, engine.TerminateConfig{Addr: "127.0.0.1:0", Loops: 2})
}

// pemFile writes the leaf as PEM into a temp dir (for openssl / curl).
func (s *iopServer) pemFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lucid-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.der})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *iopServer) goConfig() *tls.Config {
	return &tls.Config{ServerName: "localhost", RootCAs: s.pool, MinVersion: tls.VersionTLS13}
}

// iopRecConn records every byte read from the network.
type iopRecConn struct {
	net.Conn
	mu sync.Mutex
	in bytes.Buffer
}

func (c *iopRecConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *iopRecConn) received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.in.Bytes())
}

func iopDialTCP(t testing.TB, s *iopServer) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// iopDialGo performs a crypto/tls handshake; the raw conn records server bytes.
func iopDialGo(t testing.TB, s *iopServer, cfg *tls.Config) (*tls.Conn, *iopRecConn) {
	t.Helper()
	raw := iopDialTCP(t, s)
	rc := &iopRecConn{Conn: raw}
	c := tls.Client(rc, cfg)
	c.SetDeadline(time.Now().Add(iopIOTimeout))
	if err := c.Handshake(); err != nil {
		t.Fatalf("crypto/tls handshake: %v", err)
	}
	return c, rc
}

// iopRoundTrip writes req (raw HTTP) and reads one response, returning it with its body.
func iopRoundTrip(t testing.TB, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(iopIOTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	return iopReadResponse(t, br)
}

func iopReadResponse(t testing.TB, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

func iopCheckResp(t testing.TB, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d (%q), want 200", resp.StatusCode, resp.Status)
	}
	if body != iopBody {
		t.Errorf("body = %q, want %q", body, iopBody)
	}
	if resp.ContentLength != int64(len(iopBody)) {
		t.Errorf("Content-Length = %d, want %d", resp.ContentLength, len(iopBody))
	}
}

const iopReqClose = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
const iopReq = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

// iopCheckGood asserts that a plain crypto/tls client still gets a 200.
func iopCheckGood(t testing.TB, s *iopServer) {
	t.Helper()
	c, _ := iopDialGo(t, s, s.goConfig())
	defer c.Close()
	resp, body := iopRoundTrip(t, c, bufio.NewReader(c), iopReqClose)
	iopCheckResp(t, resp, body)
}

// ---------------------------------------------------------------------------
// Record / handshake parsing

type iopRecord struct {
	typ  byte
	vers uint16
	body []byte
}

func (r iopRecord) raw() []byte {
	b := []byte{r.typ, byte(r.vers >> 8), byte(r.vers), byte(len(r.body) >> 8), byte(len(r.body))}
	return append(b, r.body...)
}

func iopParseRecords(b []byte) (recs []iopRecord, rest []byte) {
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < 5+n {
			break
		}
		recs = append(recs, iopRecord{typ: b[0], vers: binary.BigEndian.Uint16(b[1:3]), body: b[5 : 5+n]})
		b = b[5+n:]
	}
	return recs, b
}

func iopReadRecord(r io.Reader) (iopRecord, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return iopRecord{}, err
	}
	n := int(binary.BigEndian.Uint16(hdr[3:5]))
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return iopRecord{}, err
	}
	return iopRecord{typ: hdr[0], vers: binary.BigEndian.Uint16(hdr[1:3]), body: body}, nil
}

var iopHRRRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

type iopSHInfo struct {
	hrr      bool
	hrrGroup uint16
	suite    uint16
	group    uint16 // key_share group of the (final) ServerHello
	version  uint16 // supported_versions of the final ServerHello
}

// iopAnalyzeServerHellos parses the plaintext part of a server byte stream:
// an optional HelloRetryRequest followed by the ServerHello.
func iopAnalyzeServerHellos(raw []byte) (iopSHInfo, error) {
	var info iopSHInfo
	recs, _ := iopParseRecords(raw)
	var hs []byte
	for _, r := range recs {
		if r.typ == recAppData {
			break
		}
		if r.typ == recAlert {
			return info, fmt.Errorf("plaintext alert % x before ServerHello", r.body)
		}
		if r.typ != recHandshake {
			continue
		}
		hs = append(hs, r.body...)
		for len(hs) >= 4 {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) < 4+n {
				break
			}
			msg := hs[4 : 4+n]
			typ := hs[0]
			hs = hs[4+n:]
			if typ != 2 {
				return info, fmt.Errorf("unexpected plaintext handshake message type %d", typ)
			}
			if len(msg) < 2+32+1 {
				return info, errors.New("short ServerHello")
			}
			random := msg[2:34]
			p := msg[34:]
			sidLen := int(p[0])
			if len(p) < 1+sidLen+3+2 {
				return info, errors.New("short ServerHello")
			}
			p = p[1+sidLen:]
			suite := binary.BigEndian.Uint16(p)
			p = p[3:]
			extLen := int(binary.BigEndian.Uint16(p))
			p = p[2:]
			if len(p) != extLen {
				return info, errors.New("ServerHello extension length mismatch")
			}
			isHRR := bytes.Equal(random, iopHRRRandom)
			var group, version uint16
			for len(p) >= 4 {
				et := binary.BigEndian.Uint16(p)
				el := int(binary.BigEndian.Uint16(p[2:]))
				if len(p) < 4+el {
					return info, errors.New("truncated ServerHello extension")
				}
				ed := p[4 : 4+el]
				p = p[4+el:]
				switch et {
				case 0x0033:
					if len(ed) >= 2 {
						group = binary.BigEndian.Uint16(ed)
					}
				case 0x002b:
					if len(ed) >= 2 {
						version = binary.BigEndian.Uint16(ed)
					}
				}
			}
			if isHRR {
				info.hrr = true
				info.hrrGroup = group
				continue
			}
			info.suite, info.group, info.version = suite, group, version
			return info, nil
		}
	}
	return info, errors.New("no ServerHello found")
}

// ---------------------------------------------------------------------------
// ClientHello surgery

type iopExt struct {
	typ  uint16
	data []byte
}

// iopClientHello is a parsed ClientHello record.
type iopClientHello struct {
	recVers uint16
	prefix  []byte // body up to (excluding) the extensions length
	exts    []iopExt
}

func iopParseCHRecord(t testing.TB, rec []byte) *iopClientHello {
	t.Helper()
	if len(rec) < 9 || rec[0] != recHandshake || rec[5] != 1 {
		t.Fatalf("not a ClientHello record")
	}
	recLen := int(binary.BigEndian.Uint16(rec[3:5]))
	hsLen := int(rec[6])<<16 | int(rec[7])<<8 | int(rec[8])
	if recLen != len(rec)-5 || hsLen != recLen-4 {
		t.Fatalf("ClientHello record lengths inconsistent: rec %d hs %d total %d", recLen, hsLen, len(rec))
	}
	body := rec[9:]
	p := 2 + 32
	p += 1 + int(body[p])
	p += 2 + int(binary.BigEndian.Uint16(body[p:]))
	p += 1 + int(body[p])
	ch := &iopClientHello{recVers: binary.BigEndian.Uint16(rec[1:3]), prefix: bytes.Clone(body[:p])}
	extLen := int(binary.BigEndian.Uint16(body[p:]))
	e := body[p+2:]
	if len(e) != extLen {
		t.Fatalf("extensions length %d, have %d", extLen, len(e))
	}
	for len(e) > 0 {
		et := binary.BigEndian.Uint16(e)
		el := int(binary.BigEndian.Uint16(e[2:]))
		ch.exts = append(ch.exts, iopExt{typ: et, data: bytes.Clone(e[4 : 4+el])})
		e = e[4+el:]
	}
	return ch
}

func (ch *iopClientHello) clone() *iopClientHello {
	c := &iopClientHello{recVers: ch.recVers, prefix: bytes.Clone(ch.prefix)}
	for _, e := range ch.exts {
		c.exts = append(c.exts, iopExt{typ: e.typ, data: bytes.Clone(e.data)})
	}
	return c
}

func (ch *iopClientHello) find(typ uint16) int {
	for i, e := range ch.exts {
		if e.typ == typ {
			return i
		}
	}
	return -1
}

func (ch *iopClientHello) remove(typ uint16) {
	i := ch.find(typ)
	if i >= 0 {
		ch.exts = append(ch.exts[:i], ch.exts[i+1:]...)
	}
}

// body serialises the ClientHello body (without handshake header).
func (ch *iopClientHello) body() []byte {
	var e []byte
	for _, x := range ch.exts {
		e = binary.BigEndian.AppendUint16(e, x.typ)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
		e = append(e, x.data...)
	}
	b := bytes.Clone(ch.prefix)
	b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
	return append(b, e...)
}

// iopHSRecord wraps a handshake body into handshake header + record header, with
// optional overrides of the declared lengths (nil = correct).
func iopHSRecord(recVers uint16, msgType byte, body []byte, hsLenOverride *int) []byte {
	hl := len(body)
	if hsLenOverride != nil {
		hl = *hsLenOverride
	}
	msg := []byte{msgType, byte(hl >> 16), byte(hl >> 8), byte(hl)}
	msg = append(msg, body...)
	rec := []byte{recHandshake, byte(recVers >> 8), byte(recVers), byte(len(msg) >> 8), byte(len(msg))}
	return append(rec, msg...)
}

func (ch *iopClientHello) record() []byte {
	return iopHSRecord(ch.recVers, 1, ch.body(), nil)
}

func iopLoadHello(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/work/shared/testdata/clienthellos", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// iopCaptureClientHello runs a crypto/tls client against a net.Pipe and returns
// its first record (the ClientHello).
func iopCaptureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() { tls.Client(c1, cfg).Handshake() }()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	r, err := iopReadRecord(c2)
	if err != nil {
		t.Fatalf("capture ClientHello: %v", err)
	}
	return r.raw()
}

// ---------------------------------------------------------------------------
// Raw-socket expectations

// iopReadAll reads until EOF/error/deadline and classifies the termination.
func iopReadAll(c net.Conn, timeout time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if err == nil {
		err = io.EOF
	}
	return buf.Bytes(), err
}

func iopDescribeEnd(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF (FIN)"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET (RST)"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout (connection left open)"
	}
	return err.Error()
}

func iopAlertRecord(code byte) []byte { return []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, code} }

// iopExpectPlainAlert sends payload on a raw TCP connection (optionally
// half-closing afterwards) and asserts the reply is exactly one fatal
// plaintext alert record with the given code followed by a clean EOF.
func iopExpectPlainAlert(t *testing.T, s *iopServer, payload []byte, halfClose bool, want byte, why string) {
	t.Helper()
	c := iopDialTCP(t, s)
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	got, err := iopReadAll(c, 5*time.Second)
	wantB := iopAlertRecord(want)
	if !bytes.Equal(got, wantB) {
		t.Errorf("reply = %s, want % x (fatal plaintext alert %d: %s)", iopSummarize(got), wantB, want, why)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("connection ended with %s, want clean EOF after the alert", iopDescribeEnd(err))
	}
}

// ---------------------------------------------------------------------------
// TLS 1.3 record protection from a key log (lets the tests read/write the
// encrypted records of a handshake driven by a real crypto/tls client).

type iopKeyLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (k *iopKeyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buf.Write(p)
}

func (k *iopKeyLog) secret(label string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, line := range strings.Split(k.buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == label {
			b, _ := hex.DecodeString(f[2])
			return b
		}
	}
	return nil
}

type iopTrafficKey struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
}

func iopSuiteHash(suite uint16) (func() hash.Hash, int) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return sha256.New, 16
	case tls.TLS_AES_256_GCM_SHA384:
		return sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return sha256.New, 32
	}
	return nil, 0
}

func iopExpandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := []byte{byte(n >> 8), byte(n), byte(len(full))}
	info = append(info, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func iopNewTrafficKey(suite uint16, secret []byte) (*iopTrafficKey, error) {
	h, keyLen := iopSuiteHash(suite)
	if h == nil {
		return nil, fmt.Errorf("unknown suite %#04x", suite)
	}
	if secret == nil {
		return nil, errors.New("missing traffic secret")
	}
	key := iopExpandLabel(h, secret, "key", keyLen)
	iv := iopExpandLabel(h, secret, "iv", 12)
	var aead cipher.AEAD
	var err error
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		b, err = aes.NewCipher(key)
		if err == nil {
			aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return nil, err
	}
	return &iopTrafficKey{aead: aead, iv: iv}, nil
}

func (k *iopTrafficKey) nonce() []byte {
	n := bytes.Clone(k.iv)
	for i := 0; i < 8; i++ {
		n[len(n)-1-i] ^= byte(k.seq >> (8 * i))
	}
	return n
}

// open decrypts one 0x17 record; on success the sequence number advances.
func (k *iopTrafficKey) open(r iopRecord) (byte, []byte, error) {
	hdr := []byte{r.typ, byte(r.vers >> 8), byte(r.vers), byte(len(r.body) >> 8), byte(len(r.body))}
	pt, err := k.aead.Open(nil, k.nonce(), r.body, hdr)
	if err != nil {
		return 0, nil, err
	}
	k.seq++
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("inner plaintext has no content type")
	}
	return pt[i], pt[:i], nil
}

// seal builds one protected record carrying content of inner type typ.
func (k *iopTrafficKey) seal(typ byte, content []byte) []byte {
	inner := append(bytes.Clone(content), typ)
	n := len(inner) + k.aead.Overhead()
	hdr := []byte{recAppData, 3, 3, byte(n >> 8), byte(n)}
	out := k.aead.Seal(hdr, k.nonce(), inner, hdr)
	k.seq++
	return out
}

type iopInner struct {
	typ     byte
	content []byte
	key     string // "plaintext", "handshake", "application"
}

// iopDecryptServerStream decrypts a server byte stream (as recorded on the
// client side) using the key log: plaintext records are passed through,
// protected records are opened with the server handshake key until the
// server Finished, then with the server application key.
func iopDecryptServerStream(raw []byte, kl *iopKeyLog, suite uint16) ([]iopInner, error) {
	hsKey, err := iopNewTrafficKey(suite, kl.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"))
	if err != nil {
		return nil, fmt.Errorf("server handshake key: %w", err)
	}
	appKey, err := iopNewTrafficKey(suite, kl.secret("SERVER_TRAFFIC_SECRET_0"))
	if err != nil {
		return nil, fmt.Errorf("server application key: %w", err)
	}
	recs, rest := iopParseRecords(raw)
	var out []iopInner
	inHandshake := true
	var hsBuf []byte
	for _, r := range recs {
		if r.typ != recAppData {
			out = append(out, iopInner{typ: r.typ, content: r.body, key: "plaintext"})
			continue
		}
		if inHandshake {
			typ, content, err := hsKey.open(r)
			if err != nil {
				return out, fmt.Errorf("open record under server handshake key: %w", err)
			}
			out = append(out, iopInner{typ: typ, content: content, key: "handshake"})
			if typ == recHandshake {
				hsBuf = append(hsBuf, content...)
				for len(hsBuf) >= 4 {
					n := int(hsBuf[1])<<16 | int(hsBuf[2])<<8 | int(hsBuf[3])
					if len(hsBuf) < 4+n {
						break
					}
					if hsBuf[0] == 20 {
						inHandshake = false
					}
					hsBuf = hsBuf[4+n:]
				}
			}
			continue
		}
		typ, content, err := appKey.open(r)
		if err != nil {
			return out, fmt.Errorf("open record under server application key: %w", err)
		}
		out = append(out, iopInner{typ: typ, content: content, key: "application"})
	}
	if len(rest) > 0 {
		return out, fmt.Errorf("%d trailing bytes of a partial record", len(rest))
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Puppet: a real crypto/tls client drives the handshake through a net.Pipe,
// while the test owns the TCP socket and decides what to forward.

type iopPuppet struct {
	t      *testing.T
	tcp    net.Conn
	kl     *iopKeyLog
	suite  uint16
	flight []iopRecord // server records up to and including its Finished flight
	client []iopRecord // client records after the ClientHello (CCS, Finished)

	srvCh  chan iopRecord
	srvErr error // valid after srvCh is closed
	pipe   net.Conn
}

func iopNewPuppet(t *testing.T, s *iopServer) *iopPuppet {
	t.Helper()
	p := &iopPuppet{t: t, kl: &iopKeyLog{}, srvCh: make(chan iopRecord, 256)}
	p.tcp = iopDialTCP(t, s)
	cConn, pConn := net.Pipe()
	p.pipe = pConn
	t.Cleanup(func() { cConn.Close(); pConn.Close() })

	cfg := s.goConfig()
	cfg.KeyLogWriter = p.kl
	hsErr := make(chan error, 1)
	go func() { hsErr <- tls.Client(cConn, cfg).Handshake() }()

	cliCh := make(chan iopRecord, 16)
	go func() {
		defer close(cliCh)
		for {
			r, err := iopReadRecord(pConn)
			if err != nil {
				return
			}
			cliCh <- r
		}
	}()
	go func() {
		defer close(p.srvCh)
		for {
			r, err := iopReadRecord(p.tcp)
			if err != nil {
				p.srvErr = err
				return
			}
			p.srvCh <- r
		}
	}()
	fwd := make(chan []byte, 256)
	go func() {
		for b := range fwd {
			if _, err := pConn.Write(b); err != nil {
				return
			}
		}
	}()
	defer close(fwd)

	timeout := time.After(10 * time.Second)
	select {
	case ch, ok := <-cliCh:
		if !ok || ch.typ != recHandshake {
			t.Fatalf("puppet: no ClientHello from crypto/tls")
		}
		if _, err := p.tcp.Write(ch.raw()); err != nil {
			t.Fatalf("puppet: write ClientHello: %v", err)
		}
	case <-timeout:
		t.Fatalf("puppet: timeout waiting for ClientHello")
	}
	// The client's Handshake can return (nil) before the reader above has
	// passed its Finished on: then go on waiting for that record alone.
	hsWait, hsReturned := hsErr, false
	for done := false; !done; {
		select {
		case r, ok := <-p.srvCh:
			if !ok {
				t.Fatalf("puppet: server closed during handshake: %s; records so far: %d", iopDescribeEnd(p.srvErr), len(p.flight))
			}
			p.flight = append(p.flight, r)
			fwd <- r.raw()
		case r, ok := <-cliCh:
			if !ok {
				t.Fatalf("puppet: crypto/tls client stopped: %v", <-hsErr)
			}
			p.client = append(p.client, r)
			if r.typ == recAppData { // the client's Finished
				done = true
			}
		case err := <-hsWait:
			if err != nil {
				t.Fatalf("puppet: crypto/tls client failed before sending Finished: %v", err)
			}
			hsWait, hsReturned = nil, true
		case <-timeout:
			t.Fatalf("puppet: timeout during handshake")
		}
	}
	if !hsReturned {
		select {
		case err := <-hsErr:
			if err != nil {
				t.Fatalf("puppet: crypto/tls handshake: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("puppet: crypto/tls Handshake did not return")
		}
	}
	var raw []byte
	for _, r := range p.flight {
		raw = append(raw, r.raw()...)
	}
	info, err := iopAnalyzeServerHellos(raw)
	if err != nil {
		t.Fatalf("puppet: %v", err)
	}
	p.suite = info.suite
	// Sanity: the whole server flight must decrypt under the handshake key and end with Finished.
	inner, err := iopDecryptServerStream(raw, p.kl, p.suite)
	if err != nil {
		t.Fatalf("puppet: decrypting server flight: %v", err)
	}
	for _, in := range inner {
		if in.key == "application" {
			t.Fatalf("puppet: server sent application-key records before the client Finished")
		}
	}
	return p
}

// clientKey returns a fresh client traffic key for the given secret label.
func (p *iopPuppet) clientKey(label string) *iopTrafficKey {
	k, err := iopNewTrafficKey(p.suite, p.kl.secret(label))
	if err != nil {
		p.t.Fatalf("puppet: %s: %v", label, err)
	}
	return k
}

func (p *iopPuppet) send(b []byte) {
	p.t.Helper()
	if _, err := p.tcp.Write(b); err != nil {
		p.t.Fatalf("puppet: write: %v", err)
	}
}

// collect gathers server records until the connection ends or the timeout elapses.
func (p *iopPuppet) collect(timeout time.Duration) ([]iopRecord, error) {
	var recs []iopRecord
	deadline := time.After(timeout)
	for {
		select {
		case r, ok := <-p.srvCh:
			if !ok {
				err := p.srvErr
				if errors.Is(err, io.ErrUnexpectedEOF) {
					err = fmt.Errorf("EOF in the middle of a record: %w", err)
				}
				return recs, err
			}
			recs = append(recs, r)
		case <-deadline:
			return recs, os.ErrDeadlineExceeded
		}
	}
}

// decryptAfter decrypts records received after the server flight.
func (p *iopPuppet) decryptAfter(recs []iopRecord) ([]iopInner, error) {
	var raw []byte
	for _, r := range p.flight {
		raw = append(raw, r.raw()...)
	}
	for _, r := range recs {
		raw = append(raw, r.raw()...)
	}
	all, err := iopDecryptServerStream(raw, p.kl, p.suite)
	var out []iopInner
	n := len(p.flight) // one iopInner per record
	if len(all) > n {
		out = all[n:]
	}
	return out, err
}

// expectEncryptedAlert asserts that, after the flight, the server sends exactly
// one protected fatal alert with the given code (under the server application
// traffic key, RFC 8446 §7.1/App. A: the server's sending key after its
// Finished) and then closes cleanly.
func (p *iopPuppet) expectEncryptedAlert(want byte, why string) {
	t := p.t
	t.Helper()
	recs, end := p.collect(5 * time.Second)
	inner, err := p.decryptAfter(recs)
	if err != nil {
		var raw []string
		for _, r := range recs {
			raw = append(raw, fmt.Sprintf("%02x/%d", r.typ, len(r.body)))
		}
		t.Errorf("decrypting post-flight records %v: %v", raw, err)
	}
	var got []string
	for _, in := range inner {
		got = append(got, fmt.Sprintf("{type %#02x key %s % x}", in.typ, in.key, in.content))
	}
	if len(inner) != 1 || inner[0].typ != recAlert || !bytes.Equal(inner[0].content, []byte{2, want}) {
		t.Errorf("post-flight server records = %v, want exactly one fatal alert {2, %d} (%s)", got, want, why)
	}
	if !errors.Is(end, io.EOF) {
		t.Errorf("connection ended with %s, want clean EOF after the alert", iopDescribeEnd(end))
	}
}

// iopSummarize renders a server byte stream: short streams as hex, long ones
// as a list of records (type/length, plus the body of small records).
func iopSummarize(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("[% x]", b)
	}
	recs, rest := iopParseRecords(b)
	var parts []string
	for _, r := range recs {
		name := map[byte]string{recCCS: "CCS", recAlert: "alert", recHandshake: "handshake", recAppData: "appdata"}[r.typ]
		if name == "" {
			name = fmt.Sprintf("type%#02x", r.typ)
		}
		if len(r.body) <= 8 {
			parts = append(parts, fmt.Sprintf("%s(%d: % x)", name, len(r.body), r.body))
		} else if r.typ == recHandshake && len(r.body) > 0 {
			parts = append(parts, fmt.Sprintf("%s(%d, msg type %d)", name, len(r.body), r.body[0]))
		} else {
			parts = append(parts, fmt.Sprintf("%s(%d)", name, len(r.body)))
		}
	}
	if len(rest) > 0 {
		parts = append(parts, fmt.Sprintf("+%d bytes partial", len(rest)))
	}
	return fmt.Sprintf("%d bytes: %s", len(b), strings.Join(parts, " "))
}
