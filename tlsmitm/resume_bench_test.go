package tlsmitm

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkHandshakeResumed is BenchmarkHandshake with session caches on
// both sides: every operation resumes (PSK with X25519, no certificate) and
// receives a fresh ticket. Compare with
//
//	go test -run '^$' -bench HandshakeResumed -benchmem -count 6 ./tlsmitm/ > bench.txt
//	benchstat -col /impl bench.txt
func BenchmarkHandshakeResumed(b *testing.B) {
	msg := []byte("ping")
	b.Run("impl=lucid", func(b *testing.B) {
		ccfg, scfg := benchClientConfig(), benchLucidConfig()
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		tk := NewTicketKeys(time.Hour)
		defer tk.Close()
		scfg.Tickets = tk
		srv := newBenchServer()
		got := make([]byte, len(msg))
		done := make(chan error, 1)
		op := func(wantResume bool) {
			cn, sn := net.Pipe()
			go func() {
				c := NewServer(scfg)
				err := srv.serve(sn, c)
				if err == nil && c.State().DidResume != wantResume {
					err = errors.New("server resumption differs from the client's")
				}
				c.Release()
				sn.Close()
				done <- err
			}()
			if err := resumedClientOp(cn, ccfg, msg, got, wantResume); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		op(false)
		b.ReportAllocs()
		for b.Loop() {
			op(true)
		}
	})
	b.Run("impl=cryptotls", func(b *testing.B) {
		ccfg, scfg := benchClientConfig(), benchCryptoTLSConfig(b)
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		buf := make([]byte, 16<<10)
		got := make([]byte, len(msg))
		done := make(chan error, 1)
		op := func(wantResume bool) {
			cn, sn := net.Pipe()
			go func() { done <- cryptoTLSEcho(sn, scfg, buf); sn.Close() }()
			if err := resumedClientOp(cn, ccfg, msg, got, wantResume); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		op(false)
		b.ReportAllocs()
		for b.Loop() {
			op(true)
		}
	})
}

// resumedClientOp is clientOp that also checks whether the client resumed.
// The echo makes it read the ticket that precedes the reply.
func resumedClientOp(nc net.Conn, cfg *tls.Config, msg, got []byte, wantResume bool) error {
	cl := tls.Client(nc, cfg)
	defer cl.Close()
	if err := cl.Handshake(); err != nil {
		return err
	}
	if cl.ConnectionState().DidResume != wantResume {
		return errors.New("client resumption is not what was expected")
	}
	if _, err := cl.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(cl, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return errors.New("echo mismatch")
	}
	return nil
}
