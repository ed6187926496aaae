package httphead

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRequestFramer feeds arbitrary client bytes, cut at a fuzzed point,
// to the framer that reads every request of an inspected connection. What
// it yields must add up to the bytes it used, every head must parse alone
// as it did in the stream, and an error must be a refusal with a status.
func FuzzRequestFramer(f *testing.F) {
	for _, tc := range smuggling {
		f.Add([]byte(tc.in+"GET /admin/secret HTTP/1.1\r\nHost: a\r\n\r\n"), uint16(7))
	}
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /admin/secret HTTP/1.1\r\nHost: h\r\n\r\n"), uint16(40))
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /admin/secret HTTP/1.1\r\nHost: h\r\n\r\n"), uint16(3))
	f.Add([]byte("PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: h\r\n\r\n"), uint16(60))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		var fr RequestFramer
		cut := int(split) % (len(data) + 1)
		yielded := 0
		for _, piece := range [][]byte{data[:cut], data[cut:]} {
			for {
				ev, n, err := fr.Next(piece)
				piece = piece[n:]
				if err != nil {
					var he *Error
					if !errors.As(err, &he) || he.Status < 400 || he.Status > 599 {
						t.Fatalf("error %v", err)
					}
					return
				}
				if ev.Kind == EventHead {
					h, hn, err := Parse(ev.Bytes)
					if err != nil || hn != len(ev.Bytes) || !bytes.Equal(h.Target, ev.Head.Target) || h.Chunked != ev.Head.Chunked || h.ContentLength != ev.Head.ContentLength {
						t.Fatalf("head %q reparsed: %v", ev.Bytes, err)
					}
					if h.Chunked && h.ContentLength >= 0 {
						t.Fatalf("head with both lengths: %q", ev.Bytes)
					}
				}
				yielded += len(ev.Bytes)
				if ev.Kind == EventNeedMore {
					break
				}
			}
		}
		if yielded > len(data) {
			t.Fatalf("yielded %d bytes of %d", yielded, len(data))
		}
		if len(fr.hb.buf) > MaxHead {
			t.Fatalf("held %d bytes", len(fr.hb.buf))
		}
	})
}

// FuzzResponseFramer feeds arbitrary origin bytes, cut at a fuzzed point,
// to the response framer, against fuzzed requests sent: every byte it
// takes is forwarded or held as an unfinished head, and nothing answers a request never sent.
func FuzzResponseFramer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), uint16(7), uint8(0))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), uint16(30), uint8(0))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), uint16(3), uint8(0))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nxx"), uint16(3), uint8(4))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), uint16(9), uint8(0))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), uint16(9), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16, reqs uint8) {
		var fr ResponseFramer
		sent := 0
		for i := 0; i < 3; i++ {
			bits := reqs >> (2 * i)
			fr.Sent(SentRequest{Head: bits&1 != 0, Upgrade: bits&4 != 0, Connect: bits&64 != 0})
			sent++
		}
		cut := int(split) % (len(data) + 1)
		forwarded, done := 0, 0
		var size int64
		for _, piece := range [][]byte{data[:cut], data[cut:]} {
			for {
				ev, n, err := fr.Next(piece)
				piece = piece[n:]
				if err != nil {
					if !errors.Is(err, ErrDesync) {
						t.Fatalf("error %v", err)
					}
					return
				}
				forwarded += len(ev.Bytes)
				if ev.Kind == EventEnd || ev.Kind == EventSwitch {
					if done++; done > sent || ev.Status < 100 || ev.Status > 599 {
						t.Fatalf("response %d status %d", done, ev.Status)
					}
					size += ev.Size
				}
				if ev.Kind == EventNeedMore {
					break
				}
			}
		}
		held := len(fr.hb.buf) // an unfinished head
		if fr.hb.drop {
			held = 0
		}
		if forwarded+held != len(data) || size > int64(len(data)) {
			t.Fatalf("forwarded %d, held %d, sizes %d, of %d bytes", forwarded, held, size, len(data))
		}
	})
}
