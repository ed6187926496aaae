package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// origin is one name the run sends requests to.
type origin struct {
	sni       string // TLS server name
	authority string // CONNECT target and Host header, host:port
}

// originFor returns the origin of the run's n-th name (1-based).
func (r *runner) originFor(n int) origin {
	num := strconv.Itoa(n)
	if r.o.Proxy != "" {
		host, port, _ := net.SplitHostPort(r.o.Target)
		host = strings.Replace(host, "%d", num, 1)
		return origin{sni: host, authority: net.JoinHostPort(host, port)}
	}
	sni := strings.Replace(r.o.ServerName, "%d", num, 1)
	_, port, _ := net.SplitHostPort(r.o.Target)
	return origin{sni: sni, authority: net.JoinHostPort(sni, port)}
}

// nextOrigin cycles through the names o1..oN across all workers.
func (r *runner) nextOrigin() origin {
	if r.o.Names == 1 {
		return r.origin1
	}
	return r.originFor(int(r.nameSeq.Add(1)%uint64(r.o.Names)) + 1)
}

// conn is one established connection: TLS over TCP, possibly through a
// CONNECT tunnel.
type conn struct {
	raw     net.Conn
	unwatch func() bool // stops closing raw when the run ends
	tls     secureConn
	r       *bufio.Reader
	resumed bool
}

// dial opens a connection to o: TCP to the proxy or the server, CONNECT if
// there is a proxy, then the TLS handshake. When ctx ends, the connection's
// deadline passes at once, so no worker lingers on a slow server.
func (w *worker) dial(ctx context.Context, o origin) (*conn, error) {
	r := w.r
	addr := r.o.Target
	if r.o.Proxy != "" {
		addr = r.o.Proxy
	}
	raw, err := r.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &kindError{errDial, err}
	}
	_ = raw.SetDeadline(time.Now().Add(r.o.Timeout))
	unwatch := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	var tunnel net.Conn = raw
	if r.o.Proxy != "" {
		if tunnel, err = w.connect(raw, o.authority); err != nil {
			unwatch()
			raw.Close()
			return nil, err
		}
	}
	tc := r.factory.client(tunnel, o.sni, w.sessions)
	if err := tc.HandshakeContext(context.Background()); err != nil { // ctx is watched above
		unwatch()
		raw.Close()
		return nil, &kindError{errTLS, err}
	}
	c := &conn{raw: raw, unwatch: unwatch, tls: tc, r: w.tlsReader, resumed: tc.didResume()}
	c.r.Reset(tc)
	return c, nil
}

// connect asks the proxy on raw for a tunnel to authority and returns the
// tunnel's end.
func (w *worker) connect(raw net.Conn, authority string) (net.Conn, error) {
	w.wbuf = appendCONNECT(w.wbuf[:0], authority)
	if _, err := raw.Write(w.wbuf); err != nil {
		return nil, &kindError{errConnect, err}
	}
	br := w.rawReader
	br.Reset(raw)
	h, err := readHead(br)
	if err != nil {
		return nil, &kindError{errConnect, fmt.Errorf("reading the proxy's answer: %w", err)}
	}
	if h.status != 200 {
		return nil, &kindError{errConnect, fmt.Errorf("the proxy answered CONNECT %s with status %d", authority, h.status)}
	}
	if br.Buffered() > 0 {
		// The proxy spoke before the client did; keep those bytes.
		return &prefixedConn{Conn: raw, r: io.MultiReader(bytesOf(br), raw)}, nil
	}
	return raw, nil
}

func bytesOf(br *bufio.Reader) io.Reader {
	b, _ := br.Peek(br.Buffered())
	return strings.NewReader(string(b))
}

// prefixedConn reads bytes already taken off the socket before the socket.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// request sends one GET on c and reads the whole response.
func (w *worker) request(c *conn, o origin, last bool) (reusable bool, err error) {
	if !last {
		// A kept-alive connection gets a fresh deadline per request.
		_ = c.raw.SetDeadline(time.Now().Add(w.r.o.Timeout))
	}
	w.wbuf = appendGET(w.wbuf[:0], w.r.o.Path, o.authority, last)
	if _, err := c.tls.Write(w.wbuf); err != nil {
		return false, &kindError{errHTTP, fmt.Errorf("writing the request: %w", err)}
	}
	status, reusable, err := readResponse(c.r)
	if err != nil {
		return false, &kindError{errHTTP, err}
	}
	if status < 200 || status > 299 {
		return reusable, &kindError{errStatus, fmt.Errorf("status %d", status)}
	}
	return reusable, nil
}

func (c *conn) Close() {
	c.unwatch()
	c.raw.Close()
}

// groupPreference lists the one group the run measures.
func groupPreference(name string) []tls.CurveID { return []tls.CurveID{groups[name]} }
