package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The h2 workload's client: one worker drives one HTTP/2 connection and
// keeps up to Streams GET streams open on it, framed by x/net's Framer
// and HPACK (no http2.Transport: its goroutines and buffers per stream
// would be the load generator's cost, not the server's). Only what a GET
// client needs is handled: SETTINGS, PING, GOAWAY, RST_STREAM and the
// receive windows; the client sends no bodies, so it never waits for a
// send window.

// The receive windows the client grants (RFC 9113 §6.9): large enough
// that flow control never paces a small response, replenished at half.
const (
	h2StreamWindow = 1 << 20
	h2ConnWindow   = 1 << 24
	h2DefaultLimit = 65535 // the initial window of RFC 9113 §6.9.2
)

// errGoneAway is a stream that the server's GOAWAY left unprocessed.
var errGoneAway = errors.New("the server sent GOAWAY before processing the stream")

// h2Stream is one request in flight.
type h2Stream struct {
	t0       time.Time
	measured bool
	status   int
	unacked  int // DATA bytes not yet given back by WINDOW_UPDATE
}

// h2Conn is the client side of one HTTP/2 connection.
type h2Conn struct {
	w         *worker
	c         *conn
	bw        *bufio.Writer
	fr        *http2.Framer
	enc       *hpack.Encoder
	hbuf      bytes.Buffer
	streams   map[uint32]*h2Stream
	nextID    uint32
	limit     int  // streams in flight: Options.Streams, or fewer if the server says so
	closing   bool // GOAWAY seen or stream IDs used up: no new streams
	unacked   int  // connection-level DATA bytes not yet given back
	authority string
}

// h2Loop: HTTP/2 connections that each keep Streams requests in flight; a
// new connection when one ends. A connection on which the server chose
// HTTP/1.1 by ALPN runs as keepalive does, so a server without HTTP/2 is
// measured on its fallback, and Result.Protocols says so.
func (w *worker) h2Loop() {
	for {
		t0, measured, ok := w.begin()
		if !ok {
			return
		}
		o := w.r.nextOrigin()
		c, err := w.dial(w.r.stop, o)
		if err != nil {
			w.finish(t0, measured, err)
			continue
		}
		proto := c.tls.protocol()
		if proto == "" {
			proto = "http/1.1" // no ALPN answer: HTTP/1.1 (RFC 7301 §3.2)
		}
		if w.protocols == nil {
			w.protocols = map[string]int64{}
		}
		w.protocols[proto]++
		if proto != "h2" {
			w.keepaliveOn(c, o, measured)
			c.Close()
			continue
		}
		h := w.newH2Conn(c, o)
		if err := h.start(); err != nil {
			w.finish(t0, measured, err)
		} else {
			h.run(measured)
		}
		c.Close()
	}
}

func (w *worker) newH2Conn(c *conn, o origin) *h2Conn {
	bw := bufio.NewWriterSize(c.tls, 4096)
	h := &h2Conn{w: w, c: c, bw: bw, fr: http2.NewFramer(bw, c.r), streams: map[uint32]*h2Stream{},
		nextID: 1, limit: w.r.o.Streams, authority: o.authority}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 64 << 10
	h.enc = hpack.NewEncoder(&h.hbuf)
	return h
}

// start writes the client preface and reads the server's, whose first
// frame is its SETTINGS (RFC 9113 §3.4): its stream limit is known before
// the first stream opens.
func (h *h2Conn) start() error {
	if _, err := h.bw.WriteString(http2.ClientPreface); err != nil {
		return h2Err(err)
	}
	if err := h.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
	); err != nil {
		return h2Err(err)
	}
	if err := h.fr.WriteWindowUpdate(0, h2ConnWindow-h2DefaultLimit); err != nil {
		return h2Err(err)
	}
	if err := h.bw.Flush(); err != nil {
		return h2Err(err)
	}
	f, err := h.fr.ReadFrame()
	if err != nil {
		return h2Err(fmt.Errorf("reading the server's preface: %w", err))
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return h2Err(fmt.Errorf("the server's preface began with %v, not SETTINGS", f.Header().Type))
	}
	return h.settings(sf)
}

// run keeps the connection's streams full until it ends or the run does.
// The first request was claimed by the caller.
func (h *h2Conn) run(firstMeasured bool) {
	if err := h.open(time.Now(), firstMeasured); err != nil {
		return
	}
	if err := h.fill(); err != nil {
		return
	}
	for len(h.streams) > 0 {
		f, err := h.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) && h.streams[se.StreamID] != nil {
				h.end(se.StreamID, h2Err(err))
				if err := h.fill(); err != nil {
					return
				}
				continue
			}
			h.failAll(h2Err(err))
			return
		}
		if err := h.handle(f); err != nil {
			h.failAll(h2Err(err))
			return
		}
		if err := h.fill(); err != nil {
			return
		}
	}
}

