package tlsmitm

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/cryptotest"

	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/internal/selfsigned"
)

// fuzzCert is one static ECDSA P-256 certificate per process.
var fuzzCert = func() *Certificate {
	der, key, err := selfsigned.ECDSA(selfsigned.Hosts)
	if err != nil {
		panic(err)
	}
	return &Certificate{Chain: [][]byte{der}, PrivateKey: key}
}()

// fuzzConfig builds the server configuration a fuzz input selects with
// mode, so that HelloRetryRequest, ALPN refusal and every suite are reached.
func fuzzConfig(mode uint8) *Config {
	cfg := &Config{
		GetCertificate: func(*ClientHello) (*Certificate, error) { return fuzzCert, nil },
		NextProtos:     []string{"h2", "http/1.1"},
		// A seeded stream makes every run of one input identical.
		Rand: rand.NewChaCha8([32]byte{'l', 'u', 'c', 'i', 'd'}),
	}
	switch mode & 3 {
	case 1: // no seed hello carries a P-384 share: HelloRetryRequest
		cfg.Groups = []Group{GroupP384}
	case 2:
		cfg.Groups = []Group{GroupP256, GroupX25519MLKEM768}
	case 3:
		cfg.Groups = []Group{GroupX25519}
	}
	switch mode >> 2 & 3 {
	case 1:
		cfg.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256}
	case 2:
		cfg.CipherSuites = []uint16{TLS_AES_256_GCM_SHA384}
	case 3:
		cfg.NextProtos = []string{"h3"} // shares nothing with the seeds
	}
	return cfg
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func FuzzRecordLayer(f *testing.F) {
	ccs := record(0x14, 1)
	closeNotify := record(0x15, 1, 0)
	userCanceled := record(0x15, 1, 90)
	fatal := record(0x15, 2, 40)
	garbage := []byte("\x17\x03\x03\x00\x20GET / HTTP/1.1\r\nHost: lucid\r\n\r\n")
	encrypted := record(0x17, bytes.Repeat([]byte{0xa5}, 40)...)
	hellos := clienthellos.All()
	for i, h := range hellos {
		rec := h.Record
		mode := uint8(i)
		f.Add(rec, uint16(0), mode)
		f.Add(rec, uint16(len(rec)/2), uint8(1)) // HelloRetryRequest
		f.Add(cat(rec, garbage), uint16(7), mode)
		f.Add(cat(rec, ccs, encrypted), uint16(len(rec)+3), mode)
		f.Add(cat(rec, ccs, ccs), uint16(0), mode)
		f.Add(cat(rec, fatal), uint16(len(rec)), mode)
		f.Add(cat(rec, closeNotify, encrypted), uint16(len(rec)+1), mode)
		f.Add(cat(rec, ccs, rec), uint16(0), uint8(1)) // a second hello after HRR
		// The hello split over two handshake records.
		msg := rec[5:]
		f.Add(cat(record(0x16, msg[:100]...), record(0x16, msg[100:]...)), uint16(103), mode)
	}
	// HelloRetryRequest for P-384, then a second hello with that share.
	p384 := clienthellos.Record("extra-go126-p384.bin")
	first := hellos[0].Record
	f.Add(p384, uint16(0), uint8(0))
	f.Add(cat(first, p384), uint16(0), uint8(1))
	f.Add(cat(first, ccs, p384), uint16(len(first)+6), uint8(1))
	f.Add(cat(first, ccs, p384, encrypted), uint16(0), uint8(1))
	f.Add(ccs, uint16(0), uint8(0))
	f.Add(closeNotify, uint16(3), uint8(0))
	f.Add(userCanceled, uint16(0), uint8(0))
	f.Add(fatal, uint16(0), uint8(0))
	f.Add([]byte{0x16, 3, 3, 0x40, 0x01}, uint16(0), uint8(0)) // 2^14+1 plaintext
	f.Add([]byte{0x17, 3, 3, 0x41, 0x01}, uint16(2), uint8(0)) // 2^14+257 ciphertext
	f.Add([]byte{0x18, 3, 3, 0, 0}, uint16(0), uint8(0))       // unknown type
	f.Add(record(0x16), uint16(0), uint8(0))                   // empty handshake record
	f.Add(record(0x16, 1, 0x01, 0, 0), uint16(0), uint8(0))    // a 64 KiB message header

	f.Fuzz(func(t *testing.T, input []byte, split uint16, mode uint8) {
		// crypto/ecdsa and crypto/ecdh ignore Config.Rand; pin their
		// randomness too so a crasher replays byte for byte.
		cryptotest.SetGlobalRandom(t, 1)
		buf := bytes.Clone(input) // Process decrypts in place
		c := NewServer(fuzzConfig(mode))
		k := int(split) % (len(buf) + 1)

		var out []byte
		var ferr error
		in := buf[:k]
		for pass := 0; pass < 2 && ferr == nil; pass++ {
			if pass == 1 {
				in = buf[k-len(in):] // everything not consumed yet
			}
			for {
				res, err := c.Process(in, out[:0])
				if res.Consumed < 0 || res.Consumed > len(in) {
					t.Fatalf("consumed %d of %d bytes", res.Consumed, len(in))
				}
				out = res.Out
				checkOutput(t, out, err)
				in = in[res.Consumed:]
				if err != nil {
					ferr = err
					break
				}
				if res.Event == EventNeedMore || res.Event == EventPending {
					if res.Event == EventNeedMore && len(in) >= 5 &&
						len(in) >= 5+(int(in[3])<<8|int(in[4])) {
						t.Fatalf("need-more with a complete %d-byte record left", len(in))
					}
					break
				}
				if res.Consumed == 0 {
					t.Fatalf("event %v without consuming anything", res.Event)
				}
				if res.Event == EventData && !within(res.Data, buf) {
					t.Fatal("Data does not alias the input")
				}
			}
		}
		_ = c.State()
		if ferr == nil {
			c.Release()
			return
		}
		// A failed connection stays failed and takes nothing more.
		for _, again := range [][]byte{in, buf, nil} {
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
		if _, err := c.SetCertificate(fuzzCert, nil); err != ferr {
			t.Fatalf("SetCertificate after an error: %v", err)
		}
		c.Release()
	})
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
