package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// scriptedConn is a server whose every byte is given in advance: reads
// come from the script, writes are dropped.
type scriptedConn struct {
	net.Conn // nil: only the methods below are called
	r        io.Reader
}

func (c *scriptedConn) Read(p []byte) (int, error)             { return c.r.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)            { return len(p), nil }
func (c *scriptedConn) SetDeadline(time.Time) error            { return nil }
func (c *scriptedConn) HandshakeContext(context.Context) error { return nil }
func (c *scriptedConn) didResume() bool                        { return false }
func (c *scriptedConn) protocol() string                       { return "h2" }

// serverFrames writes a server's preface and the frames of write.
func serverFrames(write func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 2})
	write(fr, enc, &hb)
	return out.Bytes()
}

// FuzzH2Client: the h2 workload reads whatever a server under test (or a
// proxy) sends. Any input ends the connection's streams, each counted as a
// success or an error, never a panic or a hang, and never more requests
// counted than were started.
func FuzzH2Client(f *testing.F) {
	headers := func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer, id uint32, status string, end bool) {
		hb.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":status", Value: status})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: end})
	}
	f.Add(serverFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		headers(fr, enc, hb, 1, "200", false)
		fr.WriteData(1, true, []byte("hello"))
		headers(fr, enc, hb, 3, "503", true)
	}))
	f.Add(serverFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		fr.WritePing(false, [8]byte{1})
		headers(fr, enc, hb, 1, "100", false)
		headers(fr, enc, hb, 1, "204", true)
		fr.WriteRSTStream(3, http2.ErrCodeRefusedStream)
		fr.WriteGoAway(5, http2.ErrCodeNo, nil)
	}))
	f.Add(serverFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		fr.WriteDataPadded(1, false, make([]byte, 100), make([]byte, 50))
		fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
		headers(fr, enc, hb, 7, "200", true) // a stream never opened
	}))
	f.Add(serverFrames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		for id := uint32(1); id <= 45; id += 2 { // more answers than Count starts
			headers(fr, enc, hb, id, "200", true)
		}
	}))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const count = 20
		r := &runner{o: Options{Workload: "h2", Streams: 4, Count: count, Path: "/", Timeout: time.Second}, stop: context.Background()}
		w := r.newWorker()
		sc := &scriptedConn{r: bytes.NewReader(data)}
		c := &conn{raw: sc, unwatch: func() bool { return true }, tls: sc, r: bufio.NewReader(sc)}
		h := w.newH2Conn(c, origin{sni: "o1.bench.test", authority: "o1.bench.test:443"})
		if err := h.start(); err != nil {
			return
		}
		_, measured, _ := w.begin()
		h.run(measured)
		if len(h.streams) != 0 {
			t.Fatalf("%d streams left open after the connection ended", len(h.streams))
		}
		// claimed goes one past Count: the claim that found the run over.
		done, failed, started := r.done.Load(), r.failed.Load(), min(r.claimed.Load(), count)
		if done+failed != started {
			t.Fatalf("%d succeeded and %d failed of %d started", done, failed, started)
		}
	})
}
