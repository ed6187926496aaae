package h2bridge

import (
	"math"
	"time"

	"golang.org/x/net/http2"
)

// Bridge is one HTTP/2 connection inspected between a client and an origin.
type Bridge struct {
	cfg    Config
	lim    limits
	now    func() time.Time
	client *side
	origin *side

	streams          map[uint32]*stream
	lastClientStream uint32 // highest stream ID the client opened
	lastOriginStream uint32 // highest stream ID sent to the origin
	forwarded        int    // streams open toward the origin
	originMaxStreams uint32
	advertisedMax    uint32 // MAX_CONCURRENT_STREAMS the client was last sent
	connectProtocol  bool   // the origin allows extended CONNECT (RFC 8441)
	originGoAway     bool
	clientGoAway     bool
	resets, refusals budget

	buffered int // DATA bytes queued in streams
	failed   error
}

// Output is what one call produces for each side, appended to the slices
// the caller passes in.
type Output struct {
	ToClient, ToOrigin []byte
}

// New returns a bridge for one connection; Start gives its opening bytes.
func New(cfg Config) *Bridge {
	cfg = cfg.withDefaults()
	b := &Bridge{
		cfg:              cfg,
		lim:              defaultLimits,
		now:              time.Now,
		streams:          make(map[uint32]*stream),
		originMaxStreams: math.MaxUint32,
		advertisedMax:    cfg.MaxConcurrentStreams,
	}
	b.client = newSide("client", &b.cfg, &b.lim)
	b.origin = newSide("origin", &b.cfg, &b.lim)
	b.resets.limit = b.lim.resets
	b.refusals.limit = b.lim.refusals
	return b
}

// Start returns the bridge's opening bytes: its server SETTINGS for the
// client, and the client preface and SETTINGS for the origin, each followed
// by the WINDOW_UPDATE that raises the connection window to what the
// bridge grants (the initial 65,535 cannot be set by SETTINGS, §6.9.2).
func (b *Bridge) Start(toClient, toOrigin []byte) ([]byte, []byte) {
	grant := uint32(b.client.grant)
	toClient = appendSettings(toClient,
		setting{http2.SettingMaxConcurrentStreams, b.cfg.MaxConcurrentStreams},
		setting{http2.SettingInitialWindowSize, grant},
		setting{http2.SettingMaxHeaderListSize, b.cfg.MaxHeaderListSize})
	if grant > minConnWindow {
		toClient = appendWindowUpdate(toClient, 0, grant-minConnWindow)
	}
	toOrigin = append(toOrigin, http2.ClientPreface...)
	toOrigin = appendSettings(toOrigin,
		setting{http2.SettingEnablePush, 0},
		setting{http2.SettingInitialWindowSize, grant},
		setting{http2.SettingMaxHeaderListSize, b.cfg.MaxHeaderListSize})
	if grant > minConnWindow {
		toOrigin = appendWindowUpdate(toOrigin, 0, grant-minConnWindow)
	}
	return toClient, toOrigin
}

// FromClient consumes the client's plaintext, split anywhere, appending
// what goes to the origin and what goes back to the client (ACKs,
// WINDOW_UPDATEs, the edge's own answers) to out. An error is a connection
// error (*ConnError): GOAWAYs are in out; flush it and close both sides.
func (b *Bridge) FromClient(p []byte, out *Output) error { return b.from(b.client, p, out) }

// FromOrigin consumes the origin's plaintext, as FromClient the client's.
func (b *Bridge) FromOrigin(p []byte, out *Output) error { return b.from(b.origin, p, out) }

// Buffered is how many bytes the bridge holds: queued DATA and partial
// frames.
func (b *Bridge) Buffered() int {
	return b.buffered + len(b.client.in) + len(b.origin.in)
}

// Close ends the bridge: it logs the streams still open and wipes its
// buffers. The bridge answers errors afterwards.
func (b *Bridge) Close() {
	for _, st := range b.streams {
		b.remove(st, "connection closed")
	}
	b.client.wipe()
	b.origin.wipe()
	b.failed = errClosed
}

func (b *Bridge) from(s *side, p []byte, out *Output) error {
	if b.failed != nil {
		return b.failed
	}
	b.client.out, b.origin.out = &out.ToClient, &out.ToOrigin
	defer func() { b.client.out, b.origin.out = nil, nil }()
	err := b.consume(s, p)
	if err == nil {
		b.returnCredit()
		return nil
	}
	b.fail(err)
	return err
}

