package h2bridge

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Each flood ends in GOAWAY ENHANCE_YOUR_CALM to the client (and a GOAWAY
// to the origin), with the bridge holding next to nothing.

func TestRapidResetEndsConnection(t *testing.T) {
	d := newDirect(t, Config{})
	forwarded := 0
	for id := uint32(1); d.err == nil && id < 4000; id += 2 {
		d.client(d.clientHeaders(id, true, validRequest...))
		d.client(frames(func(fr *http2.Framer) { fr.WriteRSTStream(id, http2.ErrCodeCancel) }))
		for _, f := range d.toOrigin {
			if f.typ == http2.FrameHeaders {
				forwarded++
			}
		}
		if d.err == nil {
			d.toOrigin = nil
		}
	}
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
	if forwarded > defaultLimits.resets+1 {
		t.Errorf("origin was sent %d streams, budget %d", forwarded, defaultLimits.resets)
	}
	if len(d.b.streams) > 1 || d.b.Buffered() != 0 {
		t.Errorf("bridge holds %d streams, %d bytes", len(d.b.streams), d.b.Buffered())
	}
}

// TestProvokedResetsEndConnection: a client that makes the bridge reset
// streams the origin has open, by stream errors instead of RST_STREAM
// (CVE-2025-8671, "MadeYouReset"), spends the rapid-reset budget all the
// same.
func TestProvokedResetsEndConnection(t *testing.T) {
	for name, provoke := range map[string]func(d *direct, id uint32) []byte{
		"WINDOW_UPDATE of 0": func(d *direct, id uint32) []byte {
			return frames(func(fr *http2.Framer) {
				fr.AllowIllegalWrites = true
				fr.WriteWindowUpdate(id, 0)
			})
		},
		"trailers without END_STREAM": func(d *direct, id uint32) []byte {
			blk := d.block(d.clientEnc, "x-trailer", "y")
			return frames(func(fr *http2.Framer) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDirect(t, Config{})
			forwarded := 0
			for id := uint32(1); d.err == nil && id < 4000; id += 2 {
				d.client(d.clientHeaders(id, false, validRequest...))
				d.client(provoke(d, id))
				for _, f := range d.toOrigin {
					if f.typ == http2.FrameHeaders {
						forwarded++
					}
				}
				if d.err == nil {
					d.toOrigin = nil
				}
			}
			d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
			if forwarded > defaultLimits.resets+1 {
				t.Errorf("origin was sent %d streams, budget %d", forwarded, defaultLimits.resets)
			}
		})
	}
}

func TestContinuationFloodEndsConnection(t *testing.T) {
	d := newDirect(t, Config{})
	blk := d.block(d.clientEnc, validRequest...)
	d.client(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:2]})
	}))
	for i := 0; d.err == nil && i < 1000; i++ {
		d.client(frames(func(fr *http2.Framer) { fr.WriteContinuation(1, false, nil) }))
	}
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
	if len(take(&d.toOrigin, http2.FrameHeaders)) != 0 {
		t.Error("a header block reached the origin")
	}
}

func TestHugeHeaderBlockEndsConnection(t *testing.T) {
	d := newDirect(t, Config{})
	blk := d.block(d.clientEnc, with("cookie", strings.Repeat("a", 1<<20))...)
	d.client(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:16384]})
	}))
	sent := 16384
	for ; d.err == nil && sent < len(blk); sent += 16384 {
		d.client(frames(func(fr *http2.Framer) { fr.WriteContinuation(1, false, blk[sent:min(sent+16384, len(blk))]) }))
		if d.b.Buffered() > 2*16384 {
			t.Fatalf("bridge holds %d bytes", d.b.Buffered())
		}
	}
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
	if sent > int(defaultMaxHeaderListSize)+2*16384 {
		t.Errorf("%d bytes of header block accepted before the error", sent)
	}
}

func TestHPACKBombEndsConnection(t *testing.T) {
	d := newDirect(t, Config{})
	big := hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}
	d.encBuf.Reset()
	d.clientEnc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	d.clientEnc.WriteField(big) // indexed into the dynamic table
	for range 1000 {
		d.clientEnc.WriteField(big) // one byte each, 4 KB decoded each
	}
	blk := append([]byte(nil), d.encBuf.Bytes()...)
	if len(blk) > 16384 {
		t.Fatalf("bomb of %d bytes", len(blk))
	}
	d.client(frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true, EndStream: true})
	}))
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
	if len(take(&d.toOrigin, http2.FrameHeaders)) != 0 {
		t.Error("the bomb reached the origin")
	}
}

