package terminate

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

// TestRecordSplitAcrossReads: a record whose pieces arrive in separate
// reads (so a call sees only part of it and consumes nothing) must survive
// intact until the rest arrives. gnet's Discard(0) drops everything; the
// handler must never call it with zero.
func TestRecordSplitAcrossReads(t *testing.T) {
	srv, err := Start(Config{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(t.Context())
	leaf, _ := x509.ParseCertificate(srv.Certificate().Chain[0])
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(&trickle{Conn: raw}, &tls.Config{ServerName: "localhost", RootCAs: roots})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

// trickle writes each TLS record in pieces a few milliseconds apart, so
// the server reads partial records.
type trickle struct{ net.Conn }

func (t *trickle) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += 7 {
		end := min(off+7, len(p))
		if _, err := t.Conn.Write(p[off:end]); err != nil {
			return off, err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return len(p), nil
}
