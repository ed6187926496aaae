package tlsmitm

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"unsafe"

	"github.com/lucid-edge/lucid/internal/secmem"
)

// TestSecretsLiveInTheSlab: with Config.Memory set, a connection's secrets
// sit in one slab block while it lives, and the block is zeroed and handed
// back when it is released.
func TestSecretsLiveInTheSlab(t *testing.T) {
	mem, err := secmem.NewArena(secmem.Config{Size: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	cfg := staticConfig(testCert)
	cfg.Memory = mem

	cn, sn := net.Pipe()
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- serveEcho(sn, srv); sn.Close() }()
	cl := tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(testCert)})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	cl.Write([]byte("x"))
	io.ReadFull(cl, make([]byte, 1))
	if got := mem.Stats().InUse; got != 1024 {
		t.Fatalf("slab in use during the connection = %d bytes, want one 1 KiB key block", got)
	}
	km := srv.sched.keyMaterial
	if km == nil || !mem.Contains(unsafe.Pointer(km)) {
		t.Fatal("the connection's key material is not in the slab")
	}
	if isZero(km.clientAP[:]) || isZero(km.serverAP[:]) {
		t.Fatal("traffic secrets are not where the slab block says")
	}
	cl.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	block := unsafe.Slice((*byte)(unsafe.Pointer(km)), keyMaterialSize)
	srv.Release()
	if got := mem.Stats().InUse; got != 0 {
		t.Fatalf("slab in use after Release = %d, want 0", got)
	}
	if !isZero(block) {
		t.Fatal("released key material was not zeroed")
	}
}

// TestExhaustedSlabRefusesHandshakes: when the slab is full the server
// refuses with internal_error rather than putting keys on the Go heap.
func TestExhaustedSlabRefusesHandshakes(t *testing.T) {
	mem, err := secmem.NewArena(secmem.Config{Size: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for {
		if _, err := mem.Alloc(1024); err != nil {
			break
		}
	}
	cfg := staticConfig(testCert)
	cfg.Memory = mem
	srv := NewServer(cfg)
	hello := record(recordHandshake, goHello(t)...)
	res, err := srv.Process(hello, nil)
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != AlertInternalError {
		t.Fatalf("err = %v, want internal_error", err)
	}
	if want := []byte{recordAlert, 3, 3, 0, 2, 2, byte(AlertInternalError)}; string(res.Out) != string(want) {
		t.Fatalf("output % x, want only the alert", res.Out)
	}
	if srv.sched.keyMaterial != nil {
		t.Fatal("keys were placed outside the slab")
	}
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestSetNegotiatedProtocolWhilePending(t *testing.T) {
	cfg := staticConfig(testCert)
	cfg.NextProtos = nil
	cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil }
	cn, sn := net.Pipe()
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() {
		in := make([]byte, 0, 1<<16)
		buf := make([]byte, 1<<15)
		for {
			n, err := sn.Read(buf)
			in = append(in, buf[:n]...)
			res, perr := srv.Process(in, nil)
			in = in[:copy(in, in[res.Consumed:])]
			out := res.Out
			if res.Event == EventPending {
				if err := srv.SetNegotiatedProtocol("spdy/3"); err == nil {
					done <- errors.New("a protocol the client never offered was accepted")
					return
				}
				if err := srv.SetNegotiatedProtocol("h2"); err != nil {
					done <- err
					return
				}
				out, perr = srv.SetCertificate(testCert, out)
			}
			if len(out) > 0 {
				sn.Write(out)
			}
			if perr != nil || err != nil || res.Event == EventHandshakeDone {
				done <- perr
				return
			}
		}
	}()
	cl := tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(testCert), NextProtos: []string{"h2", "http/1.1"}})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := cl.ConnectionState().NegotiatedProtocol; got != "h2" {
		t.Fatalf("ALPN = %q, want the protocol set while pending", got)
	}
	// The Finished went out within Handshake (net.Pipe writes wait for
	// the reader), so the server has seen it.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cl.Close()
}