func TestSettingsAndPingFloodsEndConnection(t *testing.T) {
	for _, kind := range []string{"SETTINGS", "PING"} {
		t.Run(kind, func(t *testing.T) {
			d := newDirect(t, Config{})
			for i := 0; d.err == nil && i < 5000; i++ {
				d.client(frames(func(fr *http2.Framer) {
					if kind == "PING" {
						fr.WritePing(false, [8]byte{byte(i)})
					} else {
						fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
					}
				}))
			}
			acks := 0
			for _, f := range d.toClient {
				if f.typ == http2.FramePing || f.typ == http2.FrameSettings {
					acks++
				}
			}
			d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
			if acks > defaultLimits.control+2 {
				t.Errorf("%d ACKs, budget %d", acks, defaultLimits.control)
			}
		})
	}
}

func TestEmptyDataFloodEndsConnection(t *testing.T) {
	d := newDirect(t, Config{})
	d.client(d.clientHeaders(1, false, validRequest...))
	for i := 0; d.err == nil && i < 5000; i++ {
		d.client(frames(func(fr *http2.Framer) { fr.WriteData(1, false, nil) }))
	}
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
}

func TestStreamCountAbuse(t *testing.T) {
	d := newDirect(t, Config{MaxConcurrentStreams: 10})
	id := uint32(1)
	for ; id < 20; id += 2 {
		d.client(d.clientHeaders(id, true, validRequest...))
	}
	if n := len(take(&d.toOrigin, http2.FrameHeaders)); n != 10 {
		t.Fatalf("%d streams forwarded, limit 10", n)
	}
	d.client(d.clientHeaders(id, true, validRequest...))
	rst := take(&d.toClient, http2.FrameRSTStream)
	if len(rst) != 1 || rst[0].stream != id || rst[0].code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream over the limit: %+v", rst)
	}
	for i := 0; d.err == nil && i < 1000; i++ {
		id += 2
		d.client(d.clientHeaders(id, true, validRequest...))
	}
	d.wantGoAway("client", http2.ErrCodeEnhanceYourCalm)
	if n := len(take(&d.toOrigin, http2.FrameHeaders)); n != 0 {
		t.Errorf("%d refused streams reached the origin", n)
	}
}

func TestFrameOverMaxFrameSize(t *testing.T) {
	d := newDirect(t, Config{})
	hdr := appendFrameHeader(nil, frameSize+1, http2.FrameData, 0, 1)
	d.client(hdr)
	d.wantGoAway("client", http2.ErrCodeFrameSize)
	if d.b.Buffered() != 0 {
		t.Errorf("bridge holds %d bytes", d.b.Buffered())
	}
}

// TestFlowControlViolation: the origin grants nothing beyond its initial
// window, so the bridge queues the client's upload up to the window it
// granted, returning credit only for what the origin took; a client that
// sends beyond it is a FLOW_CONTROL_ERROR, and the bridge never held more
// than MaxBuffered.
func TestFlowControlViolation(t *testing.T) {
	const maxBuffered = 256 << 10
	d := newDirect(t, Config{MaxBuffered: maxBuffered})
	d.client(d.clientHeaders(1, false, validRequest...))
	d.toClient = nil
	chunk := make([]byte, 16384)
	for i := 0; d.err == nil && i < 100; i++ {
		d.client(frames(func(fr *http2.Framer) { fr.WriteData(1, false, chunk) }))
		if d.b.Buffered() > maxBuffered {
			t.Fatalf("bridge holds %d bytes, bound %d", d.b.Buffered(), maxBuffered)
		}
	}
	credit := 0
	for _, f := range d.toClient {
		if f.typ == http2.FrameWindowUpdate && f.stream == 0 {
			credit += int(f.inc)
		}
	}
	if credit > minConnWindow {
		t.Errorf("client credited %d bytes, the origin took %d", credit, minConnWindow)
	}
	d.wantGoAway("client", http2.ErrCodeFlowControl)
}
