package h2bridge

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds are hand-made client frames: a request with a body and
// trailers, control frames, and some of what the bridge must refuse.
func fuzzSeeds() [][]byte {
	enc := func(fields ...string) []byte {
		var buf bytes.Buffer
		e := hpack.NewEncoder(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return buf.Bytes()
	}
	req := enc(validRequest...)
	return [][]byte{
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: req, EndHeaders: true})
			fr.WriteData(1, false, []byte("body"))
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc("x-sum", "1"), EndHeaders: true, EndStream: true})
		}),
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: req[:3]})
			fr.WriteContinuation(1, true, req[3:])
			fr.WriteRSTStream(1, http2.ErrCodeCancel)
		}),
		frames(func(fr *http2.Framer) {
			fr.WritePing(false, [8]byte{1})
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
			fr.WriteWindowUpdate(0, 1000)
			fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}),
		frames(func(fr *http2.Framer) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(with("Connection", "x", "host", "other")...), EndHeaders: true, EndStream: true})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: enc(":method", "CONNECT", ":authority", "a:1"), EndHeaders: true})
			fr.WriteData(5, true, []byte("x"))
		}),
	}
}

// FuzzFromClient feeds arbitrary bytes, after a valid preface and
// SETTINGS, split at a point of the fuzzer's choosing. Whatever they are,
// the bridge must not panic, must hold no more than MaxBuffered, must
// answer only a *ConnError, and must write only frames Go can read.
func FuzzFromClient(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(uint16(len(s)/2), s)
	}
	f.Fuzz(func(t *testing.T, split uint16, p []byte) {
		b := New(Config{MaxBuffered: 256 << 10})
		toClient, toOrigin := b.Start(nil, nil)
		var out Output
		start := append([]byte(http2.ClientPreface), frames(func(fr *http2.Framer) { fr.WriteSettings() })...)
		if err := b.FromClient(start, &out); err != nil {
			t.Fatal(err)
		}
		if err := b.FromOrigin(frames(func(fr *http2.Framer) { fr.WriteSettings() }), &out); err != nil {
			t.Fatal(err)
		}
		cut := min(int(split), len(p))
		for _, part := range [][]byte{p[:cut], p[cut:]} {
			err := b.FromClient(part, &out)
			var ce *ConnError
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("error %T %v", err, err)
			}
			if b.Buffered() > 256<<10 {
				t.Fatalf("bridge holds %d bytes", b.Buffered())
			}
			if err != nil {
				break
			}
		}
		b.Close()
		readable(t, append(toClient, out.ToClient...))
		readable(t, append(toOrigin[len(http2.ClientPreface):], out.ToOrigin...))
	})
}

// readable checks that b is a sequence of frames Go's Framer accepts,
// and that no header block the bridge wrote breaks §8.2's rules.
func readable(t *testing.T, b []byte) {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 24
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the bridge wrote what Go cannot read: %v", err)
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			for _, hf := range h.Fields {
				if reason := checkField(hf); !hf.IsPseudo() && reason != "" {
					t.Fatalf("forwarded a field that is %s", reason)
				}
			}
		}
	}
}

// FuzzCheckRequest runs the request checks on a header list ("name: value"
// lines); what they accept must be a request the origin can be sent.
func FuzzCheckRequest(f *testing.F) {
	f.Add(":method: GET\n:scheme: https\n:authority: echo.example\n:path: /x", false)
	f.Add(":method: CONNECT\n:protocol: websocket\n:scheme: https\n:authority: a\n:path: /", true)
	f.Add(":method: GET\n:scheme: https\n:path: /x\nhost: a\nte: trailers", false)
	f.Add(":method: OPTIONS\n:scheme: https\n:authority: a\n:path: *\ncontent-length: 0", false)
	f.Add(":method: GET\n:scheme: https\n:path: /\nHost: a\nx: \r\n", false)
	f.Fuzz(func(t *testing.T, list string, connectProtocol bool) {
		var fields []hpack.HeaderField
		for line := range strings.SplitSeq(list, "\n") {
			name, value, _ := strings.Cut(line[min(1, len(line)):], ": ")
			fields = append(fields, hpack.HeaderField{Name: line[:min(1, len(line))] + name, Value: value})
		}
		h, reason := checkRequest(fields, connectProtocol)
		if reason != "" {
			return
		}
		pseudo := true
		for _, f := range fields {
			if !f.IsPseudo() {
				pseudo = false
				if r := checkField(f); r != "" {
					t.Fatalf("accepted a field that is %s", r)
				}
			} else if !pseudo {
				t.Fatal("accepted a pseudo-header after a regular field")
			}
		}
		if h.connect {
			if h.Authority == "" || h.Path != "" || h.Scheme != "" {
				t.Fatalf("accepted CONNECT %+v", h)
			}
			return
		}
		if h.Method == "" || h.Scheme == "" || h.Authority == "" || strings.Contains(h.Authority, "@") {
			t.Fatalf("accepted %+v", h)
		}
		if !strings.HasPrefix(h.Path, "/") && !(h.Path == "*" && h.Method == "OPTIONS") {
			t.Fatalf("accepted :path %q", h.Path)
		}
		if h.Protocol != "" && (!connectProtocol || h.Method != "CONNECT") {
			t.Fatalf("accepted :protocol %+v", h)
		}
	})
}
