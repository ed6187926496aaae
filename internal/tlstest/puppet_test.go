package tlstest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/selfsigned"
)

// echoServer is a crypto/tls TLS 1.3 server on loopback that echoes what
// one connection sends, then closes it. It issues no tickets, which it
// would send under its application key before the client's Finished.
func echoServer(t *testing.T) (net.Conn, *tls.Config) {
	t.Helper()
	der, key, err := selfsigned.ECDSA([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{
		Certificates:           []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, cfg)
		defer tc.Close()
		if tc.Handshake() != nil {
			return
		}
		b := make([]byte, 64)
		n, _ := tc.Read(b)
		tc.Write(b[:n])
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return conn, &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: tls.VersionTLS13}
}

// The puppet forwards the client's own last flight, then talks over
// records it seals itself and reads the answer with the key log.
func TestPuppetEcho(t *testing.T) {
	conn, cfg := echoServer(t)
	p := NewPuppet(t, conn, cfg)
	if p.Suite == 0 || len(p.Client) == 0 || p.Client[len(p.Client)-1].Type != RecordApplicationData {
		t.Fatalf("suite %#04x, held-back client records %d", p.Suite, len(p.Client))
	}
	for _, r := range p.Client {
		p.Send(r.Bytes())
	}
	p.Send(p.ClientKey("CLIENT_TRAFFIC_SECRET_0").Seal(RecordApplicationData, []byte("ping")))
	recs, end := p.Collect(5 * time.Second)
	got, err := p.DecryptAfter(recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "application" || got[0].Type != RecordApplicationData || string(got[0].Content) != "ping" ||
		got[1].Type != RecordAlert || !bytes.Equal(got[1].Content, []byte{1, 0}) {
		t.Errorf("after the handshake the server sent %+v, want the echo and close_notify", got)
	}
	if !errors.Is(end, io.EOF) {
		t.Errorf("connection ended with %s", DescribeEnd(end))
	}
}

// A Finished the test forged gets crypto/tls's decrypt_error, under the
// server's application key (RFC 8446 §4.4.4).
func TestPuppetWrongFinished(t *testing.T) {
	conn, cfg := echoServer(t)
	p := NewPuppet(t, conn, cfg)
	h, _ := SuiteHash(p.Suite)
	msg := append([]byte{20, 0, 0, byte(h().Size())}, make([]byte, h().Size())...)
	p.Send(p.ClientKey("CLIENT_HANDSHAKE_TRAFFIC_SECRET").Seal(RecordHandshake, msg))
	p.ExpectEncryptedAlert(51, "decrypt_error for a wrong Finished")
}
