package tlsmitm

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// The benchmarks compare this server with crypto/tls's on equal terms: the
// same Go client (X25519 only, TLS_AES_128_GCM_SHA256 by Go's own choice, no
// session cache, so no tickets and no resumption), the same ECDSA P-256
// certificate, and net.Pipe between them. Compare the two with
//
//	go test -run '^$' -bench Handshake -benchmem -count 6 ./tlsmitm/ > bench.txt
//	benchstat -col /impl bench.txt

// benchClientConfig is the one client configuration every benchmark uses.
func benchClientConfig() *tls.Config {
	return &tls.Config{
		ServerName:       "localhost",
		RootCAs:          testRoots(testCert),
		CurvePreferences: []tls.CurveID{tls.X25519},
		MinVersion:       tls.VersionTLS13,
	}
}

func benchLucidConfig() *Config {
	return &Config{
		GetCertificate: func(*ClientHello) (*Certificate, error) { return testCert, nil },
		Groups:         []Group{GroupX25519},
	}
}

func benchCryptoTLSConfig(b *testing.B) *tls.Config {
	leaf, err := x509.ParseCertificate(testCert.Chain[0])
	if err != nil {
		b.Fatal(err)
	}
	return &tls.Config{
		Certificates:     []tls.Certificate{{Certificate: testCert.Chain, PrivateKey: testCert.PrivateKey, Leaf: leaf}},
		CurvePreferences: []tls.CurveID{tls.X25519},
		MinVersion:       tls.VersionTLS13,
	}
}

// benchServer is a lean event-loop-style driver for a Conn: one input
// buffer read into directly and one output buffer, both reused across
// connections, as an event loop would.
type benchServer struct {
	in, out []byte
}

func newBenchServer() *benchServer {
	return &benchServer{in: make([]byte, 0, 64<<10), out: make([]byte, 0, 16<<10)}
}

// serve runs one connection to its end: it echoes application data and
// answers close_notify with its own.
func (s *benchServer) serve(nc net.Conn, c *Conn) error {
	in, out := s.in[:0], s.out[:0]
	defer func() { s.in, s.out = in[:0], out[:0] }()
	for {
		if len(in) == cap(in) {
			in = append(in, 0)[:len(in)] // grow; never hit with 64 KiB
		}
		k, rerr := nc.Read(in[len(in):cap(in)])
		in = in[:len(in)+k]
		for {
			res, err := c.Process(in, out[:0])
			in = in[:copy(in, in[res.Consumed:])]
			out = res.Out
			if res.Event == EventData {
				out, _ = c.Seal(out, res.Data)
			}
			if res.Event == EventClosed {
				out = c.CloseNotify(out)
			}
			if len(out) > 0 {
				if _, werr := nc.Write(out); werr != nil && err == nil && res.Event != EventClosed {
					return werr
				}
			}
			if err != nil {
				return err
			}
			if res.Event == EventClosed {
				if !c.State().HandshakeComplete {
					return errors.New("closed before the handshake completed")
				}
				return nil
			}
			if res.Event == EventNeedMore || res.Event == EventPending {
				break
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrClosedPipe) {
				return nil
			}
			return rerr
		}
	}
}

