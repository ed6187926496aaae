package h2bridge

import (
	"testing"

	"golang.org/x/net/http2"
)

func TestOriginGoAwayPassedOn(t *testing.T) {
	d := newDirect(t, Config{})
	for id := uint32(1); id <= 5; id += 2 {
		d.client(d.clientHeaders(id, true, validRequest...))
	}
	d.toClient, d.toOrigin = nil, nil
	d.origin(frames(func(fr *http2.Framer) { fr.WriteGoAway(3, http2.ErrCodeNo, []byte("shutting down")) }))
	rst := take(&d.toClient, http2.FrameRSTStream)
	if len(rst) != 1 || rst[0].stream != 5 || rst[0].code != http2.ErrCodeRefusedStream {
		t.Errorf("streams above the origin's last: %+v", rst)
	}
	d.client(d.clientHeaders(7, true, validRequest...))
	if n := len(take(&d.toOrigin, http2.FrameHeaders)); n != 0 {
		t.Errorf("%d streams sent to an origin going away", n)
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
	// Stream 1 still completes.
	d.origin(d.originHeaders(1, true, ":status", "200"))
	h := take(&d.toClient, http2.FrameHeaders)
	if len(h) != 1 || h[0].stream != 1 || field(h[0].fields, ":status") != "200" {
		t.Errorf("stream 1: %+v", h)
	}
}

func TestOriginGoAwayLastStreamMapped(t *testing.T) {
	d := newDirect(t, Config{})
	d.client(d.clientHeaders(1, true, validRequest...))
	d.client(d.clientHeaders(3, true, validRequest...))
	d.toClient = nil
	d.origin(frames(func(fr *http2.Framer) { fr.WriteGoAway(1, http2.ErrCodeEnhanceYourCalm, nil) }))
	g := take(&d.toClient, http2.FrameGoAway)
	if len(g) != 1 || g[0].last != 1 || g[0].code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY to the client: %+v", g)
	}
}

func TestPushPromiseIsConnectionError(t *testing.T) {
	d := newDirect(t, Config{})
	d.client(d.clientHeaders(1, true, validRequest...))
	blk := d.block(d.originEnc, validRequest...)
	d.origin(frames(func(fr *http2.Framer) {
		fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: blk, EndHeaders: true})
	}))
	d.wantGoAway("origin", http2.ErrCodeProtocol)
}

func TestMalformedResponsesReset(t *testing.T) {
	cases := []struct {
		name   string
		fields []string
		end    bool
		data   string
	}{
		{"connection field", []string{":status", "200", "connection", "close"}, true, ""},
		{"missing status", []string{"x-a", "1"}, true, ""},
		{"101", []string{":status", "101"}, true, ""},
		{"request pseudo", []string{":status", "200", ":path", "/"}, true, ""},
		{"uppercase", []string{":status", "200", "Set-Cookie", "a=b"}, true, ""},
		{"content-length long", []string{":status", "200", "content-length", "2"}, false, "abc"},
		{"content-length short", []string{":status", "200", "content-length", "5"}, false, "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirect(t, Config{})
			d.client(d.clientHeaders(1, true, validRequest...))
			d.toClient, d.toOrigin = nil, nil
			d.origin(d.originHeaders(1, tc.end, tc.fields...))
			if tc.data != "" {
				d.origin(frames(func(fr *http2.Framer) { fr.WriteData(1, true, []byte(tc.data)) }))
			}
			if d.err != nil {
				t.Fatal(d.err)
			}
			toOrigin, toClient := take(&d.toOrigin, http2.FrameRSTStream), take(&d.toClient, http2.FrameRSTStream)
			if len(toOrigin) != 1 || toOrigin[0].code != http2.ErrCodeProtocol || len(toClient) != 1 {
				t.Errorf("RST_STREAM to the origin %+v, to the client %+v", toOrigin, toClient)
			}
			if len(d.logs) != 1 || d.logs[0].Reset == "" {
				t.Errorf("logs %+v", d.logs)
			}
		})
	}
}

