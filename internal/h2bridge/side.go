package h2bridge

import (
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// side is the bridge's half of one peer's connection: the bridge is that
// peer's receiver (windows it granted, the HPACK decoder for what it sends)
// and its sender (windows the peer granted, the HPACK encoder toward it).
type side struct {
	name     string // "client" or "origin"
	isClient bool
	out      *[]byte // frames to this peer, during a FromClient/FromOrigin call

	in          []byte // a partial frame from this peer
	prefaceLeft int    // bytes of the client preface still expected (§3.4)
	gotSettings bool

	dec   *hpack.Decoder
	block headerBlock
	enc   *hpack.Encoder
	encW  appendWriter

	// What the peer allows the bridge to send.
	peerMaxFrame      int
	peerInitialWindow int64
	sendWindow        int64

	// What the bridge allows the peer to send.
	recvWindow  int64 // left on the connection
	grant       int64 // the connection and stream windows advertised
	creditOwed  int64 // connection credit not yet returned
	control     budget
	emptyFrames budget
}

// headerBlock is a header block being received: HEADERS and its
// CONTINUATION frames, decoded as they arrive.
type headerBlock struct {
	active     bool
	stream     uint32
	endStream  bool
	selfDep    bool // its PRIORITY names the stream itself (§5.3.1)
	fields     []hpack.HeaderField
	size       int // decoded, as §6.5.2 counts it
	compressed int
	frames     int
	overLimit  bool
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func newSide(name string, cfg *Config, lim *limits) *side {
	s := &side{
		name:              name,
		isClient:          name == "client",
		peerMaxFrame:      frameSize,
		peerInitialWindow: minConnWindow,
		sendWindow:        minConnWindow,
		grant:             cfg.recvWindow(),
		control:           budget{limit: lim.control},
		emptyFrames:       budget{limit: lim.emptyFrames},
	}
	s.recvWindow = s.grant
	if s.isClient {
		s.prefaceLeft = len(http2.ClientPreface)
	}
	maxList := int(cfg.MaxHeaderListSize)
	s.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		b := &s.block
		b.size += int(f.Size())
		if b.size > maxList {
			b.overLimit = true
			s.dec.SetEmitEnabled(false)
			return
		}
		b.fields = append(b.fields, f)
	})
	s.dec.SetMaxStringLength(maxList)
	s.enc = hpack.NewEncoder(&s.encW)
	return s
}

// writeHeaders encodes fields in this peer's HPACK context and sends them
// as one header block. Encoding happens here, at the moment of sending,
// because the peer decodes blocks in the order they are written.
func (s *side) writeHeaders(stream uint32, fields []hpack.HeaderField, endStream bool) {
	s.encW.b = s.encW.b[:0]
	for _, f := range fields {
		s.enc.WriteField(f)
	}
	*s.out = appendHeaderBlock(*s.out, stream, s.encW.b, endStream, s.peerMaxFrame)
	clear(s.encW.b)
}

func (s *side) wipe() {
	clear(s.in[:cap(s.in)])
	s.in = nil
	clear(s.encW.b[:cap(s.encW.b)])
	s.encW.b = nil
	clear(s.block.fields)
	s.block = headerBlock{}
}
