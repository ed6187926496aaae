package proxy

import (
	"strconv"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/engine"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// clientTLS is the client's side of an inspected connection, from the
// parked hello to the end: TLS 1.3 on the loop with tlsmitm
// (clientTLS13), or TLS 1.2 with crypto/tls over the engine's bridge
// (clientTLS12, clienttls12.go). The phases from awaitOrigin on hold one
// and never ask which it is.
type clientTLS interface {
	// wantsRSA: the client can take no ECDSA leaf.
	wantsRSA() bool
	// resumable: the client offered a session of ours that can resume.
	resumable() bool
	// offers reports whether the client offered ALPN protocol p.
	offers(p string) bool
	// setProtocol sets the ALPN answer: the origin's choice.
	setProtocol(p string)
	// answer goes on with the parked handshake: with leaf, or, when leaf
	// is nil, resuming. to is the phase that waits for the handshake.
	answer(c *conn, to clientEvents, leaf *certcache.Leaf) error
	// abort ends the parked handshake with alert a.
	abort(c *conn, a tlsmitm.Alert, reason string)
	// input takes the client's bytes and reports what they carried to
	// ev, until the connection moves on from ev's phase.
	input(c *conn, ev clientEvents)
	// granted runs when the relay takes client input again after holding
	// it back (TLS 1.2's reader waits for it); ev is the relay.
	granted(ev clientEvents)
	// send seals plaintext for the client.
	send(c *conn, plaintext []byte) error
	// goodbye sends close_notify once the handshake is done.
	goodbye(c *conn)
	// info describes the session for the access log, once established.
	info() accesslog.TLSInfo
	// release lets go of the session; asyncWrites: crypto/tls may still
	// have records queued to write (see conn.finish).
	release() (asyncWrites bool)
}

// clientEvents is what a phase does with the client's TLS: handshaking
// waits for the handshake to complete, relaying takes what follows.
type clientEvents interface {
	phase
	handshakeDone(c *conn)
	// fromClient takes decrypted bytes; they are wiped after the call.
	fromClient(c *conn, plaintext []byte)
	// clientClosed: the client sent close_notify.
	clientClosed(c *conn)
	// holdBack reports whether client input must wait in gnet (waiting
	// bytes of it) while the origin lags.
	holdBack(c *conn, waiting int) bool
	// clientFailed: the client's TLS failed after its handshake.
	clientFailed(c *conn, err error)
}

// clientTLS13 is a TLS 1.3 client, served by tlsmitm on the loop.
type clientTLS13 struct {
	tls *tlsmitm.Conn
}

func newClientTLS13(tc *tlsmitm.Conn) *clientTLS13 { return &clientTLS13{tls: tc} }

func (t *clientTLS13) wantsRSA() bool { return !offersECDSA(t.hello().SignatureSchemes) }

// hello is the parked handshake's ClientHello.
func (t *clientTLS13) hello() *tlsmitm.ClientHello { return t.tls.Hello() }

func (t *clientTLS13) resumable() bool { return t.tls.Resumable() }

func (t *clientTLS13) offers(p string) bool { return contains(t.hello().ALPNProtocols, p) }

func (t *clientTLS13) setProtocol(p string) { _ = t.tls.SetNegotiatedProtocol(p) }

func (t *clientTLS13) answer(c *conn, _ clientEvents, leaf *certcache.Leaf) error {
	var out []byte
	var err error
	if leaf == nil {
		out, err = t.tls.Resume(c.Loop.Out())
		if err == nil {
			engine.ClientResumptions.Inc()
		}
	} else {
		out, err = t.tls.SetCertificate(&tlsmitm.Certificate{Chain: leaf.Chain, PrivateKey: leaf.Key.Signer}, c.Loop.Out())
	}
	c.Flush(out)
	return err
}

func (t *clientTLS13) abort(c *conn, a tlsmitm.Alert, reason string) { c.abortTLS(t.tls, a, reason) }

func (t *clientTLS13) input(c *conn, ev clientEvents) {
	in := c.peek()
	out := c.Loop.Out()
	consumed := 0
	for c.phase == ev && !ev.holdBack(c, len(in)-consumed) {
		out = c.Spill(out)
		res, err := t.tls.Process(in[consumed:], out)
		consumed += res.Consumed
		out = res.Out
		if err != nil {
			c.tlsFailed(in, out, err)
			return
		}
		if res.Event == tlsmitm.EventNeedMore {
			break
		}
		// The events below may write through the loop's output buffer
		// themselves: what is in it goes first.
		c.Flush(out)
		out = c.Loop.Out()
		switch res.Event {
		case tlsmitm.EventHandshakeDone:
			ev.handshakeDone(c)
		case tlsmitm.EventData:
			ev.fromClient(c, res.Data)
		case tlsmitm.EventClosed:
			c.Flush(t.tls.CloseNotify(c.Loop.Out()))
			ev.clientClosed(c)
		default:
			c.fail("client TLS event "+strconv.Itoa(int(res.Event))+" after its hello", nil)
		}
	}
	c.Flush(out)
	c.consume(in, consumed)
}

func (t *clientTLS13) granted(clientEvents) {}

func (t *clientTLS13) send(c *conn, b []byte) error {
	out := c.Loop.Out()
	var err error
	for rest := b; len(rest) > 0 && err == nil; {
		out = c.Spill(out)
		k := min(len(rest), 16<<10)
		out, err = t.tls.Seal(out, rest[:k])
		rest = rest[k:]
	}
	c.Flush(out)
	return err
}

func (t *clientTLS13) goodbye(c *conn) { c.Flush(t.tls.CloseNotify(c.Loop.Out())) }

func (t *clientTLS13) info() accesslog.TLSInfo {
	st := t.tls.State()
	return accesslog.TLSInfo{Version: st.Version, Suite: st.CipherSuite, Resumed: st.DidResume}
}

func (t *clientTLS13) release() bool {
	t.tls.Release()
	return false
}

// abortTLS ends a client handshake with alert a, for a reason of the
// edge's own (a blocked SNI, no key, a failed mint).
func (c *conn) abortTLS(tc *tlsmitm.Conn, a tlsmitm.Alert, reason string) {
	out, _ := tc.Abort(c.Loop.Out(), a, reason)
	c.Flush(out)
	c.h.cfg.Logger.Info("inspection refused", "org", c.log.org, "host", c.log.host, "reason", reason)
	c.finish()
}

// tlsFailed ends a connection whose TLS failed while in was processed:
// out, holding the alert, goes first; the rest of in is dropped (wiped,
// since records before the failure were decrypted in place).
func (c *conn) tlsFailed(in, out []byte, err error) {
	c.Flush(out)
	c.consume(in, len(in))
	c.tlsRefused(err)
	c.finish()
}

// tlsRefused logs and counts a client TLS failure.
func (c *conn) tlsRefused(err error) {
	engine.CountTLSFailure(err)
	c.h.cfg.Logger.Info("client TLS refused", "client", c.Gnet.RemoteAddr().String(), "host", c.log.host, "err", err.Error())
}

func offersECDSA(schemes []uint16) bool {
	for _, s := range schemes {
		if s == 0x0403 {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