// handle applies one frame from the server.
func (h *h2Conn) handle(f http2.Frame) error {
	id := f.Header().StreamID
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		s := h.streams[id]
		if s == nil {
			return nil // a stream already ended on our side
		}
		code, err := strconv.Atoi(f.PseudoValue("status"))
		if err != nil || code < 100 || code > 999 {
			h.end(id, h2Err(fmt.Errorf("response without a valid :status (%q)", f.PseudoValue("status"))))
			return nil
		}
		if code >= 200 {
			s.status = code
		}
		if f.StreamEnded() {
			h.complete(id, s)
		}
	case *http2.DataFrame:
		n := int(f.Header().Length) // padding counts against the window too
		h.unacked += n
		if h.unacked >= h2ConnWindow/2 {
			if err := h.fr.WriteWindowUpdate(0, uint32(h.unacked)); err != nil {
				return err
			}
			h.unacked = 0
		}
		s := h.streams[id]
		if s == nil {
			return nil
		}
		if f.StreamEnded() {
			h.complete(id, s)
			return nil
		}
		s.unacked += n
		if s.unacked >= h2StreamWindow/2 {
			if err := h.fr.WriteWindowUpdate(id, uint32(s.unacked)); err != nil {
				return err
			}
			s.unacked = 0
		}
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return h.settings(f)
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			return h.fr.WritePing(true, f.Data)
		}
	case *http2.RSTStreamFrame:
		if h.streams[id] != nil {
			h.end(id, h2Err(fmt.Errorf("the server reset the stream: %v", f.ErrCode)))
		}
	case *http2.GoAwayFrame:
		h.closing = true
		for sid := range h.streams {
			if sid > f.LastStreamID {
				h.end(sid, h2Err(errGoneAway))
			}
		}
	}
	return nil
}

// settings applies the server's SETTINGS and acknowledges them
// (RFC 9113 §6.5.3).
func (h *h2Conn) settings(f *http2.SettingsFrame) error {
	if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
		h.limit = min(h.w.r.o.Streams, int(v))
	}
	if v, ok := f.Value(http2.SettingHeaderTableSize); ok {
		h.enc.SetMaxDynamicTableSizeLimit(v)
	}
	if err := h.fr.WriteSettingsAck(); err != nil {
		return err
	}
	return h.bw.Flush()
}

// fill opens streams up to the limit, unless the connection is closing or
// the run is over, and sends what is buffered.
func (h *h2Conn) fill() error {
	for !h.closing && len(h.streams) < h.limit {
		t0, measured, ok := h.w.begin()
		if !ok {
			h.closing = true
			break
		}
		if err := h.open(t0, measured); err != nil {
			return err
		}
	}
	if err := h.bw.Flush(); err != nil {
		h.failAll(h2Err(err))
		return err
	}
	return nil
}

// open starts one GET stream (buffered until the next flush).
func (h *h2Conn) open(t0 time.Time, measured bool) error {
	id := h.nextID
	h.hbuf.Reset()
	o := h.w.r.o
	for _, f := range [...]hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: h.authority},
		{Name: ":path", Value: o.Path},
	} {
		_ = h.enc.WriteField(f) // writes to a bytes.Buffer, which cannot fail
	}
	h.streams[id] = &h2Stream{t0: t0, measured: measured}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hbuf.Bytes(),
		EndStream: true, EndHeaders: true}); err != nil {
		h.failAll(h2Err(err))
		return err
	}
	// Stream IDs are 31 bits (RFC 9113 §5.1.1); a connection that used
	// them up ends, and the next one starts at 1 again.
	if h.nextID += 2; h.nextID > 1<<31-1 {
		h.closing = true
	}
	if len(h.streams) == 1 {
		_ = h.c.raw.SetDeadline(time.Now().Add(o.Timeout))
	}
	return nil
}

// complete ends a stream whose response ended.
func (h *h2Conn) complete(id uint32, s *h2Stream) {
	var err error
	switch {
	case s.status == 0:
		err = h2Err(errors.New("the stream ended without a final response"))
	case s.status < 200 || s.status > 299:
		err = &kindError{errStatus, fmt.Errorf("status %d", s.status)}
	}
	h.end(id, err)
	// Each answered stream renews the connection's deadline: a connection
	// fails on Timeout without a single answer, not on its age.
	_ = h.c.raw.SetDeadline(time.Now().Add(h.w.r.o.Timeout))
}

// end records the outcome of a stream and forgets it.
func (h *h2Conn) end(id uint32, err error) {
	s := h.streams[id]
	delete(h.streams, id)
	h.w.finish(s.t0, s.measured, err)
}

// failAll ends every stream still open with err.
func (h *h2Conn) failAll(err error) {
	for id := range h.streams {
		h.end(id, err)
	}
	h.closing = true
}

func h2Err(err error) error { return &kindError{errHTTP, err} }
