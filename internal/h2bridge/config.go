package h2bridge

import "time"

// Config is what the edge decides for a bridge.
type Config struct {
	// Judge decides each request stream from its decoded request headers,
	// before any of it reaches the origin. Nil allows every stream.
	Judge func(r *Request) Verdict
	// Log is called once per stream when it ends (completed, reset,
	// refused, or at Close).
	Log func(s *StreamLog)
	// MaxConcurrentStreams is advertised to the client; default 100.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a decoded header block (RFC 9113 §6.5.2
	// accounting: name + value + 32 per field); default 64 KiB.
	MaxHeaderListSize uint32
	// MaxBuffered bounds the bytes the bridge holds for one connection
	// (queued DATA and partial frames); default 1 MiB, at least 192 KiB
	// since a connection window cannot be below 65,535 (§6.9.2).
	MaxBuffered int
}

// Request is what a stream asks for, as Judge sees it.
type Request struct {
	StreamID uint32
	Method   string
	Scheme   string
	// Authority is :authority, or the Host field when :authority is absent.
	Authority string
	Path      string
	// Protocol is :protocol of an extended CONNECT (RFC 8441), else "".
	Protocol string
}

// Verdict is Judge's answer for one stream.
type Verdict struct {
	Allow bool
	// Status is what a refused stream is answered (403 when zero).
	Status int
	// Message is the body of the edge's page for a refused stream.
	Message string
	// Rule names the rule that decided, for the log.
	Rule string
}

// StreamLog is the record of one stream, handed to Config.Log when it ends.
type StreamLog struct {
	StreamID          uint32
	Method, Scheme    string
	Authority, Path   string
	Protocol          string
	Status            int   // final status the client was sent (0 if none)
	BytesIn, BytesOut int64 // request body from the client, response body to it
	Start, End        time.Time
	Verdict           Verdict
	// Reset says why the stream was reset or refused; "" when it completed.
	Reset string
}

const (
	defaultMaxConcurrentStreams = 100
	defaultMaxHeaderListSize    = 64 << 10
	defaultMaxBuffered          = 1 << 20
	// frameSize is the SETTINGS_MAX_FRAME_SIZE the bridge keeps for what
	// it receives: the protocol's default, so it is never advertised.
	frameSize = 16384
	// minConnWindow is the initial connection window, which SETTINGS
	// cannot change (§6.9.2).
	minConnWindow = 65535
)

func (c Config) withDefaults() Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = defaultMaxConcurrentStreams
	}
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = defaultMaxHeaderListSize
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = defaultMaxBuffered
	}
	if c.Judge == nil {
		c.Judge = func(*Request) Verdict { return Verdict{Allow: true} }
	}
	if c.Log == nil {
		c.Log = func(*StreamLog) {}
	}
	return c
}

// recvWindow is the connection window the bridge grants each side: the two
// together, with one partial frame per side, stay within MaxBuffered.
func (c Config) recvWindow() int64 {
	w := int64(c.MaxBuffered-2*(frameHeaderLen+frameSize)) / 2
	return max(w, minConnWindow)
}