// fail sends the GOAWAYs of a connection error: the code and reason to the
// side at fault, and the other side a GOAWAY saying the bridge goes.
func (b *Bridge) fail(err error) {
	b.failed = err
	e := err.(*ConnError)
	if e.Side == "client" {
		*b.client.out = appendGoAway(*b.client.out, b.lastClientStream, e.Code, e.Reason)
		*b.origin.out = appendGoAway(*b.origin.out, 0, http2.ErrCodeNo, "client connection error")
		return
	}
	*b.origin.out = appendGoAway(*b.origin.out, 0, e.Code, e.Reason)
	*b.client.out = appendGoAway(*b.client.out, b.lastClientStream, http2.ErrCodeInternal, "origin connection error")
}

// consume splits p into frames, keeping a partial frame for the next call.
func (b *Bridge) consume(s *side, p []byte) error {
	if s.prefaceLeft > 0 {
		want := http2.ClientPreface[len(http2.ClientPreface)-s.prefaceLeft:]
		n := min(len(want), len(p))
		if string(p[:n]) != want[:n] {
			return s.connError(http2.ErrCodeProtocol, "not the HTTP/2 client preface")
		}
		s.prefaceLeft -= n
		p = p[n:]
	}
	if len(s.in) > 0 {
		var done bool
		var err error
		if p, done, err = s.completeFrame(p); err != nil || !done {
			return err
		}
		err = b.handleFrame(s, parseFrame(s.in))
		clear(s.in)
		s.in = s.in[:0]
		if err != nil {
			return err
		}
	}
	for len(p) >= frameHeaderLen {
		n := frameLength(p)
		if n > frameSize {
			return s.connError(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
		}
		if len(p) < frameHeaderLen+n {
			break
		}
		if err := b.handleFrame(s, parseFrame(p[:frameHeaderLen+n])); err != nil {
			return err
		}
		p = p[frameHeaderLen+n:]
	}
	if len(p) > 0 {
		if s.in == nil {
			s.in = make([]byte, 0, frameHeaderLen+frameSize)
		}
		s.in = append(s.in, p...)
	}
	return nil
}

// completeFrame adds to the partial frame what p has of it.
func (s *side) completeFrame(p []byte) (rest []byte, done bool, err error) {
	if len(s.in) < frameHeaderLen {
		n := min(frameHeaderLen-len(s.in), len(p))
		s.in = append(s.in, p[:n]...)
		p = p[n:]
		if len(s.in) < frameHeaderLen {
			return p, false, nil
		}
		if frameLength(s.in) > frameSize {
			return p, false, s.connError(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
		}
	}
	need := frameHeaderLen + frameLength(s.in) - len(s.in)
	n := min(need, len(p))
	s.in = append(s.in, p[:n]...)
	return p[n:], n == need, nil
}

func (b *Bridge) handleFrame(s *side, f frame) error {
	if !s.gotSettings && (f.typ != http2.FrameSettings || f.flags.Has(http2.FlagSettingsAck)) {
		return s.connError(http2.ErrCodeProtocol, "first frame is not SETTINGS")
	}
	if s.block.active && (f.typ != http2.FrameContinuation || f.stream != s.block.stream) {
		return s.connError(http2.ErrCodeProtocol, "header block interrupted by "+f.typ.String())
	}
	switch f.typ {
	case http2.FrameData:
		return b.onData(s, f)
	case http2.FrameHeaders:
		return b.onHeaders(s, f)
	case http2.FrameContinuation:
		return b.onContinuation(s, f)
	case http2.FramePriority:
		return onPriority(s, f)
	case http2.FrameRSTStream:
		return b.onRST(s, f)
	case http2.FrameSettings:
		return b.onSettings(s, f)
	case http2.FramePushPromise:
		return s.connError(http2.ErrCodeProtocol, "PUSH_PROMISE: push is disabled")
	case http2.FramePing:
		return b.onPing(s, f)
	case http2.FrameGoAway:
		return b.onGoAway(s, f)
	case http2.FrameWindowUpdate:
		return b.onWindowUpdate(s, f)
	}
	return nil // unknown frame types are ignored (§5.5)
}
