package origin

import (
	"io"
	"net"
	"testing"
	"time"
)

// A tunnel passes the client's half-close on: the destination reads EOF
// and can still answer.
func TestTunnelCloseWrite(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); err == nil && string(b) == "hello" {
			io.WriteString(c, "bye")
		}
	})
	tc := Tunnel(dial(t, addr))
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(tc, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if b, err := io.ReadAll(tc); err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v; want %q", b, err, "bye")
	}
}

// A connection that is not TCP has no half-close; CloseWrite leaves it be.
func TestTunnelCloseWriteNotTCP(t *testing.T) {
	c, s := net.Pipe()
	defer s.Close()
	tc := Tunnel(c)
	defer tc.Close()
	if err := tc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
}
