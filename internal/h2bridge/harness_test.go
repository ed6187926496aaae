package h2bridge

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// pump moves bytes between a client, an origin and a bridge, as the edge's
// loop would: each side's reads go through the bridge under one lock, and
// each side's writes leave in order from one goroutine.
type pump struct {
	t          *testing.T
	mu         sync.Mutex
	b          *Bridge
	clientEnd  net.Conn // the bridge's end toward the client
	originEnd  net.Conn
	toClient   chan []byte
	toOrigin   chan []byte
	peak       int
	logs       []StreamLog
	err        error
	wg         sync.WaitGroup
	closeOnce  sync.Once
	clientConn net.Conn // the client's end
	originConn net.Conn // the origin's end
}

func newPump(t *testing.T, cfg Config) *pump {
	p := &pump{t: t, toClient: make(chan []byte, 4096), toOrigin: make(chan []byte, 4096)}
	p.clientConn, p.clientEnd = net.Pipe()
	p.originConn, p.originEnd = net.Pipe()
	log := cfg.Log
	cfg.Log = func(s *StreamLog) {
		p.logs = append(p.logs, *s)
		if log != nil {
			log(s)
		}
	}
	p.b = New(cfg)
	c, o := p.b.Start(nil, nil)
	p.toClient <- c
	p.toOrigin <- o
	p.wg.Add(4)
	go p.read(p.clientEnd, p.b.FromClient)
	go p.read(p.originEnd, p.b.FromOrigin)
	go p.write(p.clientEnd, p.toClient)
	go p.write(p.originEnd, p.toOrigin)
	t.Cleanup(p.close)
	return p
}

func (p *pump) read(c net.Conn, from func([]byte, *Output) error) {
	defer p.wg.Done()
	buf := make([]byte, 8192)
	for {
		n, err := c.Read(buf)
		if err != nil {
			p.shut()
			return
		}
		p.mu.Lock()
		var out Output
		ferr := from(buf[:n], &out)
		p.peak = max(p.peak, p.b.Buffered())
		if ferr != nil && p.err == nil {
			p.err = ferr
		}
		if len(out.ToClient) > 0 {
			p.toClient <- out.ToClient
		}
		if len(out.ToOrigin) > 0 {
			p.toOrigin <- out.ToOrigin
		}
		p.mu.Unlock()
		if ferr != nil {
			p.shut()
			return
		}
	}
}

func (p *pump) write(c net.Conn, ch chan []byte) {
	defer p.wg.Done()
	for b := range ch {
		if _, err := c.Write(b); err != nil {
			for range ch {
			}
			return
		}
	}
}

// shut closes both connections once what was queued has been written.
func (p *pump) shut() {
	p.closeOnce.Do(func() {
		go func() {
			time.Sleep(50 * time.Millisecond)
			p.clientEnd.Close()
			p.originEnd.Close()
		}()
	})
}

func (p *pump) close() {
	p.clientConn.Close()
	p.originConn.Close()
	p.clientEnd.Close()
	p.originEnd.Close()
	p.mu.Lock()
	close(p.toClient)
	close(p.toOrigin)
	p.b.Close()
	p.mu.Unlock()
	p.wg.Wait()
}

// streamLogs is a copy of the log lines so far.
func (p *pump) streamLogs() []StreamLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]StreamLog(nil), p.logs...)
}

func (p *pump) connErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// origin is an HTTP/2 server (golang.org/x/net/http2) that records every
// request it is handed.
type origin struct {
	mu   sync.Mutex
	seen []string // "METHOD authority path"
}

func (o *origin) record(r *http.Request) {
	o.mu.Lock()
	o.seen = append(o.seen, r.Method+" "+r.Host+" "+r.URL.RequestURI())
	o.mu.Unlock()
}

func (o *origin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

func (o *origin) serve(t *testing.T, c net.Conn, h http.HandlerFunc) {
	srv := &http2.Server{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(c, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o.record(r)
			h(w, r)
		})})
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

// echo answers with the request's path, then its body.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-path", r.URL.Path)
	io.Copy(w, r.Body)
}

// setup is a bridge between Go's HTTP/2 Transport and Go's HTTP/2 Server.
func setup(t *testing.T, cfg Config, h http.HandlerFunc) (*pump, *http2.ClientConn, *origin) {
	p := newPump(t, cfg)
	o := &origin{}
	o.serve(t, p.originConn, h)
	tr := &http2.Transport{}
	cc, err := tr.NewClientConn(p.clientConn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return p, cc, o
}

// rawClient is a hand-driven HTTP/2 client, for what a real one never
// sends.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	buf  bytes.Buffer
	ops  chan func(*http2.Framer) error
}

func newRawClient(t *testing.T, conn net.Conn) *rawClient {
	c := &rawClient{t: t, conn: conn, ops: make(chan func(*http2.Framer) error, 1<<16)}
	c.fr = http2.NewFramer(conn, conn)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.enc = hpack.NewEncoder(&c.buf)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for op := range c.ops {
			if op(c.fr) != nil {
				for range c.ops {
				}
				return
			}
		}
	}()
	t.Cleanup(func() { close(c.ops); conn.Close(); <-done })
	c.send(func(*http2.Framer) error { _, err := io.WriteString(conn, http2.ClientPreface); return err })
	c.send(func(fr *http2.Framer) error { return fr.WriteSettings() })
	return c
}

// send queues a write: the writes leave in order from one goroutine, since
// a pipe write waits for its reader.
func (c *rawClient) send(f func(fr *http2.Framer) error) { c.ops <- f }

// headers sends a complete header block on a new stream.
func (c *rawClient) headers(id uint32, end bool, fields ...string) {
	blk := c.block(fields...)
	c.send(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: end, EndHeaders: true})
	})
}

func (c *rawClient) block(fields ...string) []byte {
	c.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), c.buf.Bytes()...)
}

// waitFor reads frames until match accepts one, or fails the test; it
// answers SETTINGS on the way. A nil result means the connection ended.
func (c *rawClient) waitFor(match func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("no matching frame: %v", err)
			}
			return nil
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			c.send(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}
		if match(f) {
			return f
		}
	}
}

func isRST(id uint32) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == id
	}
}

func isGoAway(f http2.Frame) bool {
	_, ok := f.(*http2.GoAwayFrame)
	return ok
}

func isResponse(id uint32) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == id
	}
}
