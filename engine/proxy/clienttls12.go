package proxy

import (
	"crypto/tls"
	"errors"
	"io"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// clientTLS12 is a TLS 1.2 client (issue 6). tlsmitm reports EventLegacy
// for a hello that offers TLS 1.2 and not 1.3; the connection goes
// through the same steps as for TLS 1.3 — SNI policy, the origin's
// handshake with the client's mirrored hello, a leaf from the loop's
// cache — and crypto/tls then serves the client over the engine's bridge
// (engine.LegacyConn).
//
// Who touches what: a goroutine of the connection's own runs the
// handshake and then reads the client's records, one chunk per credit the
// loop grants, and posts each chunk, addressed to the phase that granted
// the credit. Everything else — writing the origin's bytes, the 403 and
// 502 pages, close_notify — happens on the loop, and only once the loop
// has seen the handshake complete: tls.Conn.Write then takes no lock a
// reader holds for long, and LegacyConn.Write hands the records to gnet's
// AsyncWrite without blocking. The loop never waits for the goroutine.
type clientTLS12 struct {
	parked   *tlsmitm.Conn // tlsmitm, until crypto/tls takes the hello
	hello    []byte        // the client's first bytes, its ClientHello, until then
	alpn     []string      // what the client offered
	rsa      bool
	protocol string // the ALPN answer

	// Set when the leaf is ready and crypto/tls starts.
	lc     *engine.LegacyConn
	tc     *tls.Conn
	credit chan clientEvents // capacity 1: the reader may read and post one more chunk, to this phase

	// Loop-owned: the loop has seen the handshake complete, so tc may be
	// written; the suite it agreed. held: the reader waits for a lagging
	// origin, since gnet's input was heldBacklog bytes.
	done        bool
	suite       uint16
	held        bool
	heldBacklog int
}

// heldFitsQueue does not compile unless a hello of up to maxHeld bytes
// fits in an empty LegacyConn queue, so answer never has to wait for room
// to hand it to crypto/tls.
const heldFitsQueue = uint(engine.LegacyQueue*engine.LegacyChunk - maxHeld)

func newClientTLS12(parked *tlsmitm.Conn, ch *tlsmitm.ClientHello, hello []byte) *clientTLS12 {
	return &clientTLS12{
		parked: parked, hello: hello,
		alpn: append([]string(nil), ch.ALPNProtocols...),
		// In TLS 1.2 the suite names the certificate's key type as well.
		rsa: !offersECDSA(ch.SignatureSchemes) || !offersECDSASuite(ch.CipherSuites),
	}
}

// offersECDSASuite reports whether a TLS 1.2 client can take an ECDSA
// certificate with one of the suites the hand-off allows.
func offersECDSASuite(suites []uint16) bool {
	for _, s := range suites {
		switch s {
		case tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
			return true
		}
	}
	return false
}

func (t *clientTLS12) wantsRSA() bool { return t.rsa }

func (t *clientTLS12) resumable() bool { return false } // no session resumption for TLS 1.2 clients

func (t *clientTLS12) offers(p string) bool { return contains(t.alpn, p) }

func (t *clientTLS12) setProtocol(p string) { t.protocol = p }

func (t *clientTLS12) abort(c *conn, a tlsmitm.Alert, reason string) { c.abortTLS(t.parked, a, reason) }

// answer starts crypto/tls on the client's hello with leaf.
func (t *clientTLS12) answer(c *conn, to clientEvents, leaf *certcache.Leaf) error {
	cfg := engine.LegacyTLSConfig(&tlsmitm.Certificate{Chain: leaf.Chain, PrivateKey: leaf.Key.Signer})
	cfg.NextProtos = nil
	if t.protocol != "" {
		cfg.NextProtos = []string{t.protocol}
	}
	// Each connection has a config of its own, so crypto/tls's ticket
	// keys would be too: a ticket could never be used.
	cfg.SessionTicketsDisabled = true
	// Full-size records from the first: each record is one AsyncWrite.
	cfg.DynamicRecordSizingDisabled = true

	// tlsmitm has no part in this connection any more: its hello was
	// copied, and any alert from here is crypto/tls's.
	t.parked.Release()
	t.parked = nil
	t.lc = engine.NewLegacyConn(c.Gnet)
	t.tc = tls.Server(t.lc, cfg)
	t.credit = make(chan clientEvents, 1)
	t.lc.Push(t.hello) // the queue takes it whole (heldFitsQueue)
	t.hello = nil
	engine.TLS12Handoffs.Inc()
	go t.serve(c, to)
	return nil
}

// serve runs off the loop: the handshake, then the client's records.
func (t *clientTLS12) serve(c *conn, to clientEvents) {
	if err := t.tc.Handshake(); err != nil {
		c.post(to, handshake12Failed{err})
		return
	}
	c.post(to, handshake12Done{t, to, t.tc.ConnectionState().CipherSuite})
	// As for the origin's reader (link.read): a small buffer after a
	// short read, since the reader holds it while the client idles, and a
	// full one while the client streams. crypto/tls keeps what does not
	// fit for the next read.
	size := idleChunk
	for {
		var relay clientEvents
		select {
		case relay = <-t.credit:
		case <-t.lc.Done():
			return
		}
		buf := make([]byte, size)
		n, err := t.tc.Read(buf)
		if n >= idleChunk {
			size = readChunk
		} else {
			size = idleChunk
		}
		c.post(relay, clientRecords{t, relay, buf[:n], err})
		if err != nil {
			return
		}
	}
}

// input is the client's bytes once crypto/tls serves it: they go to
// crypto/tls's queue as far as it has room, and the rest waits in gnet
// until the reader, having made room, wakes the loop.
//
// gnet reads the socket whatever we do, so the backlog in gnet has two
// causes here: input that came while the reader was held back for a
// lagging origin — bounded by maxWaitingInput, as for TLS 1.3 — and input
// crypto/tls has not got to yet, which a fast client builds up even while
// the origin keeps pace (TLS 1.3 records are decrypted as they arrive, on
// the loop; these wait for the goroutine). The second is bounded only by
// legacyMaxBacklog, the memory one connection may hold.
func (t *clientTLS12) input(c *conn, ev clientEvents) {
	if t.lc.Ended() {
		engine.Discard(c.Gnet, c.Gnet.InboundBuffered())
		return
	}
	left := t.lc.Feed(c.Gnet)
	max := maxWaitingInput(c.h.cfg.MaxBuffered)
	if left > 4*max || (t.held && left-t.heldBacklog > max) {
		engine.Discard(c.Gnet, c.Gnet.InboundBuffered())
		c.fail("the client sends far faster than the origin accepts", nil)
	}
}

// nextCredit lets the reader go on unless the origin lags; then the
// relay's granted does, once the origin's writer has caught up.
func (t *clientTLS12) nextCredit(c *conn, ev clientEvents) {
	if ev.holdBack(c, 0) {
		t.held, t.heldBacklog = true, c.Gnet.InboundBuffered()
		return
	}
	t.grant(ev)
}

func (t *clientTLS12) granted(ev clientEvents) {
	t.held = false
	t.grant(ev)
}

// grant lets the reader take one more chunk, for ev; called on the loop.
func (t *clientTLS12) grant(ev clientEvents) {
	if t.credit == nil {
		return
	}
	select {
	case t.credit <- ev:
	default:
	}
}

func (t *clientTLS12) send(_ *conn, b []byte) error {
	if !t.done {
		return errors.New("TLS 1.2 client: data to send before the handshake completed")
	}
	_, err := t.tc.Write(b)
	return err
}

func (t *clientTLS12) goodbye(*conn) {
	if t.done {
		_ = t.tc.CloseWrite()
	}
}

func (t *clientTLS12) info() accesslog.TLSInfo {
	if !t.done {
		return accesslog.TLSInfo{}
	}
	return accesslog.TLSInfo{Version: tls.VersionTLS12, Suite: t.suite}
}

// release sends close_notify after a completed handshake and stops the
// reader. crypto/tls's records go out through AsyncWrite, so some may
// still be queued.
func (t *clientTLS12) release() bool {
	if t.parked != nil {
		t.parked.Release()
		t.parked = nil
	}
	t.hello = nil
	if t.lc == nil {
		return false
	}
	t.goodbye(nil)
	t.lc.Shut()
	return true
}

// handshake12Done: crypto/tls completed the client's handshake.
type handshake12Done struct {
	t     *clientTLS12
	to    clientEvents
	suite uint16
}

func (e handshake12Done) apply(c *conn) {
	e.t.done, e.t.suite = true, e.suite
	e.to.handshakeDone(c)
}

func (handshake12Done) drop() {}

// handshake12Failed: crypto/tls refused the client; it has queued its
// alert, and finish shuts the write side after it.
type handshake12Failed struct{ err error }

func (e handshake12Failed) apply(c *conn) {
	c.h.cfg.Logger.Info("client TLS refused", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host,
		"version", "TLS 1.2", "err", e.err.Error())
	c.finish()
}

func (handshake12Failed) drop() {}

// clientRecords is a chunk the reader decrypted, or how the client's
// stream ended. It takes the same path as TLS 1.3 records.
type clientRecords struct {
	t   *clientTLS12
	to  clientEvents
	b   []byte
	err error
}

func (e clientRecords) apply(c *conn) {
	defer clear(e.b) // decrypted bytes do not outlive their use
	if len(e.b) > 0 {
		e.to.fromClient(c, e.b)
		if c.phase != e.to {
			return
		}
	}
	switch {
	case errors.Is(e.err, io.EOF):
		e.to.clientClosed(c)
	case e.err != nil:
		e.to.clientFailed(c, e.err)
	default:
		e.t.nextCredit(c, e.to)
	}
}

func (e clientRecords) drop() { clear(e.b) }
