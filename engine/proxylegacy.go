package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// TLS 1.2 clients of the inspecting proxy (issue 6). tlsmitm reports
// EventLegacy for a hello that offers TLS 1.2 and not 1.3; the proxy then
// goes through the same steps as for TLS 1.3 — SNI policy, the origin's
// handshake with the client's mirrored hello, a leaf from the loop's cache
// — and serves the client with crypto/tls over a legacyConn (legacy.go).
//
// Who touches what: a goroutine of the connection's own runs the
// handshake and then reads the client's records, one chunk per credit the
// loop grants, and posts each chunk to the loop, which inspects and relays
// it as for TLS 1.3. Everything else — writing the origin's bytes, the
// 403 and 502 pages, close_notify — happens on the loop, and only once
// the loop has seen the handshake complete: tls.Conn.Write then takes no
// lock a reader holds for long, and legacyConn.Write hands the records to
// gnet's AsyncWrite without blocking. The loop never waits for the
// goroutine.

// heldFitsQueue does not compile unless a hello of up to maxHeld bytes
// fits in an empty legacyConn queue, so answerLegacy never has to wait for
// room to hand it to crypto/tls.
const heldFitsQueue = uint(legacyQueue*legacyChunk - maxHeld)

// legacyClient is the client side of a proxied TLS 1.2 connection.
type legacyClient struct {
	hello []byte // the client's first bytes, its ClientHello, until crypto/tls takes them

	// Set when the leaf is ready and crypto/tls starts; nil before.
	lc     *legacyConn
	tc     *tls.Conn
	credit chan struct{} // capacity 1: the reader may read and post one more chunk

	// Loop-owned: the loop has seen the handshake complete, so tc may be
	// written; the suite it agreed. held: the reader waits for a lagging
	// origin, since gnet's input was heldBacklog bytes.
	done        bool
	suite       uint16
	held        bool
	heldBacklog int
}

