package tlsmitm

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/lucid-edge/lucid/internal/selfsigned"
)

// testCert is one ECDSA P-256 certificate shared by the package's tests.
var testCert = func() *Certificate {
	der, key, err := selfsigned.ECDSA(selfsigned.Hosts)
	if err != nil {
		panic(err)
	}
	return &Certificate{Chain: [][]byte{der}, PrivateKey: key}
}()

func testRoots(cert *Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	leaf, err := x509.ParseCertificate(cert.Chain[0])
	if err != nil {
		panic(err)
	}
	pool.AddCert(leaf)
	return pool
}

func staticConfig(cert *Certificate) *Config {
	return &Config{
		GetCertificate: func(*ClientHello) (*Certificate, error) { return cert, nil },
		NextProtos:     []string{"http/1.1"},
	}
}

// serveEcho drives a Conn over a net.Conn the way an event loop would:
// read what arrived, process it, write what came out. Application data is
// echoed back. It returns the first error, or nil at close_notify or EOF.
func serveEcho(nc net.Conn, c *Conn) error { return serveEchoWith(nc, c, nil) }

// serveEchoWith is serveEcho with an answer to EventPending: pending
// appends the server's flight (SetCertificate, Resume) to out.
func serveEchoWith(nc net.Conn, c *Conn, pending func(c *Conn, out []byte) ([]byte, error)) error {
	in := make([]byte, 0, 64<<10)
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		k, rerr := nc.Read(buf)
		in = append(in, buf[:k]...)
		for {
			res, err := c.Process(in, out[:0])
			in = in[:copy(in, in[res.Consumed:])]
			out = res.Out
			if res.Event == EventData {
				out, _ = c.Seal(out, res.Data)
			}
			if res.Event == EventPending && pending != nil && err == nil {
				out, err = pending(c, out)
				res.Event = EventNeedMore
			}
			if len(out) > 0 {
				if _, werr := nc.Write(out); werr != nil && err == nil {
					return werr
				}
				out = out[:0]
			}
			if err != nil {
				return err
			}
			if res.Event == EventClosed {
				out = c.CloseNotify(out[:0])
				nc.Write(out)
				return nil
			}
			if res.Event == EventNeedMore || res.Event == EventPending {
				break
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return rerr
		}
	}
}

// rsaCert is an RSA-2048 certificate, signed with RSA-PSS in CertificateVerify.
var rsaCert = func() *Certificate {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := selfsigned.Certificate(selfsigned.Hosts, key)
	if err != nil {
		panic(err)
	}
	return &Certificate{Chain: [][]byte{der}, PrivateKey: key}
}()

func TestGoClientRSACertificate(t *testing.T) {
	cn, sn := net.Pipe()
	srv := NewServer(staticConfig(rsaCert))
	done := make(chan error, 1)
	go func() { done <- serveEcho(sn, srv); sn.Close() }()
	cl := tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(rsaCert)})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("handshake with an RSA certificate: %v", err)
	}
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	cl.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestGoClientEcho(t *testing.T) {
	cases := []struct {
		name   string
		groups []tls.CurveID
	}{
		{"X25519MLKEM768", []tls.CurveID{tls.X25519MLKEM768}},
		{"X25519", []tls.CurveID{tls.X25519}},
		{"P256", []tls.CurveID{tls.CurveP256}},
		{"P384", []tls.CurveID{tls.CurveP384}},
		{"HRR to P384", []tls.CurveID{tls.CurveP521, tls.CurveP384}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cn, sn := net.Pipe()
			srv := NewServer(staticConfig(testCert))
			done := make(chan error, 1)
			go func() { done <- serveEcho(sn, srv); sn.Close() }()
			cl := tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(testCert), CurvePreferences: tc.groups, NextProtos: []string{"http/1.1"}})
			if err := cl.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			msg := []byte("hello, lucid")
			if _, err := cl.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(cl, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(msg) {
				t.Fatalf("echo = %q", got)
			}
			st := cl.ConnectionState()
			if st.CurveID != tc.groups[len(tc.groups)-1] && tc.name != "X25519MLKEM768" {
				t.Errorf("group = %v", st.CurveID)
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN = %q", st.NegotiatedProtocol)
			}
			cl.Close()
			if err := <-done; err != nil {
				t.Fatalf("server: %v", err)
			}
		})
	}
}

// TestServerUpdatesItsKeys: with a small KeyUpdateAfter the server moves
// its keys forward while sending, and Go's client, which must follow each
// KeyUpdate to decrypt what comes after it, reads everything intact.
func TestServerUpdatesItsKeys(t *testing.T) {
	cfg := staticConfig(testCert)
	cfg.KeyUpdateAfter = 1000
	cn, sn := net.Pipe()
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- serveEcho(sn, srv); sn.Close() }()
	cl := tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(testCert)})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 10000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() {
		for off := 0; off < len(msg); off += 500 {
			cl.Write(msg[off : off+500]) // one record each: the server seals them one by one
		}
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatalf("reading across server KeyUpdates: %v", err)
	}
	if string(got) != string(msg) {
		t.Fatal("echo corrupted across KeyUpdates")
	}
	cl.Close()
	<-done
	// 10000 bytes in 500-byte records, a new key after each 1000.
	if srv.keyUpdates < 8 {
		t.Fatalf("server updated its keys %d times over 10000 bytes with a 1000-byte limit", srv.keyUpdates)
	}
}
