package h2bridge

import (
	"encoding/binary"

	"golang.org/x/net/http2"
)

const frameHeaderLen = 9

// frame is one frame as received: payload aliases the caller's input (or
// the side's partial-frame buffer) and is valid only while it is handled.
type frame struct {
	typ     http2.FrameType
	flags   http2.Flags
	stream  uint32
	payload []byte
}

// frameLength reads the length field of a frame header (§4.1).
func frameLength(h []byte) int {
	return int(h[0])<<16 | int(h[1])<<8 | int(h[2])
}

func parseFrame(b []byte) frame {
	return frame{
		typ:     http2.FrameType(b[3]),
		flags:   http2.Flags(b[4]),
		stream:  binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1),
		payload: b[frameHeaderLen:],
	}
}

// unpad strips the Pad Length field and padding of a PADDED frame (§6.1).
func unpad(f frame, padded http2.Flags) ([]byte, bool) {
	p := f.payload
	if !f.flags.Has(padded) {
		return p, true
	}
	if len(p) == 0 {
		return nil, false
	}
	n := int(p[0])
	if n >= len(p) {
		return nil, false
	}
	return p[1 : len(p)-n], true
}

func appendFrameHeader(dst []byte, length int, typ http2.FrameType, flags http2.Flags, stream uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
}

func appendFrame(dst []byte, typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	dst = appendFrameHeader(dst, len(payload), typ, flags, stream)
	return append(dst, payload...)
}

func appendRST(dst []byte, stream uint32, code http2.ErrCode) []byte {
	dst = appendFrameHeader(dst, 4, http2.FrameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

func appendWindowUpdate(dst []byte, stream uint32, n uint32) []byte {
	dst = appendFrameHeader(dst, 4, http2.FrameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(dst, n)
}

func appendGoAway(dst []byte, last uint32, code http2.ErrCode, debug string) []byte {
	dst = appendFrameHeader(dst, 8+len(debug), http2.FrameGoAway, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, last)
	dst = binary.BigEndian.AppendUint32(dst, uint32(code))
	return append(dst, debug...)
}

type setting struct {
	id  http2.SettingID
	val uint32
}

func appendSettings(dst []byte, s ...setting) []byte {
	dst = appendFrameHeader(dst, 6*len(s), http2.FrameSettings, 0, 0)
	for _, x := range s {
		dst = binary.BigEndian.AppendUint16(dst, uint16(x.id))
		dst = binary.BigEndian.AppendUint32(dst, x.val)
	}
	return dst
}

// appendHeaderBlock writes block as HEADERS and as many CONTINUATION
// frames as the peer's SETTINGS_MAX_FRAME_SIZE needs, back to back (§6.10).
func appendHeaderBlock(dst []byte, stream uint32, block []byte, endStream bool, maxFrame int) []byte {
	typ, flags := http2.FrameHeaders, http2.Flags(0)
	if endStream {
		flags = http2.FlagHeadersEndStream
	}
	for {
		n := min(len(block), maxFrame)
		f := flags
		if n == len(block) {
			f |= http2.FlagHeadersEndHeaders
		}
		dst = appendFrame(dst, typ, f, stream, block[:n])
		block = block[n:]
		if len(block) == 0 {
			return dst
		}
		typ, flags = http2.FrameContinuation, 0
	}
}
