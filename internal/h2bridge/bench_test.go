package h2bridge

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkBridge measures requests through the bridge: per iteration a
// request HEADERS from the client, judged and re-encoded for the origin,
// then response HEADERS and a DATA frame re-encoded for the client.
func BenchmarkBridge(b *testing.B) {
	br := New(Config{Judge: func(r *Request) Verdict { return Verdict{Allow: r.Path != "/admin"} }})
	br.Start(nil, nil)
	var out Output
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(br.FromClient(append([]byte(http2.ClientPreface), frames(func(fr *http2.Framer) { fr.WriteSettings() })...), &out))
	must(br.FromOrigin(frames(func(fr *http2.Framer) { fr.WriteSettings() }), &out))

	// A warm HPACK context encodes the same fields to the same bytes.
	warm := func(fields ...string) (first, rest []byte) {
		var buf bytes.Buffer
		e := hpack.NewEncoder(&buf)
		for round := range 2 {
			buf.Reset()
			for i := 0; i+1 < len(fields); i += 2 {
				e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
			}
			if round == 0 {
				first = append([]byte(nil), buf.Bytes()...)
			}
		}
		return first, append([]byte(nil), buf.Bytes()...)
	}
	reqFirst, reqRest := warm(with("user-agent", "bench", "accept", "*/*")...)
	respFirst, respRest := warm(":status", "200", "content-type", "text/plain", "content-length", "5")
	reqFrame := func(id uint32, blk []byte) []byte {
		return frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true, EndStream: true})
		})
	}
	respFrames := func(id uint32, blk []byte) []byte {
		return frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
			fr.WriteData(id, true, []byte("hello"))
		})
	}
	must(br.FromClient(reqFrame(1, reqFirst), &out))
	must(br.FromOrigin(respFrames(1, respFirst), &out))
	// Each request also returns the credit of the last response's body,
	// as a client does; without it the connection's window toward the
	// client runs out after 64 KiB of bodies and the streams pile up.
	req := append(reqFrame(3, reqRest), frames(func(fr *http2.Framer) { fr.WriteWindowUpdate(0, 5) })...)
	resp := respFrames(3, respRest)
	dataAt := frameHeaderLen + frameLength(resp) + 5

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := uint32(3 + 2*i)
		binary.BigEndian.PutUint32(req[5:], id)
		binary.BigEndian.PutUint32(resp[5:], id)
		binary.BigEndian.PutUint32(resp[dataAt:], id)
		out.ToClient, out.ToOrigin = out.ToClient[:0], out.ToOrigin[:0]
		must(br.FromClient(req, &out))
		must(br.FromOrigin(resp, &out))
	}
	b.StopTimer()
	if len(br.streams) != 0 {
		b.Fatalf("%d streams left open", len(br.streams))
	}
}
