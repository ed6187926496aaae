package tlstest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// Puppet is a real crypto/tls client whose handshake runs through a pipe
// while the test owns the connection to the server: the puppet forwards
// the ClientHello and the server's flight, then stops with the client's
// last flight (CCS, Finished) held back in Client. The test sends what it
// wants instead, sealed with ClientKey, and judges the server's answer.
type Puppet struct {
	Suite  uint16   // the cipher suite the server chose
	Client []Record // the client's records after its ClientHello, not sent

	tb     testing.TB
	conn   net.Conn
	keyLog *KeyLog
	flight []Record // the server's records up to and including its Finished

	fromServer chan Record
	serverErr  error // what ended the server's stream; valid once fromServer is closed
}

// NewPuppet runs a crypto/tls client with a copy of cfg over conn up to
// the point where it would send its Finished, and checks that the server's
// flight decrypts under the server handshake key alone. Any failure of
// the handshake fails the test. The connection is the puppet's: it is
// closed when the test ends.
func NewPuppet(tb testing.TB, conn net.Conn, cfg *tls.Config) *Puppet {
	tb.Helper()
	p := &Puppet{tb: tb, conn: conn, keyLog: &KeyLog{}, fromServer: make(chan Record, 256)}
	clientEnd, puppetEnd := net.Pipe()
	tb.Cleanup(func() { clientEnd.Close(); puppetEnd.Close(); conn.Close() })

	cfg = cfg.Clone()
	cfg.KeyLogWriter = p.keyLog
	hsErr := make(chan error, 1)
	go func() { hsErr <- tls.Client(clientEnd, cfg).Handshake() }()

	fromClient := make(chan Record, 16)
	go func() {
		defer close(fromClient)
		for {
			r, err := ReadRecord(puppetEnd)
			if err != nil {
				return
			}
			fromClient <- r
		}
	}()
	go func() {
		defer close(p.fromServer)
		for {
			r, err := ReadRecord(conn)
			if err != nil {
				p.serverErr = err
				return
			}
			p.fromServer <- r
		}
	}()
	toClient := make(chan []byte, 256)
	go func() {
		for b := range toClient {
			if _, err := puppetEnd.Write(b); err != nil {
				return
			}
		}
	}()
	defer close(toClient)

	timeout := time.After(10 * time.Second)
	select {
	case ch, ok := <-fromClient:
		if !ok || ch.Type != RecordHandshake {
			tb.Fatalf("puppet: no ClientHello from crypto/tls")
		}
		if _, err := conn.Write(ch.Bytes()); err != nil {
			tb.Fatalf("puppet: write ClientHello: %v", err)
		}
	case <-timeout:
		tb.Fatalf("puppet: timeout waiting for ClientHello")
	}
	// The client's Handshake can return (nil) before the reader above has
	// passed its Finished on: then go on waiting for that record alone.
	hsWait, hsReturned := hsErr, false
	for done := false; !done; {
		select {
		case r, ok := <-p.fromServer:
			if !ok {
				tb.Fatalf("puppet: server closed during handshake: %s; records so far: %d", DescribeEnd(p.serverErr), len(p.flight))
			}
			p.flight = append(p.flight, r)
			toClient <- r.Bytes()
		case r, ok := <-fromClient:
			if !ok {
				tb.Fatalf("puppet: crypto/tls client stopped: %v", <-hsErr)
			}
			p.Client = append(p.Client, r)
			if r.Type == RecordApplicationData { // the client's Finished
				done = true
			}
		case err := <-hsWait:
			if err != nil {
				tb.Fatalf("puppet: crypto/tls client failed before sending Finished: %v", err)
			}
			hsWait, hsReturned = nil, true
		case <-timeout:
			tb.Fatalf("puppet: timeout during handshake")
		}
	}
	if !hsReturned {
		select {
		case err := <-hsErr:
			if err != nil {
				tb.Fatalf("puppet: crypto/tls handshake: %v", err)
			}
		case <-time.After(5 * time.Second):
			tb.Fatalf("puppet: crypto/tls Handshake did not return")
		}
	}
	raw := joinRecords(p.flight)
	info, err := ParseServerHellos(raw)
	if err != nil {
		tb.Fatalf("puppet: %v", err)
	}
	p.Suite = info.Suite
	// The whole server flight must decrypt under the handshake key and end
	// with its Finished.
	inner, err := DecryptServerStream(raw, p.keyLog, p.Suite)
	if err != nil {
		tb.Fatalf("puppet: decrypting server flight: %v", err)
	}
	for _, in := range inner {
		if in.Key == "application" {
			tb.Fatalf("puppet: server sent application-key records before the client Finished")
		}
	}
	return p
}

func joinRecords(recs ...[]Record) []byte {
	var raw []byte
	for _, rs := range recs {
		for _, r := range rs {
			raw = append(raw, r.Bytes()...)
		}
	}
	return raw
}

// ClientKey is a fresh client traffic key for the secret logged under
// label ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
// at sequence number 0.
func (p *Puppet) ClientKey(label string) *TrafficKey {
	p.tb.Helper()
	k, err := NewTrafficKey(p.Suite, p.keyLog.Secret(label))
	if err != nil {
		p.tb.Fatalf("puppet: %s: %v", label, err)
	}
	return k
}

// Send writes b to the server.
func (p *Puppet) Send(b []byte) {
	p.tb.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.tb.Fatalf("puppet: write: %v", err)
	}
}

// Collect gathers the server's records until the connection ends (the
// error says how) or timeout passes (os.ErrDeadlineExceeded).
func (p *Puppet) Collect(timeout time.Duration) ([]Record, error) {
	var recs []Record
	deadline := time.After(timeout)
	for {
		select {
		case r, ok := <-p.fromServer:
			if !ok {
				err := p.serverErr
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

// DecryptAfter decrypts records the server sent after its flight, one
// Decrypted for each.
func (p *Puppet) DecryptAfter(recs []Record) ([]Decrypted, error) {
	all, err := DecryptServerStream(joinRecords(p.flight, recs), p.keyLog, p.Suite)
	var out []Decrypted
	if n := len(p.flight); len(all) > n {
		out = all[n:]
	}
	return out, err
}

// ExpectEncryptedAlert checks that, after its flight, the server sends
// exactly one protected fatal alert with code want, under the server
// application traffic key (RFC 8446 §7.1, App. A: the server's sending key
// after its Finished), and then closes cleanly; why goes into the failure.
func (p *Puppet) ExpectEncryptedAlert(want byte, why string) {
	t := p.tb
	t.Helper()
	recs, end := p.Collect(5 * time.Second)
	inner, err := p.DecryptAfter(recs)
	if err != nil {
		var raw []string
		for _, r := range recs {
			raw = append(raw, fmt.Sprintf("%02x/%d", r.Type, len(r.Body)))
		}
		t.Errorf("decrypting post-flight records %v: %v", raw, err)
	}
	var got []string
	for _, in := range inner {
		got = append(got, fmt.Sprintf("{type %#02x key %s % x}", in.Type, in.Key, in.Content))
	}
	if len(inner) != 1 || inner[0].Type != RecordAlert || !bytes.Equal(inner[0].Content, []byte{2, want}) {
		t.Errorf("post-flight server records = %v, want exactly one fatal alert {2, %d} (%s)", got, want, why)
	}
	if !errors.Is(end, io.EOF) {
		t.Errorf("connection ended with %s, want clean EOF after the alert", DescribeEnd(end))
	}
}
