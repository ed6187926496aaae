package h2bridge

import (
	"encoding/binary"
	"strconv"

	"golang.org/x/net/http2"
)

const maxWindow = 1<<31 - 1

// lookup finds the stream a frame from s names. idle reports an ID that
// was never opened toward s: most frames on it are a connection error
// (§5.1). A nil stream that is not idle is closed: its frames are ignored.
func (b *Bridge) lookup(s *side, id uint32) (st *stream, idle bool) {
	if s.isClient {
		if id > b.lastClientStream {
			return nil, true
		}
		return b.streams[id], false
	}
	if id > b.lastOriginStream {
		return nil, true
	}
	if st = b.streams[id]; st != nil && !st.forwarded {
		return nil, false
	}
	return st, false
}

// streamError resets st because s broke the protocol on it (§5.4.2): s
// gets code, the other side learns that the stream is gone. A client that
// provokes the reset of a stream the origin has open makes the origin
// start and drop work just as its own RST_STREAM would (rapid reset by
// stream errors, "MadeYouReset", CVE-2025-8671), so it spends the same
// budget, and the connection error that ends it is returned; for the
// origin's errors it returns nil.
func (b *Bridge) streamError(s *side, st *stream, code http2.ErrCode, reason string) error {
	if !s.isClient {
		*b.origin.out = appendRST(*b.origin.out, st.id, code)
		*b.client.out = appendRST(*b.client.out, st.id, http2.ErrCodeInternal)
		b.remove(st, reason)
		return nil
	}
	*b.client.out = appendRST(*b.client.out, st.id, code)
	open := b.openAtOrigin(st)
	b.cancelAtOrigin(st)
	b.remove(st, reason)
	if open && !b.resets.spend(b.now(), b.lim.window) {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "rapid reset: more than "+strconv.Itoa(b.lim.resets)+" streams reset in "+b.lim.window.String()+" (by the client's stream errors)")
	}
	return nil
}

// openAtOrigin reports whether the origin still has st open.
func (b *Bridge) openAtOrigin(st *stream) bool {
	return st.forwarded && !(st.req.sentEnd && st.resp.ended)
}

// cancelAtOrigin tells the origin to stop a stream it still has open.
func (b *Bridge) cancelAtOrigin(st *stream) {
	if b.openAtOrigin(st) {
		*b.origin.out = appendRST(*b.origin.out, st.id, http2.ErrCodeCancel)
	}
}

func (b *Bridge) onRST(s *side, f frame) error {
	if len(f.payload) != 4 {
		return s.connError(http2.ErrCodeFrameSize, "RST_STREAM length")
	}
	if f.stream == 0 {
		return s.connError(http2.ErrCodeProtocol, "RST_STREAM on stream 0")
	}
	st, idle := b.lookup(s, f.stream)
	if idle {
		return s.connError(http2.ErrCodeProtocol, "RST_STREAM on an idle stream")
	}
	if st == nil {
		return nil
	}
	code := http2.ErrCode(binary.BigEndian.Uint32(f.payload))
	if s.isClient {
		if !b.resets.spend(b.now(), b.lim.window) {
			return s.connError(http2.ErrCodeEnhanceYourCalm, "rapid reset: more than "+strconv.Itoa(b.lim.resets)+" streams reset in "+b.lim.window.String())
		}
		b.cancelAtOrigin(st)
		b.remove(st, "client reset the stream: "+code.String())
		return nil
	}
	if code == http2.ErrCodeNo && st.resp.ended {
		// The response is complete and the origin wants no more of the
		// request (§8.1): deliver the response, then stop the client.
		st.stopRequest = true
		st.req.sentEnd = true
		n := st.req.queue.len()
		b.client.creditOwed += int64(n)
		b.buffered -= n
		st.req.queue.wipe()
		b.maybeFinish(st)
		return nil
	}
	*b.client.out = appendRST(*b.client.out, st.id, code)
	b.remove(st, "origin reset the stream: "+code.String())
	return nil
}

func onPriority(s *side, f frame) error {
	if f.stream == 0 {
		return s.connError(http2.ErrCodeProtocol, "PRIORITY on stream 0")
	}
	if len(f.payload) != 5 {
		return s.connError(http2.ErrCodeFrameSize, "PRIORITY length")
	}
	return nil // RFC 9113 deprecates the priority scheme; the bridge relays none of it
}

func (b *Bridge) onPing(s *side, f frame) error {
	if f.stream != 0 {
		return s.connError(http2.ErrCodeProtocol, "PING on a stream")
	}
	if len(f.payload) != 8 {
		return s.connError(http2.ErrCodeFrameSize, "PING length")
	}
	if f.flags.Has(http2.FlagPingAck) {
		return nil
	}
	if !s.control.spend(b.now(), b.lim.window) {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "SETTINGS/PING flood")
	}
	*s.out = appendFrame(*s.out, http2.FramePing, http2.FlagPingAck, 0, f.payload)
	return nil
}

func (b *Bridge) onSettings(s *side, f frame) error {
	if f.stream != 0 {
		return s.connError(http2.ErrCodeProtocol, "SETTINGS on a stream")
	}
	if f.flags.Has(http2.FlagSettingsAck) {
		if len(f.payload) != 0 {
			return s.connError(http2.ErrCodeFrameSize, "SETTINGS ACK with a payload")
		}
		return nil
	}
	if len(f.payload)%6 != 0 {
		return s.connError(http2.ErrCodeFrameSize, "SETTINGS length")
	}
	if !s.control.spend(b.now(), b.lim.window) {
		return s.connError(http2.ErrCodeEnhanceYourCalm, "SETTINGS/PING flood")
	}
	s.gotSettings = true
	for p := f.payload; len(p) > 0; p = p[6:] {
		id := http2.SettingID(binary.BigEndian.Uint16(p))
		if err := b.applySetting(s, id, binary.BigEndian.Uint32(p[2:])); err != nil {
			return err
		}
	}
	*s.out = appendFrame(*s.out, http2.FrameSettings, http2.FlagSettingsAck, 0, nil)
	return nil
}