// cryptoTLSEcho is the same server written with crypto/tls.
func cryptoTLSEcho(nc net.Conn, cfg *tls.Config, buf []byte) error {
	sc := tls.Server(nc, cfg)
	defer sc.Close()
	if err := sc.Handshake(); err != nil {
		return err
	}
	for {
		n, err := sc.Read(buf)
		if n > 0 {
			if _, werr := sc.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// clientOp runs the client's half of one benchmark operation: handshake,
// one tiny echo, close.
func clientOp(nc net.Conn, cfg *tls.Config, msg, got []byte) error {
	cl := tls.Client(nc, cfg)
	defer cl.Close()
	if err := cl.Handshake(); err != nil {
		return err
	}
	if _, err := cl.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(cl, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return errors.New("echo mismatch")
	}
	return nil
}

func BenchmarkHandshake(b *testing.B) {
	msg := []byte("ping")
	b.Run("impl=lucid", func(b *testing.B) {
		ccfg, scfg := benchClientConfig(), benchLucidConfig()
		srv := newBenchServer()
		got := make([]byte, len(msg))
		done := make(chan error, 1)
		b.ReportAllocs()
		for b.Loop() {
			cn, sn := net.Pipe()
			go func() {
				c := NewServer(scfg)
				err := srv.serve(sn, c)
				c.Release()
				sn.Close()
				done <- err
			}()
			if err := clientOp(cn, ccfg, msg, got); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=cryptotls", func(b *testing.B) {
		ccfg, scfg := benchClientConfig(), benchCryptoTLSConfig(b)
		buf := make([]byte, 16<<10)
		got := make([]byte, len(msg))
		done := make(chan error, 1)
		b.ReportAllocs()
		for b.Loop() {
			cn, sn := net.Pipe()
			go func() { done <- cryptoTLSEcho(sn, scfg, buf); sn.Close() }()
			if err := clientOp(cn, ccfg, msg, got); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	})
}

// recordGoClientHelloFor returns the first record the benchmark client
// sends when it offers (and sends a share of) group alone.
func recordGoClientHelloFor(b *testing.B, group tls.CurveID) []byte {
	cfg := benchClientConfig()
	cfg.CurvePreferences = []tls.CurveID{group}
	return tlstest.CaptureClientHello(b, cfg)
}

// BenchmarkServerHandshakeOnly measures the server alone, without a client
// and without net.Pipe: one recorded crypto/tls ClientHello in, the whole
// server flight (ServerHello … Finished) out. The client's Finished depends on
// the server's randomness and signature, so it cannot be replayed; the
// operation stops where the server would wait for it. What is left out on
// our side is one HMAC and installing the client's traffic key.
//
// impl=cryptofloor is the public-key work any server must do for the same
// handshake, done the cheapest way this package knows: our key share (X25519
// through circl) and one ECDSA P-256 signature. Lucid's time above it is the
// cost of everything else: parsing, the key schedule, records, allocation.
func BenchmarkServerHandshakeOnly(b *testing.B) {
	benchServerHandshakeOnly(b, tls.X25519, GroupX25519)
}

// BenchmarkServerHandshakeOnlyMLKEM is BenchmarkServerHandshakeOnly with
// the hybrid post-quantum group X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem).
func BenchmarkServerHandshakeOnlyMLKEM(b *testing.B) {
	benchServerHandshakeOnly(b, tls.X25519MLKEM768, GroupX25519MLKEM768)
}

func benchServerHandshakeOnly(b *testing.B, curve tls.CurveID, group Group) {
	hello := recordGoClientHelloFor(b, curve)
	b.Run("impl=cryptofloor", func(b *testing.B) {
		var ch ClientHello
		if err := ch.parse(hello[recordHeaderLen:]); err != nil {
			b.Fatal(err)
		}
		var share []byte
		for _, ks := range ch.KeyShares {
			if ks.Group == group {
				share = ks.Data
			}
		}
		var pub [maxServerShare]byte
		var secret [maxSharedSecret]byte
		var seed [64]byte
		digest := make([]byte, 32)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := serverShare(group, share, rand.Reader, pub[:], &secret, &seed); err != nil {
				b.Fatal(err)
			}
			if _, err := testCert.PrivateKey.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=lucid", func(b *testing.B) {
		cfg := benchLucidConfig()
		cfg.Groups = []Group{group}
		in := make([]byte, len(hello))
		out := make([]byte, 0, 16<<10)
		b.ReportAllocs()
		for b.Loop() {
			copy(in, hello)
			c := NewServer(cfg)
			res, err := c.Process(in, out[:0])
			if err != nil || res.Event != EventNeedMore || res.Consumed != len(in) || len(res.Out) < 500 {
				b.Fatalf("Process: %v, event %v, consumed %d, wrote %d", err, res.Event, res.Consumed, len(res.Out))
			}
			out = res.Out
			c.Release()
		}
	})
	b.Run("impl=cryptotls", func(b *testing.B) {
		cfg := benchCryptoTLSConfig(b)
		cfg.CurvePreferences = []tls.CurveID{curve}
		nc := &replayConn{}
		b.ReportAllocs()
		for b.Loop() {
			nc.in, nc.wrote = hello, 0
			err := tls.Server(nc, cfg).Handshake()
			// The server has sent its flight and fails reading the
			// client's second flight.
			if !errors.Is(err, io.EOF) || nc.wrote < 500 {
				b.Fatalf("Handshake: %v after writing %d bytes", err, nc.wrote)
			}
		}
	})
}

// replayConn is a net.Conn that reads a fixed input, then EOF, and discards
// what is written to it.
type replayConn struct {
	in    []byte
	wrote int
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error) { c.wrote += len(p); return len(p), nil }

func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