// TestExtendedConnect: once the origin allows RFC 8441's extended CONNECT
// the bridge advertises it too, judges such a stream like any request, and
// relays its DATA both ways.
func TestExtendedConnect(t *testing.T) {
	var judged *Request
	judge := func(r *Request) Verdict { c := *r; judged = &c; return Verdict{Allow: r.Path != "/blocked"} }
	d := newDirect(t, Config{Judge: judge}, http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	advertised := false
	for _, f := range d.toClient {
		advertised = advertised || f.typ == http2.FrameSettings && f.flags == 0
	}
	if !advertised {
		t.Fatal("ENABLE_CONNECT_PROTOCOL not passed on")
	}
	ws := []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "echo.example", ":path", "/chat"}
	d.client(d.clientHeaders(1, false, ws...))
	if judged == nil || judged.Protocol != "websocket" || judged.Path != "/chat" {
		t.Fatalf("judged %+v", judged)
	}
	h := take(&d.toOrigin, http2.FrameHeaders)
	if len(h) != 1 || field(h[0].fields, ":protocol") != "websocket" {
		t.Fatalf("to the origin: %+v", h)
	}
	d.origin(d.originHeaders(1, false, ":status", "200"))
	d.client(frames(func(fr *http2.Framer) { fr.WriteData(1, false, []byte("hello")) }))
	d.origin(frames(func(fr *http2.Framer) { fr.WriteData(1, false, []byte("world")) }))
	up, down := take(&d.toOrigin, http2.FrameData), take(&d.toClient, http2.FrameData)
	if len(up) != 1 || string(up[0].data) != "hello" || len(down) != 1 || string(down[0].data) != "world" {
		t.Errorf("up %+v, down %+v", up, down)
	}
	ws[len(ws)-1] = "/blocked"
	d.client(d.clientHeaders(3, false, ws...))
	resp := take(&d.toClient, http2.FrameHeaders)
	if len(resp) != 1 || field(resp[0].fields, ":status") != "403" || len(take(&d.toOrigin, http2.FrameHeaders)) != 0 {
		t.Errorf("blocked extended CONNECT: %+v", resp)
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
}

// TestCloseLogsOpenStreams: a stream still open when the connection ends
// gets its log line, and the bridge lets go of what it held.
func TestCloseLogsOpenStreams(t *testing.T) {
	d := newDirect(t, Config{})
	d.client(d.clientHeaders(1, false, validRequest...))
	d.client(frames(func(fr *http2.Framer) { fr.WriteData(1, false, make([]byte, 16384)) }))
	d.client([]byte{0, 0}) // a partial frame
	if d.b.Buffered() == 0 {
		t.Fatal("nothing held before Close")
	}
	d.b.Close()
	if len(d.logs) != 1 || d.logs[0].StreamID != 1 || d.logs[0].Reset != "connection closed" || d.logs[0].BytesIn != 16384 {
		t.Errorf("logs %+v", d.logs)
	}
	if d.b.Buffered() != 0 {
		t.Errorf("bridge holds %d bytes after Close", d.b.Buffered())
	}
	var out Output
	if err := d.b.FromClient([]byte{0}, &out); err == nil {
		t.Error("a closed bridge took input")
	}
}

// TestSplitAnywhere feeds a request a byte at a time: frames split across
// calls are reassembled.
func TestSplitAnywhere(t *testing.T) {
	d := newDirect(t, Config{})
	d.toOrigin = nil
	p := append(d.clientHeaders(1, false, with("content-length", "5")...), frames(func(fr *http2.Framer) {
		fr.WriteData(1, true, []byte("hello"))
	})...)
	for i := range p {
		if err := d.client(p[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	var body []byte
	var end bool
	for _, f := range d.toOrigin {
		if f.typ == http2.FrameData {
			body = append(body, f.data...)
			end = end || f.flags.Has(http2.FlagDataEndStream)
		}
	}
	h := take(&d.toOrigin, http2.FrameHeaders)
	if len(h) != 1 || field(h[0].fields, ":path") != "/x" || string(body) != "hello" || !end {
		t.Fatalf("headers %+v, body %q, end %v", h, body, end)
	}
}
