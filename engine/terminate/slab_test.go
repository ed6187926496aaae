package terminate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

// TestKeyMemoryBoundsConnections: each live connection holds one key block
// of its loop's slab; when the slab is full the next client is refused with
// internal_error, and the blocks come back when connections close.
func TestKeyMemoryBoundsConnections(t *testing.T) {
	// Two 64 KiB pages: one for the loop's output buffer, one for 64 key
	// blocks of 1 KiB.
	srv, err := Start(Config{Addr: "127.0.0.1:0", Loops: 1, KeyMemory: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	mem := srv.handler.loops.All()[0].Mem
	base := mem.Stats().InUse

	leaf, _ := x509.ParseCertificate(srv.Certificate().Chain[0])
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	cfg := &tls.Config{ServerName: "localhost", RootCAs: roots}

	var held []*tls.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 64; i++ {
		c, err := tls.Dial("tcp", srv.Addr(), cfg)
		if err != nil {
			t.Fatalf("connection %d of 64: %v", i, err)
		}
		held = append(held, c)
	}
	if got := mem.Stats().InUse - base; got != 64<<10 {
		t.Fatalf("64 live connections hold %d bytes of key memory, want 64 KiB", got)
	}
	_, err = tls.Dial("tcp", srv.Addr(), cfg)
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("65th connection: err = %v, want the server's internal_error alert", err)
	}
	if mem.Stats().Exhausted == 0 {
		t.Fatal("the refusal was not counted")
	}

	for _, c := range held {
		c.Close()
	}
	held = nil
	deadline := time.Now().Add(10 * time.Second)
	for mem.Stats().InUse != base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := mem.Stats().InUse; got != base {
		t.Fatalf("after every connection closed, %d bytes of key memory are still held (want %d)", got, base)
	}
	c, err := tls.Dial("tcp", srv.Addr(), cfg)
	if err != nil {
		t.Fatalf("a client after the slab drained: %v", err)
	}
	c.Close()
}