// legacyHelloArrived runs on the loop when tlsmitm reports EventLegacy.
// in is everything the client has sent, its ClientHello: it is kept, both
// for crypto/tls and, untouched, for a tunnel if policy bypasses the name.
func (pc *proxyConn) legacyHelloArrived(in []byte) int {
	if len(in) > maxHeld {
		pc.fail("TLS 1.2 ClientHello larger than " + strconv.Itoa(maxHeld) + " bytes")
		return len(in)
	}
	pc.heldBytes = append(pc.heldBytes, in...)
	pc.legacy = &legacyClient{hello: slices.Clone(in)}
	pc.helloArrived(pc.tls.LegacyHello())
	return len(in)
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

// answerLegacy runs on the loop with the minted leaf: crypto/tls starts
// on the client's hello.
func (pc *proxyConn) answerLegacy(leaf *certcache.Leaf, err error) {
	if pc.closed || pc.st != stWaitUpstream {
		return
	}
	if err != nil {
		pc.abortTLS(tlsmitm.AlertInternalError, "minting the leaf failed: "+err.Error())
		return
	}
	cfg := legacyTLSConfig(&tlsmitm.Certificate{Chain: leaf.Chain, PrivateKey: leaf.Key.Signer})
	cfg.NextProtos = nil
	if p := pc.legacyProtocol(); p != "" {
		cfg.NextProtos = []string{p}
	}
	// Each connection has a config of its own, so crypto/tls's ticket
	// keys would be too: a ticket could never be used.
	cfg.SessionTicketsDisabled = true
	// Full-size records from the first: each record is one AsyncWrite.
	cfg.DynamicRecordSizingDisabled = true

	// tlsmitm has no part in this connection any more: its hello was
	// copied, and any alert from here is crypto/tls's.
	pc.tls.Release()
	pc.tls = nil
	l := pc.legacy
	l.lc = newLegacyConn(pc.gc)
	l.tc = tls.Server(l.lc, cfg)
	l.credit = make(chan struct{}, 1)
	l.lc.push(l.hello) // the queue takes it whole (heldFitsQueue)
	l.hello = nil
	pc.heldBytes = nil
	pc.st = stHandshake
	tls12Handoffs.Inc()
	go l.serve(pc)
}

// legacyProtocol is the ALPN protocol to answer with: the origin's choice,
// or http/1.1 for the 502 page when the client offered it.
func (pc *proxyConn) legacyProtocol() string {
	if pc.failPage != "" {
		if containsProto(pc.alpn, "http/1.1") {
			return "http/1.1"
		}
		return ""
	}
	return pc.upALPN
}

// serve runs off the loop: the handshake, then the client's records.
func (l *legacyClient) serve(pc *proxyConn) {
	if err := l.tc.Handshake(); err != nil {
		pc.post(func() { pc.legacyRefused(err) })
		return
	}
	suite := l.tc.ConnectionState().CipherSuite
	pc.post(func() { pc.legacyHandshakeDone(suite) })
	// As for the origin's reader (link.read): a small buffer after a
	// short read, since the reader holds it while the client idles, and a
	// full one while the client streams. crypto/tls keeps what does not
	// fit for the next read.
	size := idleChunk
	for {
		select {
		case <-l.credit:
		case <-l.lc.closed:
			return
		}
		buf := make([]byte, size)
		n, err := l.tc.Read(buf)
		if n >= idleChunk {
			size = readChunk
		} else {
			size = idleChunk
		}
		pc.post(func() { pc.legacyData(buf[:n], err) })
		if err != nil {
			return
		}
	}
}

// legacyTraffic is onTraffic once crypto/tls serves the client: its
// bytes go to crypto/tls's queue as far as it has room, and the rest waits
// in gnet until the reader, having made room, wakes the loop.
//
// gnet reads the socket whatever we do, so the backlog in gnet has two
// causes here: input that came while the reader was held back for a
// lagging origin — bounded by maxWaitingInput, as for TLS 1.3 — and input
// crypto/tls has not got to yet, which a fast client builds up even while
// the origin keeps pace (TLS 1.3 records are decrypted as they arrive, on
// the loop; these wait for the goroutine). The second is bounded only by
// legacyMaxBacklog, the memory one connection may hold.
func (pc *proxyConn) legacyTraffic() {
	l := pc.legacy
	select {
	case <-l.lc.closed:
		discard(pc.gc, pc.gc.InboundBuffered())
		return
	default:
	}
	left := l.lc.feed(pc.gc)
	if left > legacyMaxBacklog(pc.h.cfg.MaxBuffered) || (l.held && left-l.heldBacklog > maxWaitingInput(pc.h.cfg.MaxBuffered)) {
		pc.fail("the client sends far faster than the origin accepts")
		discard(pc.gc, pc.gc.InboundBuffered())
	}
}

// legacyMaxBacklog bounds a TLS 1.2 client's input waiting in gnet.
func legacyMaxBacklog(maxBuffered int) int { return 4 * maxWaitingInput(maxBuffered) }

func (pc *proxyConn) legacyRefused(err error) {
	if pc.closed || pc.st == stDone {
		return
	}
	pc.h.cfg.Logger.Info("client TLS refused", "client", pc.gc.RemoteAddr().String(), "host", pc.host,
		"version", "TLS 1.2", "err", err.Error())
	pc.finish() // crypto/tls has queued its alert; finish shuts the write side after it
}

func (pc *proxyConn) legacyHandshakeDone(suite uint16) {
	if pc.closed || pc.st != stHandshake {
		return
	}
	l := pc.legacy
	l.done, l.suite = true, suite
	handshakesDone.Inc()
	clientLatency.UpdateDuration(pc.helloAt)
	pc.st = stRelay
	pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
	if pc.link != nil {
		pc.link.grant()
	}
	l.grant()
}

// legacyData runs on the loop with a chunk the reader decrypted (or how
// the client's stream ended). It takes the same path as TLS 1.3 records:
// the failure page, request inspection, forwarding.
func (pc *proxyConn) legacyData(b []byte, err error) {
	defer clear(b) // decrypted bytes do not outlive their use
	if pc.closed || pc.st != stRelay {
		return
	}
	if len(b) > 0 {
		pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
		pc.fromClient(b, pc.ls.out[:0])
		if pc.st == stDone {
			return
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		// close_notify: the origin hears the client is done and answers
		// what it was asked; our close_notify follows its end.
		if pc.link == nil {
			pc.finish()
			return
		}
		pc.link.closeWrite()
	case err != nil:
		pc.h.cfg.Logger.Info("client TLS failed", "client", pc.gc.RemoteAddr().String(), "host", pc.host,
			"version", "TLS 1.2", "err", err.Error())
		pc.finish()
	default:
		pc.legacyCredit()
	}
}

// legacyCredit lets the reader go on unless the origin lags; then the
// writer's resumeInput grants it once its queue has drained.
func (pc *proxyConn) legacyCredit() {
	l := pc.legacy
	if pc.link != nil && pc.link.congested() {
		pc.link.pause()
		inputPaused.Inc()
		// The writer may have drained between the check and the pause.
		if pc.link.congested() || !pc.link.paused.CompareAndSwap(true, false) {
			l.held, l.heldBacklog = true, pc.gc.InboundBuffered()
			return
		}
	}
	l.grant()
}

// legacyResume runs on the loop when the writer has caught up.
func (pc *proxyConn) legacyResume() {
	pc.legacy.held = false
	pc.legacy.grant()
}

// grant lets the reader take one more chunk; called on the loop.
func (l *legacyClient) grant() {
	if l.credit == nil {
		return
	}
	select {
	case l.credit <- struct{}{}:
	default:
	}
}

// write sends plaintext to the client; called on the loop.
func (l *legacyClient) write(b []byte) error {
	if !l.done {
		return errors.New("TLS 1.2 client: data to send before the handshake completed")
	}
	_, err := l.tc.Write(b)
	return err
}

// end sends close_notify after a completed handshake and stops the
// reader; called on the loop. It reports whether crypto/tls may have
// queued records still to be written.
func (l *legacyClient) end() bool {
	if l.lc == nil {
		return false
	}
	if l.done {
		_ = l.tc.CloseWrite()
	}
	l.lc.shut()
	return true
}

// shut stops the reader when the client connection is gone.
func (l *legacyClient) shut() {
	if l.lc != nil {
		l.lc.shut()
	}
	l.hello = nil
}
