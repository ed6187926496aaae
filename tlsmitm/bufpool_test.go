package tlsmitm

import (
	"bytes"
	"testing"
)

// The buffers a handshake reassembles the client's messages in and builds
// its flight in are recycled between connections: once a handshake is done
// they are given back, and the next connection that takes one must find
// nothing of the last one in it.
func TestHandshakeBuffersAreReleasedAndZeroed(t *testing.T) {
	first := startGoClient(t, staticConfig(testCert))
	first.handshake()
	srv := first.srv
	if srv.hs != nil || srv.scratch != nil {
		t.Fatalf("after the handshake the connection still holds %d + %d bytes of handshake buffers", cap(srv.hs), cap(srv.scratch))
	}
	if srv.hello.Raw != nil || srv.hello.KeyShares != nil {
		t.Fatal("the parsed hello still points into a released buffer")
	}
	if got := srv.State().ServerName; got != "localhost" {
		t.Fatalf("State().ServerName = %q after the handshake, want localhost", got)
	}
	first.echo("still works after the buffers went back")

	// A parked connection holds its hello's buffer; Release gives it back
	// and drops the hello that points into it.
	cfg := staticConfig(testCert)
	cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil } // park
	g := startGoClient(t, cfg)
	hello := g.next()
	if res, err := g.srv.Process(hello, nil); err != nil || res.Event != EventPending {
		t.Fatalf("hello: %v, event %v", err, res.Event)
	}
	if g.srv.Hello() == nil || g.srv.Hello().ServerName != "localhost" {
		t.Fatal("the parked connection lost its hello")
	}
	g.srv.Release()
	if g.srv.hs != nil || g.srv.hello.Raw != nil {
		t.Fatal("Release kept the handshake buffer or a hello aliasing it")
	}
}

func TestPutBufferZeroesWholeBuffer(t *testing.T) {
	for _, b := range [][]byte{getHelloBuffer(100), getFlightBuffer(5000)} {
		b = append(b, bytes.Repeat([]byte{0xAA}, 64)...)
		full := b[:cap(b)]
		putBuffer(b[:10]) // length says 10, but all of it is zeroed
		if !bytes.Equal(full, make([]byte, len(full))) {
			t.Fatalf("a %d-byte buffer went back to its pool not zeroed", cap(full))
		}
	}
}
