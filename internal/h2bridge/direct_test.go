package h2bridge

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// direct drives a bridge by calls, with hand-made frames from both peers,
// for what needs a misbehaving origin or exact control of the bytes.
type direct struct {
	t              *testing.T
	b              *Bridge
	logs           []StreamLog
	clientEnc      *hpack.Encoder
	originEnc      *hpack.Encoder
	encBuf         bytes.Buffer
	clientDec      *hpack.Decoder // decodes what the bridge sends the client
	originDec      *hpack.Decoder
	toClient       []got
	toOrigin       []got
	err            error
	originSettings []http2.Setting
}

// got is a frame the bridge wrote, copied out of its buffer.
type got struct {
	typ    http2.FrameType
	stream uint32
	flags  http2.Flags
	fields []hpack.HeaderField
	data   []byte
	code   http2.ErrCode
	last   uint32
	debug  string
	inc    uint32
}

func newDirect(t *testing.T, cfg Config, originSettings ...http2.Setting) *direct {
	d := &direct{t: t}
	cfg.Log = func(s *StreamLog) { d.logs = append(d.logs, *s) }
	d.b = New(cfg)
	d.clientEnc = hpack.NewEncoder(&d.encBuf)
	d.originEnc = hpack.NewEncoder(&d.encBuf)
	d.clientDec = hpack.NewDecoder(4096, nil)
	d.originDec = hpack.NewDecoder(4096, nil)
	c, o := d.b.Start(nil, nil)
	d.toClient = d.parse(c, d.clientDec)
	d.toOrigin = d.parse(o[len(http2.ClientPreface):], d.originDec)
	d.client(append([]byte(http2.ClientPreface), frames(func(fr *http2.Framer) { fr.WriteSettings() })...))
	d.origin(frames(func(fr *http2.Framer) { fr.WriteSettings(originSettings...) }))
	if d.err != nil {
		t.Fatal(d.err)
	}
	return d
}

func frames(f func(fr *http2.Framer)) []byte {
	var buf bytes.Buffer
	f(http2.NewFramer(&buf, nil))
	return buf.Bytes()
}

func (d *direct) block(enc *hpack.Encoder, fields ...string) []byte {
	d.encBuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), d.encBuf.Bytes()...)
}

func (d *direct) clientHeaders(id uint32, end bool, fields ...string) []byte {
	blk := d.block(d.clientEnc, fields...)
	return frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: end, EndHeaders: true})
	})
}

func (d *direct) originHeaders(id uint32, end bool, fields ...string) []byte {
	blk := d.block(d.originEnc, fields...)
	return frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: end, EndHeaders: true})
	})
}

func (d *direct) client(p []byte) error { return d.call(d.b.FromClient, p) }
func (d *direct) origin(p []byte) error { return d.call(d.b.FromOrigin, p) }

func (d *direct) call(from func([]byte, *Output) error, p []byte) error {
	var out Output
	err := from(p, &out)
	if err != nil && d.err == nil {
		d.err = err
	}
	d.toClient = append(d.toClient, d.parse(out.ToClient, d.clientDec)...)
	d.toOrigin = append(d.toOrigin, d.parse(out.ToOrigin, d.originDec)...)
	return err
}

// parse reads the frames the bridge wrote, decoding header blocks in the
// receiving peer's HPACK context.
func (d *direct) parse(b []byte, dec *hpack.Decoder) []got {
	d.t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.ReadMetaHeaders = dec
	fr.MaxHeaderListSize = 1 << 20
	var out []got
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			d.t.Fatalf("the bridge wrote a frame Go cannot read: %v", err)
		}
		g := got{typ: f.Header().Type, stream: f.Header().StreamID, flags: f.Header().Flags}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			g.typ = http2.FrameHeaders
			g.fields = f.Fields
		case *http2.DataFrame:
			g.data = append([]byte(nil), f.Data()...)
		case *http2.RSTStreamFrame:
			g.code = f.ErrCode
		case *http2.WindowUpdateFrame:
			g.inc = f.Increment
		case *http2.GoAwayFrame:
			g.code, g.last, g.debug = f.ErrCode, f.LastStreamID, string(f.DebugData())
		}
		out = append(out, g)
	}
}

// take returns and forgets the frames of typ written so far to one side.
func take(fs *[]got, typ http2.FrameType) []got {
	var r []got
	for _, f := range *fs {
		if f.typ == typ {
			r = append(r, f)
		}
	}
	*fs = nil
	return r
}

func field(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// wantGoAway checks that the connection failed with code toward the
// client (or the origin) and that the other side was told too.
func (d *direct) wantGoAway(side string, code http2.ErrCode) {
	d.t.Helper()
	var ce *ConnError
	if !errors.As(d.err, &ce) || ce.Side != side || ce.Code != code {
		d.t.Fatalf("error %v, want %s %v", d.err, side, code)
	}
	fault, other := take(&d.toClient, http2.FrameGoAway), take(&d.toOrigin, http2.FrameGoAway)
	if side == "origin" {
		fault, other = other, fault
	}
	if len(fault) != 1 || fault[0].code != code || fault[0].debug == "" || len(other) != 1 {
		d.t.Fatalf("GOAWAY to %s %+v, to the other side %+v", side, fault, other)
	}
}