// applySetting takes one of the peer's settings (§6.5.2).
func (b *Bridge) applySetting(s *side, id http2.SettingID, v uint32) error {
	switch id {
	case http2.SettingHeaderTableSize:
		s.enc.SetMaxDynamicTableSizeLimit(v)
	case http2.SettingEnablePush:
		if v > 1 || (v == 1 && !s.isClient) {
			return s.connError(http2.ErrCodeProtocol, "SETTINGS_ENABLE_PUSH "+strconv.FormatUint(uint64(v), 10))
		}
	case http2.SettingMaxConcurrentStreams:
		if !s.isClient {
			b.originMaxStreams = v
			b.advertiseMaxStreams()
		}
	case http2.SettingInitialWindowSize:
		return b.setInitialWindow(s, v)
	case http2.SettingMaxFrameSize:
		if v < frameSize || v > 1<<24-1 {
			return s.connError(http2.ErrCodeProtocol, "SETTINGS_MAX_FRAME_SIZE out of range")
		}
		s.peerMaxFrame = int(v)
	case http2.SettingEnableConnectProtocol:
		if v > 1 {
			return s.connError(http2.ErrCodeProtocol, "SETTINGS_ENABLE_CONNECT_PROTOCOL "+strconv.FormatUint(uint64(v), 10))
		}
		if s.isClient {
			return nil // only a server's value means anything (RFC 8441 §3)
		}
		if v == 0 && b.connectProtocol {
			return s.connError(http2.ErrCodeProtocol, "SETTINGS_ENABLE_CONNECT_PROTOCOL withdrawn")
		}
		if v == 1 && !b.connectProtocol {
			b.connectProtocol = true
			*b.client.out = appendSettings(*b.client.out, setting{http2.SettingEnableConnectProtocol, 1})
		}
	}
	return nil
}

// advertiseMaxStreams tells the client the lower of the configured limit
// and the origin's, so that it does not open streams the origin refuses.
func (b *Bridge) advertiseMaxStreams() {
	v := min(b.cfg.MaxConcurrentStreams, b.originMaxStreams)
	if v != b.advertisedMax {
		b.advertisedMax = v
		*b.client.out = appendSettings(*b.client.out, setting{http2.SettingMaxConcurrentStreams, v})
	}
}

// setInitialWindow applies a new SETTINGS_INITIAL_WINDOW_SIZE of s to the
// windows of every stream sending to s, which may go negative (§6.9.2).
func (b *Bridge) setInitialWindow(s *side, v uint32) error {
	if v > maxWindow {
		return s.connError(http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1")
	}
	delta := int64(v) - s.peerInitialWindow
	s.peerInitialWindow = int64(v)
	for _, st := range b.streams {
		fl := b.toward(s, st)
		fl.sendWindow += delta
		if fl.sendWindow > maxWindow {
			return s.connError(http2.ErrCodeFlowControl, "stream window over 2^31-1")
		}
	}
	if delta > 0 {
		b.pumpAll(s)
	}
	return nil
}

func (b *Bridge) onWindowUpdate(s *side, f frame) error {
	if len(f.payload) != 4 {
		return s.connError(http2.ErrCodeFrameSize, "WINDOW_UPDATE length")
	}
	inc := int64(binary.BigEndian.Uint32(f.payload) & maxWindow)
	if f.stream == 0 {
		if inc == 0 {
			return s.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE of 0")
		}
		if s.sendWindow += inc; s.sendWindow > maxWindow {
			return s.connError(http2.ErrCodeFlowControl, "connection window over 2^31-1")
		}
		b.pumpAll(s)
		return nil
	}
	st, idle := b.lookup(s, f.stream)
	if idle {
		return s.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
	}
	if st == nil {
		return nil
	}
	if inc == 0 {
		return b.streamError(s, st, http2.ErrCodeProtocol, s.name+": WINDOW_UPDATE of 0")
	}
	fl := b.toward(s, st)
	if fl.sendWindow += inc; fl.sendWindow > maxWindow {
		return b.streamError(s, st, http2.ErrCodeFlowControl, s.name+": stream window over 2^31-1")
	}
	b.pump(st, s)
	return nil
}

func (b *Bridge) onGoAway(s *side, f frame) error {
	if f.stream != 0 {
		return s.connError(http2.ErrCodeProtocol, "GOAWAY on a stream")
	}
	if len(f.payload) < 8 {
		return s.connError(http2.ErrCodeFrameSize, "GOAWAY length")
	}
	code := http2.ErrCode(binary.BigEndian.Uint32(f.payload[4:]))
	if s.isClient {
		// The client opens no more streams; the origin may as well know
		// that the connection is ending.
		if !b.clientGoAway {
			b.clientGoAway = true
			*b.origin.out = appendGoAway(*b.origin.out, 0, http2.ErrCodeNo, "client going away")
		}
		return nil
	}
	last := binary.BigEndian.Uint32(f.payload) & maxWindow
	b.originGoAway = true
	// Streams above last never reached the origin's application (§6.8):
	// the client may retry them, which REFUSED_STREAM says (§8.7).
	for id, st := range b.streams {
		if id > last {
			*b.client.out = appendRST(*b.client.out, id, http2.ErrCodeRefusedStream)
			b.remove(st, "origin going away: "+code.String())
		}
	}
	*b.client.out = appendGoAway(*b.client.out, min(last, b.lastClientStream), code, "origin going away")
	return nil
}
