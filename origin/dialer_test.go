package origin

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestDialer goes the proxy's way: Dial a name through Resolve, then
// Handshake with the client's hello. With a session cache the second
// connection resumes; without one it never does. Either way the second
// chain is found in the verify cache.
func TestDialer(t *testing.T) {
	pki := newTestPKI(t)
	o := newOrigin(t, pki.validLeaf(t))
	tests := []struct {
		name       string
		cacheSize  int
		wantResume bool
	}{
		{"session cache", 8, true},
		{"no session cache", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			d := NewDialer(Config{
				Roots: pki.roots,
				Resolve: func(host string, port int) (string, bool) {
					mu.Lock()
					defer mu.Unlock()
					asked = append(asked, net.JoinHostPort(host, strconv.Itoa(port)))
					return o.addr, true
				},
				SessionCacheSize: tc.cacheSize,
				HandshakeTimeout: 5 * time.Second,
			})
			connect := func() *Session {
				t.Helper()
				conn, err := d.Dial(context.Background(), originName, 443, nil)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				s, err := d.Handshake(context.Background(), conn, chromeHello(t), HandshakeOptions{ServerName: originName})
				if err != nil {
					t.Fatalf("Handshake: %v", err)
				}
				t.Cleanup(func() { s.Conn.Close() })
				if s.VerifyErr != nil || s.NegotiatedProtocol != "h2" {
					t.Errorf("VerifyErr %v, negotiated %q", s.VerifyErr, s.NegotiatedProtocol)
				}
				ping(t, s) // reading processes a TLS 1.3 NewSessionTicket
				return s
			}
			first, second := connect(), connect()
			if first.DidResume || second.DidResume != tc.wantResume {
				t.Errorf("resumed: first %v, second %v; want false, %v", first.DidResume, second.DidResume, tc.wantResume)
			}
			if n := d.verified.size(); n != 1 {
				t.Errorf("the verify cache holds %d chains, want 1", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 2 || asked[0] != originName+":443" {
				t.Errorf("Resolve was asked for %q", asked)
			}
		})
	}
}

// Without Resolve, Dial connects to host:port as asked.
func TestDialWithoutResolve(t *testing.T) {
	addr := serve(t, func(net.Conn) {})
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	conn, err := NewDialer(Config{}).Dial(context.Background(), host, p, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	if conn.RemoteAddr().String() != addr {
		t.Errorf("connected to %s, want %s", conn.RemoteAddr(), addr)
	}
}
