package tlstest

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// CaptureClientHello returns the first record (its ClientHello) that a
// crypto/tls client with cfg sends, against nothing but a pipe. The client
// is stopped and gone by the time it returns, so a session it offered from
// cfg's ClientSessionCache has been dealt with (crypto/tls forgets a
// session whose handshake failed) before the caller goes on.
func CaptureClientHello(tb testing.TB, cfg *tls.Config) []byte {
	tb.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(client, cfg).Handshake() // fails once the pipe closes
	}()
	defer func() {
		client.Close()
		server.Close()
		<-done
	}()
	server.SetDeadline(time.Now().Add(5 * time.Second))
	r, err := ReadRecord(server)
	if err != nil {
		tb.Fatalf("capture ClientHello: %v", err)
	}
	if r.Type != RecordHandshake {
		tb.Fatalf("capture ClientHello: the client's first record is of type %#02x", r.Type)
	}
	return r.Bytes()
}
