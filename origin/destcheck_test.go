package origin

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// countingServer accepts on loopback and reports each accepted client's
// address on the returned channel.
func countingServer(t *testing.T) (netip.AddrPort, <-chan string) {
	t.Helper()
	accepted := make(chan string, 16)
	addr := serve(t, func(c net.Conn) { accepted <- c.RemoteAddr().String() })
	return netip.MustParseAddrPort(addr), accepted
}

// checkedAddr is one AddrCheck call.
type checkedAddr struct {
	host   string
	addr   netip.AddrPort
	mapped bool
}

// loopbackRefuser refuses loopback addresses unless the name was mapped by
// the operator, as the edge's destination policy does, and records every
// call.
type loopbackRefuser struct {
	mu    sync.Mutex
	calls []checkedAddr
}

var errLoopback = errors.New("loopback destination")

func (r *loopbackRefuser) check(host string, addr netip.AddrPort, mapped bool) error {
	r.mu.Lock()
	r.calls = append(r.calls, checkedAddr{host, addr, mapped})
	r.mu.Unlock()
	if addr.Addr().IsLoopback() && !mapped {
		return errLoopback
	}
	return nil
}

func (r *loopbackRefuser) called() []checkedAddr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]checkedAddr(nil), r.calls...)
}

// firstAccepted dials srv with a plain dialer and returns the first client
// address srv accepted: if it is that connection's, nothing reached srv
// before.
func firstAccepted(t *testing.T, srv netip.AddrPort, accepted <-chan string) {
	t.Helper()
	c := dial(t, srv.String())
	defer c.Close()
	if got := <-accepted; got != c.LocalAddr().String() {
		t.Errorf("the origin accepted %s before the allowed connection: a refused dial reached it", got)
	}
}

// TestDialRefusesRebinding: a name whose DNS answer is a refused address
// (here "localhost", which the resolver answers with loopback addresses)
// is refused on the address actually dialed, and nothing reaches it.
func TestDialRefusesRebinding(t *testing.T) {
	srv, accepted := countingServer(t)
	var ref loopbackRefuser
	d := NewDialer(Config{
		Resolve: func(host string, port int) (string, bool) {
			return net.JoinHostPort("localhost", strconv.Itoa(int(srv.Port()))), false
		},
	})
	conn, err := d.Dial(context.Background(), "rebind.test", 443, ref.check)
	if err == nil {
		conn.Close()
		t.Fatal("Dial connected to a refused address")
	}
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || !errors.Is(err, errLoopback) {
		t.Fatalf("error %v is not a RefusedError with the check's reason", err)
	}
	if re.Host != "rebind.test" || !re.Addr.Addr().IsLoopback() || re.Addr.Port() != srv.Port() {
		t.Errorf("RefusedError host %q addr %s", re.Host, re.Addr)
	}
	calls := ref.called()
	if len(calls) == 0 {
		t.Fatal("the AddrCheck was never called")
	}
	for _, c := range calls {
		if c.host != "rebind.test" || c.mapped || c.addr.Port() != srv.Port() {
			t.Errorf("AddrCheck(%q, %s, mapped %v)", c.host, c.addr, c.mapped)
		}
	}
	firstAccepted(t, srv, accepted)
}

// A name the operator mapped is dialed even on loopback: the check is told
// it was mapped, and still sees the address.
func TestDialMappedName(t *testing.T) {
	srv, accepted := countingServer(t)
	var ref loopbackRefuser
	d := NewDialer(Config{
		Resolve: func(string, int) (string, bool) { return srv.String(), true },
	})
	conn, err := d.Dial(context.Background(), "demo.test", 443, ref.check)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	if got := <-accepted; got != conn.LocalAddr().String() {
		t.Errorf("accepted %s, dialed from %s", got, conn.LocalAddr())
	}
	if calls := ref.called(); len(calls) != 1 || calls[0] != (checkedAddr{"demo.test", srv, true}) {
		t.Errorf("AddrCheck calls %+v", calls)
	}
}

// IP literals are checked like names; an IPv4-mapped IPv6 literal is
// judged as the IPv4 address it is, so it cannot pass as "not loopback".
func TestDialChecksLiterals(t *testing.T) {
	srv, accepted := countingServer(t)
	port := int(srv.Port())
	for _, host := range []string{"127.0.0.1", "::ffff:127.0.0.1", "127.1.2.3"} {
		t.Run(host, func(t *testing.T) {
			var ref loopbackRefuser
			conn, err := NewDialer(Config{}).Dial(context.Background(), host, port, ref.check)
			if err == nil {
				conn.Close()
				t.Fatal("Dial connected to loopback")
			}
			var re *RefusedError
			if !errors.As(err, &re) || !re.Addr.Addr().Is4() || !re.Addr.Addr().IsLoopback() {
				t.Fatalf("error %v; want a RefusedError for an IPv4 loopback address", err)
			}
			firstAccepted(t, srv, accepted)
		})
	}
}

// An allowed address that does not answer is unreachable, not refused.
func TestDialUnreachableIsNotRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // nothing listens there now
	allow := func(string, netip.AddrPort, bool) error { return nil }
	conn, err := NewDialer(Config{}).Dial(context.Background(), "127.0.0.1", addr.Port, allow)
	if err == nil {
		conn.Close()
		t.Fatal("connected to a closed port")
	}
	if errors.Is(err, ErrRefused) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v; want the connection refused by the host, not by the check", err)
	}
}
