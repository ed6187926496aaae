package tlsmitm

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"
	"testing/cryptotest"

	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/internal/secmem"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// FuzzServer runs the server on arbitrary client bytes, split at a fuzzed
// point, in the modes edge terminate and the proxy run it in: prefs picks
// groups, suites and ALPN, server the server and the proxy's answer to a
// parked hello (the mode constants). Whatever the bytes, the server must
// not panic; it consumes only whole records, answers with whole bounded
// records, decrypts in place, ends every failure with its alert, stays
// failed after one, hands a TLS 1.2 hello off untouched, and gives every
// byte of key memory back on Release.
func FuzzServer(f *testing.F) {
	mem, err := secmem.NewArena(secmem.Config{Size: 64 << 10, Lock: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { mem.Close() })

	ccs := record(recordChangeCipherSpec, 1)
	closeNotify := record(recordAlert, 1, 0)
	userCanceled := record(recordAlert, 1, 90)
	fatal := record(recordAlert, 2, 40)
	garbage := []byte("\x17\x03\x03\x00\x20GET / HTTP/1.1\r\nHost: lucid\r\n\r\n")
	encrypted := record(recordApplicationData, bytes.Repeat([]byte{0xa5}, 40)...)
	// Each captured hello runs in both servers; its variants go through
	// the other modes in turn.
	servers := []uint8{
		modeProxy,
		modeProxy | modeLeaf | modeALPNHTTP11,
		modeNoTickets,
		modeProxy | modeRefuse | modeALPNNone,
		modeProxy | modeMintFailed | modeALPNForeign,
		modeProxy | modeNoTickets | modeOtherOrg,
		0,
	}
	hellos := clienthellos.All()
	for i, h := range hellos {
		rec := h.Record
		prefs := uint8(i)
		server := servers[i%len(servers)]
		f.Add(rec, uint16(0), prefs, uint8(0))
		f.Add(rec, uint16(0), prefs, modeProxy)
		f.Add(rec, uint16(len(rec)/2), uint8(1), server) // HelloRetryRequest
		f.Add(cat(rec, garbage), uint16(7), prefs, server)
		f.Add(cat(rec, ccs, encrypted), uint16(len(rec)+3), prefs, server)
		f.Add(cat(rec, ccs, ccs), uint16(0), prefs, server)
		f.Add(cat(rec, fatal), uint16(len(rec)), prefs, server)
		f.Add(cat(rec, closeNotify, encrypted), uint16(len(rec)+1), prefs, server)
		f.Add(cat(rec, ccs, rec), uint16(0), uint8(1), server) // a second hello after HRR
		// The hello split over two handshake records.
		f.Add(fragment(h.Message(), 100), uint16(103), prefs, server)
	}

	// HelloRetryRequest for P-384, then a second hello with that share.
	p384 := clienthellos.Record("extra-go126-p384.bin")
	first := hellos[0].Record
	for _, server := range []uint8{0, modeProxy} {
		f.Add(p384, uint16(0), uint8(0), server)
		f.Add(cat(first, p384), uint16(0), uint8(1), server)
		f.Add(cat(first, ccs, p384), uint16(len(first)+6), uint8(1), server)
		f.Add(cat(first, ccs, p384, encrypted), uint16(0), uint8(1), server)
	}

	// Hellos that offer a ticket the servers issued: edge terminate's
	// resumes at once, the proxy's parks as resumable.
	resumeTerminate := goResumptionHello(f, fuzzServerConfig(0, 0, mem), "", nil)
	f.Add(resumeTerminate, uint16(0), uint8(0), uint8(0))
	f.Add(resumeTerminate, uint16(len(resumeTerminate)/2), uint8(0), uint8(0))
	f.Add(cat(resumeTerminate, ccs, encrypted), uint16(0), uint8(0), uint8(0))
	f.Add(resumeTerminate, uint16(0), uint8(0), modeProxy) // no organisation's ticket
	resumeProxy := goResumptionHello(f, fuzzServerConfig(0, modeProxy, mem), fuzzOrg(modeProxy),
		func(c *Conn, out []byte) ([]byte, error) {
			_ = c.SetNegotiatedProtocol("h2") // modeALPNFirst
			return c.SetCertificate(testCert, out)
		})
	for _, server := range []uint8{
		modeProxy, modeProxy | modeLeaf, modeProxy | modeRefuse, modeProxy | modeMintFailed | modeALPNNone,
		modeProxy | modeOtherOrg, modeProxy | modeNoTickets, 0,
	} {
		f.Add(resumeProxy, uint16(0), uint8(0), server)
	}
	f.Add(cat(resumeProxy, ccs, encrypted), uint16(len(resumeProxy)+3), uint8(0), modeProxy)
	f.Add(resumeProxy, uint16(0), uint8(8), modeProxy) // a SHA-384 suite: the SHA-256 ticket does not apply

	// A TLS 1.2 hello: both servers hand it off to crypto/tls.
	hello12 := goHelloRecord(f, tls.VersionTLS12, tls.VersionTLS12)
	f.Add(hello12, uint16(0), uint8(0), uint8(0))
	f.Add(hello12, uint16(3), uint8(0), modeProxy)
	f.Add(fragment(hello12[recordHeaderLen:], 60), uint16(70), uint8(0), modeProxy)
	f.Add(cat(hello12, ccs), uint16(0), uint8(0), uint8(0))

	f.Add(ccs, uint16(0), uint8(0), uint8(0))
	f.Add(closeNotify, uint16(3), uint8(0), modeProxy)
	f.Add(userCanceled, uint16(0), uint8(0), uint8(0))
	f.Add(fatal, uint16(0), uint8(0), modeProxy)
	f.Add([]byte{0x16, 3, 3, 0x40, 0x01}, uint16(0), uint8(0), uint8(0))         // 2^14+1 plaintext
	f.Add([]byte{0x17, 3, 3, 0x41, 0x01}, uint16(2), uint8(0), modeProxy)        // 2^14+257 ciphertext
	f.Add([]byte{0x18, 3, 3, 0, 0}, uint16(0), uint8(0), uint8(0))               // unknown type
	f.Add(record(recordHandshake), uint16(0), uint8(0), modeProxy)               // empty handshake record
	f.Add(record(recordHandshake, 1, 0x01, 0, 0), uint16(0), uint8(0), uint8(0)) // a 64 KiB message header

	f.Fuzz(func(t *testing.T, input []byte, split uint16, prefs, server uint8) {
		// crypto/ecdsa and crypto/ecdh ignore Config.Rand; pin their
		// randomness too so a crasher replays byte for byte.
		cryptotest.SetGlobalRandom(t, 1)
		inUse := mem.Stats().InUse
		buf := bytes.Clone(input) // Process decrypts in place
		c := NewServer(fuzzServerConfig(prefs, server, mem))
		if server&modeProxy != 0 {
			// A session resumes only within its organisation.
			c.SetSessionContext([]byte(fuzzOrg(server)))
		}
		rest, out, err := serveFuzzInput(t, c, server, buf, int(split)%(len(buf)+1))
		_ = c.State()
		if err != nil {
			checkStaysFailed(t, c, err, [][]byte{rest, buf, nil}, out)
		}
		c.Release()
		if got := mem.Stats().InUse; got != inUse {
			t.Fatalf("%d bytes of key memory in use after Release, %d before the connection", got, inUse)
		}
	})
}

// serveFuzzInput runs c on buf as a server's event loop would: the first k
// bytes, then the rest, each Process call's output checked, a park answered
// as the proxy does, a TLS 1.2 hand-off the end. It returns the input not
// consumed, the last output and the error that ended the connection.
func serveFuzzInput(t *testing.T, c *Conn, server uint8, buf []byte, k int) (in, out []byte, err error) {
	consumed := 0
	in = buf[:k]
passes:
	for pass := 0; pass < 2; pass++ {
		if pass == 1 {
			in = buf[k-len(in):] // everything not consumed yet
		}
		for {
			var res Result
			res, err = c.Process(in, out[:0])
			if res.Consumed < 0 || res.Consumed > len(in) {
				t.Fatalf("consumed %d of %d bytes", res.Consumed, len(in))
			}
			out = res.Out
			checkOutput(t, out, err)
			in = in[res.Consumed:]
			consumed += res.Consumed
			if err != nil {
				return in, out, err
			}
			switch res.Event {
			case EventLegacy:
				// crypto/tls takes over, and must see every byte from
				// the first.
				if consumed != 0 || len(out) != 0 {
					t.Fatalf("hand-off after %d bytes consumed, %d sent", consumed, len(out))
				}
				if server&modeProxy != 0 {
					checkHandedOffHello(t, c, buf)
				}
				return in, out, nil
			case EventPending:
				if server&modeProxy == 0 {
					t.Fatal("edge terminate's server parked a hello")
				}
				out, err = answerPark(t, c, server, out[:0])
				checkOutput(t, out, err)
				if err != nil {
					return in, out, err
				}
				continue // the flight after the park is out: read on
			case EventNeedMore:
				// Until the hand-off is decided, the first hello is read
				// whole before any of it is consumed.
				if c.legacyChecked && len(in) >= 5 && len(in) >= 5+(int(in[3])<<8|int(in[4])) {
					t.Fatalf("need-more with a complete %d-byte record left", len(in))
				}
				continue passes
			}
			if res.Consumed == 0 {
				t.Fatalf("event %v without consuming anything", res.Event)
			}
			if res.Event == EventData && !within(res.Data, buf) {
				t.Fatal("Data does not alias the input")
			}
		}
	}
	return in, out, nil
}

// checkHandedOffHello checks the hello the proxy reads after a hand-off,
// once the input it came in is discarded (engine/proxylegacy.go).
func checkHandedOffHello(t *testing.T, c *Conn, input []byte) {
	t.Helper()
	ch := c.LegacyHello()
	if ch == nil {
		t.Fatal("a hand-off without a hello")
	}
	checkProxyHello(t, ch)
	if within(ch.Raw, input) {
		t.Fatal("the hand-off's hello aliases the input")
	}
}

// checkStaysFailed checks that a connection that failed with ferr stays
// failed: it takes nothing more, seals and sends nothing.
func checkStaysFailed(t *testing.T, c *Conn, ferr error, inputs [][]byte, out []byte) {
	t.Helper()
	for _, again := range inputs {
		res, err := c.Process(again, out[:0])
		if err != ferr {
			t.Fatalf("Process after %v returned %v", ferr, err)
		}
		if res.Consumed != 0 || len(res.Out) != 0 || res.Event != EventNeedMore {
			t.Fatalf("Process after an error consumed %d, wrote %d bytes, event %v", res.Consumed, len(res.Out), res.Event)
		}
	}
	if o, err := c.Seal(nil, []byte("x")); err != ferr || len(o) != 0 {
		t.Fatalf("Seal after an error: %d bytes, %v", len(o), err)
	}
	if o := c.CloseNotify(nil); len(o) != 0 {
		t.Fatalf("CloseNotify after an error wrote %d bytes", len(o))
	}
	if _, err := c.SetCertificate(testCert, nil); err != ferr {
		t.Fatalf("SetCertificate after an error: %v", err)
	}
}

// checkOutput checks what one Process call appended: a sequence of whole
// records, and after an *AlertError one alert as the last record, in the
// clear (15 03 03 00 02 02 XX) or protected (type 0x17).
func checkOutput(t *testing.T, out []byte, err error) {
	t.Helper()
	var last []byte
	for rest := out; len(rest) > 0; {
		if len(rest) < 5 {
			t.Fatalf("output ends in a partial record header: % x", rest)
		}
		n := int(rest[3])<<8 | int(rest[4])
		if len(rest) < 5+n || rest[1] != 3 || rest[2] != 3 {
			t.Fatalf("malformed output record header % x with %d bytes left", rest[:5], len(rest)-5)
		}
		if n > 1<<14+256 {
			t.Fatalf("output record of %d bytes", n)
		}
		last, rest = rest[:5+n], rest[5+n:]
	}
	var ae *AlertError
	var pe *PeerAlertError
	switch {
	case err == nil:
	case errors.As(err, &ae):
		if last == nil {
			t.Fatalf("error %v without an alert", err)
		}
		if last[0] == 0x17 {
			if len(last) != 5+2+1+16 {
				t.Fatalf("protected alert record has %d bytes", len(last))
			}
			break
		}
		want := []byte{0x15, 3, 3, 0, 2, 2, byte(ae.Alert)}
		if !bytes.Equal(last, want) {
			t.Fatalf("error %v ends the output with % x, want % x", err, last, want)
		}
	case errors.As(err, &pe):
		// A fatal alert received is answered with nothing (§6.2).
		if last != nil && last[0] == 0x15 {
			t.Fatalf("peer alert %v answered with an alert", err)
		}
	default:
		t.Fatalf("error %T is neither an AlertError nor a PeerAlertError: %v", err, err)
	}
}
