package engine

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/origin"
	"github.com/lucid-edge/lucid/tlsmitm"
	"golang.org/x/sys/unix"

	"github.com/panjf2000/gnet/v2"
)

// The states of a proxied connection. Each is handled on the connection's
// loop; work that blocks (dialling the origin, its handshake, fetching the
// organisation's key, minting) runs on a goroutine and comes back through
// the loop's Execute.
type proxyState uint8

const (
	stRequest      proxyState = iota // reading CONNECT
	stHello                          // reading the client's ClientHello
	stWaitUpstream                   // origin and key being prepared off the loop
	stHandshake                      // our leaf sent; waiting for the client's Finished
	stRelay                          // inspected traffic flows
	stTunnel                         // bytes pass untouched
	stDone                           // closing: reading and dropping
)

type proxyConn struct {
	h       *proxyHandler
	ls      *loopState
	gc      gnet.Conn
	cs      connState
	st      proxyState
	started time.Time
	closed  bool

	user, org string
	host      string
	port      int
	decision  Decision

	tls       *tlsmitm.Conn
	legacy    *legacyClient // set for a TLS 1.2 client, served by crypto/tls (proxylegacy.go)
	sni       string
	alpn      []string
	wantRSA   bool // the client offers no ECDSA signature scheme
	ja4       string
	helloAt   time.Time
	heldBytes []byte // client bytes not yet forwarded: the ClientHello (for a tunnel fallback) or early tunnel data

	link        *link
	upInfo      accesslog.TLSInfo
	upALPN      string // the protocol the origin chose, for a TLS 1.2 client's handshake
	upVerifyErr string
	failPage    string // when set, the first request gets a 502 naming this reason

	req        []byte // a request head that arrived in pieces
	reqs       []pendingRequest
	resp       *httphead.ResponseReader
	loggedConn bool
	plain      bool // a plain http:// request relayed without TLS
	bodyLeft   int64
	opaque     bool // HTTP/2 or a protocol switch: relay without parsing
	bytesIn    int64
	bytesOut   int64
}

// maxHeld bounds what a connection may send before its destination is
// ready: a ClientHello and a little more.
const maxHeld = 64 << 10

func (pc *proxyConn) onTraffic() {
	if pc.legacy != nil && pc.legacy.lc != nil && (pc.st == stHandshake || pc.st == stRelay) {
		pc.legacyTraffic()
		return
	}
	in, _ := pc.gc.Peek(-1)
	var consumed int
	switch pc.st {
	case stRequest:
		consumed = pc.readRequest(in)
		if pc.st != stRequest && consumed < len(in) && pc.st != stDone {
			consumed += pc.dispatch(in[consumed:])
		}
	case stWaitUpstream:
		// Nothing is expected until our ServerHello; keep what arrives,
		// within bounds.
		if len(in) > maxHeld {
			pc.fail("client sent too much before its handshake was answered")
			consumed = len(in)
		}
	default:
		consumed = pc.dispatch(in)
	}
	if consumed > 0 {
		clear(in[:consumed]) // decrypted bytes never go back to gnet
		discard(pc.gc, consumed)
	}
}

func (pc *proxyConn) dispatch(in []byte) int {
	switch pc.st {
	case stHello, stHandshake, stRelay:
		return pc.readTLS(in)
	case stTunnel:
		return pc.forwardRaw(in)
	case stDone:
		return len(in)
	}
	return 0
}

// readRequest parses the proxy request: authenticate, decide, answer.
func (pc *proxyConn) readRequest(in []byte) int {
	src := in
	if len(pc.req) > 0 {
		src = append(pc.req, in...)
	}
	r, n, err := httphead.ParseProxyRequest(src)
	if errors.Is(err, httphead.ErrIncomplete) {
		pc.req = append(pc.req[:0], src...)
		return len(in)
	}
	consumed := len(in)
	if len(pc.req) > 0 {
		consumed = n - len(pc.req)
		pc.req = nil
	} else if err == nil {
		consumed = n
	}
	if err != nil {
		status, reason := 400, err.Error()
		var he *httphead.Error
		if errors.As(err, &he) {
			status, reason = he.Status, he.Reason
		}
		pc.respond(status, reason, "")
		return len(in)
	}
	pc.org, pc.user = pc.h.cfg.DefaultOrg, ""
	if pc.h.cfg.Authenticate != nil {
		user, org, ok := pc.h.cfg.Authenticate(r.ProxyAuthorization)
		if !ok {
			pc.respond(407, "proxy authentication required", "Proxy-Authenticate: Basic realm=\"lucid\"\r\n")
			return len(in)
		}
		pc.user, pc.org = user, org
	}
	pc.host, pc.port = string(r.Host), r.Port
	pc.decision = pc.h.cfg.Decide(pc.org, pc.host, pc.port)
	decisions(pc.decision.Action).Inc()
	switch {
	case pc.decision.Action == ActionBlock:
		pc.logRequest(string(r.Method), pc.host+":"+strconv.Itoa(pc.port), 403)
		pc.respond(403, "blocked by policy ("+pc.decision.Rule+")", "")
		return len(in)
	case !r.Connect:
		// Plain HTTP: nothing to decrypt, so inspect and bypass both relay
		// it; the access log sees it either way.
		pc.startPlain(src[:n], &r)
		return consumed
	}
	switch pc.decision.Action {
	case ActionBypass:
		pc.st = stTunnel
		pc.startTunnel()
	default:
		pc.st = stHello
		pc.tls = tlsmitm.NewServer(pc.ls.tls)
		// A session resumes only within the organisation whose leaf
		// authenticated it.
		pc.tls.SetSessionContext([]byte(pc.org))
		pc.cs.deadline = time.Now().Add(pc.h.cfg.HandshakeTimeout)
	}
	_, _ = pc.gc.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	return consumed
}

// respond answers the proxy request with an error and ends the connection.
func (pc *proxyConn) respond(status int, reason, header string) {
	body := reason + "\n"
	msg := "HTTP/1.1 " + strconv.Itoa(status) + " " + statusText(status) + "\r\n" + header +
		"Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	_, _ = pc.gc.Write([]byte(msg))
	pc.h.cfg.Logger.Info("proxy request refused", "client", pc.gc.RemoteAddr().String(), "status", status, "reason", reason)
	pc.finish()
}

// readTLS runs the client's TLS: the hello, the handshake, then records.
func (pc *proxyConn) readTLS(in []byte) int {
	out := pc.ls.out[:0]
	consumed := 0
	defer func() { pc.flushOut(out) }()
	for {
		if pc.holdBack(len(in) - consumed) {
			return consumed
		}
		out = pc.cs.spill(out)
		res, err := pc.tls.Process(in[consumed:], out)
		if pc.st == stHello {
			pc.hold(in[consumed : consumed+res.Consumed])
		}
		consumed += res.Consumed
		out = res.Out
		if err != nil {
			pc.logTLSFailure(err)
			pc.flushOut(out)
			out = out[:0]
			pc.finish()
			return len(in)
		}
		switch res.Event {
		case tlsmitm.EventNeedMore:
			return consumed
		case tlsmitm.EventPending:
			pc.helloArrived(pc.tls.Hello())
			return consumed
		case tlsmitm.EventLegacy:
			// A TLS 1.2 client: tlsmitm consumed nothing, and crypto/tls
			// will take its hello once the origin and the leaf are ready.
			return consumed + pc.legacyHelloArrived(in[consumed:])
		case tlsmitm.EventHandshakeDone:
			handshakesDone.Inc()
			clientLatency.UpdateDuration(pc.helloAt)
			pc.st = stRelay
			pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
			if pc.link != nil {
				pc.link.grant()
			}
		case tlsmitm.EventData:
			pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
			out = pc.fromClient(res.Data, out)
			if pc.st == stDone {
				return len(in)
			}
		case tlsmitm.EventClosed:
			out = pc.tls.CloseNotify(out)
			if pc.link != nil {
				pc.link.closeWrite()
			}
		}
	}
}

func (pc *proxyConn) hold(b []byte) {
	if len(pc.heldBytes)+len(b) <= maxHeld {
		pc.heldBytes = append(pc.heldBytes, b...)
	}
}

// helloArrived: the client's hello is parsed and the handshake is parked
// (or, for TLS 1.2, not yet handed to crypto/tls). Everything that blocks
// happens on a goroutine from here.
func (pc *proxyConn) helloArrived(ch *tlsmitm.ClientHello) {
	pc.sni = ch.ServerName
	pc.alpn = append([]string(nil), ch.ALPNProtocols...)
	// In TLS 1.2 the suite names the certificate's key type as well.
	pc.wantRSA = !offersECDSA(ch.SignatureSchemes) || (pc.legacy != nil && !offersECDSASuite(ch.CipherSuites))
	pc.ja4 = tlsmitm.JA4(ch)
	pc.helloAt = time.Now()
	if pc.sni != "" && !strings.EqualFold(strings.TrimSuffix(pc.sni, "."), pc.host) {
		// The name the client asks the origin for is policy's business
		// too: CONNECT to an allowed name with a blocked SNI is fronting.
		d := pc.h.cfg.Decide(pc.org, pc.sni, pc.port)
		switch d.Action {
		case ActionBlock:
			pc.decision = d
			decisions(d.Action).Inc()
			pc.logRequest("CONNECT", pc.host+":"+strconv.Itoa(pc.port)+" sni="+pc.sni, 403)
			pc.abortTLS(tlsmitm.AlertHandshakeFailure, "the SNI "+pc.sni+" is blocked by policy ("+d.Rule+")")
			return
		case ActionBypass:
			// Pass the untouched hello on, as for a bypassed CONNECT.
			pc.decision = d
			decisions(d.Action).Inc()
			pc.tls.Release()
			pc.tls = nil
			pc.legacy = nil
			pc.st = stTunnel
			pc.startTunnel()
			return
		}
	}
	pc.st = stWaitUpstream
	// prepare owns its copy of the hello: the connection's goes back to a
	// pool once the connection moves on or closes.
	go pc.prepare(pc.sni, pc.host, pc.port, pc.org, ch.Clone(), pc.alpn)
}

func offersECDSA(schemes []uint16) bool {
	for _, s := range schemes {
		if s == 0x0403 {
			return true
		}
	}
	return false
}

// upstreamReady is what prepare learned, handed back to the loop.
type upstreamReady struct {
	issuer   *certcache.Issuer
	noKey    string // fail mode when the org's key is not held
	keyErr   error
	up       *origin.Session
	raw      *origin.TunnelConn
	upErr    error
	duration time.Duration
}

// prepare runs off the loop: the org's key, the origin's TCP connection
// and its TLS handshake with the client's mirrored hello.
func (pc *proxyConn) prepare(sni, host string, port int, org string, hello *tlsmitm.ClientHello, alpn []string) {
	h := pc.h
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.HandshakeTimeout)
	defer cancel()
	var r upstreamReady
	r.issuer, r.keyErr = h.cfg.Keys.Issuer(ctx, org)
	if r.keyErr != nil {
		if mode, ok := h.cfg.NoKey(r.keyErr); ok {
			r.noKey = mode
		}
	}
	conn, err := h.origins.Dial(ctx, host, port)
	if err != nil {
		r.upErr = fmt.Errorf("origin %s:%d unreachable: %w", host, port, err)
	} else if r.keyErr != nil {
		r.raw = origin.Tunnel(conn)
	} else {
		serverName := sni
		if serverName == "" {
			serverName = host
		}
		r.up, r.upErr = h.origins.Handshake(ctx, conn, hello, serverName, alpn)
	}
	r.duration = time.Since(start)
	pc.post(func() { pc.upstreamArrived(r) })
}

// post runs f on the connection's loop.
func (pc *proxyConn) post(f func()) {
	_ = pc.ls.loop.Execute(context.Background(), gnetRunnable(f))
}

func (pc *proxyConn) upstreamArrived(r upstreamReady) {
	if pc.closed {
		r.close()
		return
	}
	upstreamLatency.Update(r.duration.Seconds())
	switch {
	case r.keyErr != nil && r.noKey == "tunnel" && r.raw != nil:
		// No key: never decrypt. The org asks for its traffic to pass.
		pc.h.cfg.Logger.Info("no key for organisation; tunnelling", "org", pc.org, "host", pc.host, "err", r.keyErr)
		pc.decision = Decision{Action: ActionBypass, Rule: "no-key"}
		pc.tls.Release()
		pc.tls = nil
		pc.st = stTunnel
		pc.link = newLink(pc, r.raw, r.raw.Conn, nil)
		pc.link.send(pc.heldBytes)
		pc.heldBytes = nil
		pc.link.grant()
		pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
		if pc.gc.InboundBuffered() > 0 {
			pc.onTraffic() // what the client sent while we waited
		}
		return
	case r.keyErr != nil:
		r.close()
		pc.abortTLS(tlsmitm.AlertHandshakeFailure, "no key for the organisation: "+r.keyErr.Error())
		return
	}
	pc.heldBytes = nil
	var origin *x509.Certificate
	if r.upErr != nil {
		// The user learns why in a 502 page over a handshake we complete.
		pc.failPage = r.upErr.Error()
		origin = syntheticOrigin(pc.sni, pc.host)
		upstreamFailures.Inc()
	} else {
		pc.upInfo = accesslog.TLSInfo{Version: r.up.Version, Suite: r.up.CipherSuite}
		pc.upALPN = r.up.NegotiatedProtocol
		origin = r.up.PeerCertificates[0]
		if r.up.VerifyErr != nil {
			pc.upVerifyErr = r.up.VerifyErr.Error()
			upstreamInvalid.Inc()
		}
		if !r.up.Mirrored {
			mirrorFallbacks.Inc()
		}
	}
	issuer := r.issuer
	if pc.upVerifyErr != "" {
		if pc.h.cfg.AllowInvalidUpstream != nil && pc.h.cfg.AllowInvalidUpstream(pc.org) {
			// Pass the failure on: a leaf no client trusts, so the
			// browser shows its own warning. Never a trusted leaf. Its
			// names are the origin's; its validity is now's (an expired
			// origin's window could not be copied under a new signer).
			issuer = pc.h.untrusted
			origin = validNow(origin)
		} else {
			pc.failPage = "the origin's certificate is not valid: " + pc.upVerifyErr
		}
	}
	if pc.failPage != "" {
		// The leaf only carries the 502 page: mint it for the name, valid
		// now, whatever the origin's certificate said.
		origin = syntheticOrigin(pc.sni, pc.host)
	}
	if pc.failPage == "" {
		pc.link = newLink(pc, r.up.Conn, r.up.Socket, r.up.Buffered)
		if r.up.NegotiatedProtocol != "" {
			_ = pc.tls.SetNegotiatedProtocol(r.up.NegotiatedProtocol)
			pc.opaque = r.up.NegotiatedProtocol != "http/1.1"
		}
	} else {
		r.close()
		if containsProto(pc.alpn, "http/1.1") {
			_ = pc.tls.SetNegotiatedProtocol("http/1.1")
		}
	}
	if pc.tls.Resumable() && issuer != pc.h.untrusted {
		// The client holds a session this org's leaf for this name
		// authenticated: no leaf is needed. A pass-on of an invalid
		// origin must show the client an untrusted leaf, so it never
		// resumes.
		pc.resumeClient()
		return
	}
	pc.mintAndAnswer(issuer, origin)
}

// resumeClient completes a resumable client handshake without a leaf.
func (pc *proxyConn) resumeClient() {
	out, err := pc.tls.Resume(pc.ls.out[:0])
	pc.flushOut(out)
	if err != nil {
		pc.logTLSFailure(err)
		pc.finish()
		return
	}
	clientResumptions.Inc()
	pc.st = stHandshake
	if pc.gc.InboundBuffered() > 0 {
		pc.onTraffic() // the client may have sent its Finished already
	}
}

func containsProto(list []string, p string) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// mintAndAnswer gets the leaf (from the loop's cache, or a mint) and
// completes the client's handshake with it.
func (pc *proxyConn) mintAndAnswer(issuer *certcache.Issuer, origin *x509.Certificate) {
	name := pc.sni
	if name == "" {
		name = pc.host
	}
	org := pc.org
	if issuer == pc.h.untrusted {
		org = "\x00untrusted" // never shares a cache entry with a trusted leaf
	}
	key := certcache.Key{Org: org, Name: name, Origin: sha256.Sum256(origin.Raw), RSA: pc.wantRSA}
	cache := pc.h.cacheFor(pc.ls)
	if leaf := cache.Get(key, time.Now()); leaf != nil {
		pc.answer(leaf, nil)
		return
	}
	cache.Mint(key, time.Now(), issuer.MintFunc(origin, name), pc.answer)
}

func (pc *proxyConn) answer(leaf *certcache.Leaf, err error) {
	if pc.legacy != nil {
		pc.answerLegacy(leaf, err)
		return
	}
	if pc.closed {
		return
	}
	if err != nil {
		pc.abortTLS(tlsmitm.AlertInternalError, "minting the leaf failed: "+err.Error())
		return
	}
	out, serr := pc.tls.SetCertificate(&tlsmitm.Certificate{Chain: leaf.Chain, PrivateKey: leaf.Key.Signer}, pc.ls.out[:0])
	pc.flushOut(out)
	if serr != nil {
		pc.logTLSFailure(serr)
		pc.finish()
		return
	}
	pc.st = stHandshake
	// The client may have sent its Finished already.
	if pc.gc.InboundBuffered() > 0 {
		pc.onTraffic()
	}
}

func (pc *proxyConn) abortTLS(a tlsmitm.Alert, reason string) {
	out, _ := pc.tls.Abort(pc.ls.out[:0], a, reason)
	pc.flushOut(out)
	pc.h.cfg.Logger.Info("inspection refused", "org", pc.org, "host", pc.host, "reason", reason)
	pc.finish()
}

// fromClient handles decrypted client bytes: the failure page, HTTP/1.1
// request inspection, and forwarding.
func (pc *proxyConn) fromClient(data, out []byte) []byte {
	pc.bytesIn += int64(len(data))
	if pc.failPage != "" {
		pc.logRequestFrom(data, 502)
		body := "Lucid could not reach this site safely: " + pc.failPage + "\n"
		resp := "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) +
			"\r\nConnection: close\r\n\r\n" + body
		pc.flushOut(out)
		pc.closeWith([]byte(resp))
		return pc.ls.out[:0]
	}
	if !pc.opaque && !pc.inspectRequests(data) {
		return pc.ls.out[:0]
	}
	if pc.link == nil || !pc.link.send(data) {
		pc.fail("client sends faster than the origin accepts (over the per-connection bound)")
		return out
	}
	return out
}

// fromUpstream runs on the loop with bytes the origin sent (or its end).
func (pc *proxyConn) fromUpstream(b []byte, err error) {
	if pc.closed {
		return
	}
	if len(b) > 0 {
		pc.bytesOut += int64(len(b))
		bytesRelayed.Add(len(b))
		if pc.st == stTunnel {
			if pc.plain && !pc.opaque {
				pc.inspectResponses(b)
			}
			_, _ = pc.gc.Write(b)
		} else if pc.legacy != nil {
			if !pc.opaque {
				pc.inspectResponses(b)
			}
			if werr := pc.legacy.write(b); werr != nil && err == nil {
				err = werr
			}
		} else {
			if !pc.opaque {
				pc.inspectResponses(b)
			}
			out := pc.ls.out[:0]
			for rest := b; len(rest) > 0; {
				out = pc.cs.spill(out)
				k := min(len(rest), 16<<10)
				out, _ = pc.tls.Seal(out, rest[:k])
				rest = rest[k:]
			}
			pc.flushOut(out)
		}
	}
	if err != nil {
		if pc.tls != nil && pc.st != stDone {
			pc.flushOut(pc.tls.CloseNotify(pc.ls.out[:0]))
		}
		pc.finish()
		return
	}
	pc.grantIfRoom()
}

// grantIfRoom lets the upstream reader go on while the client keeps up;
// otherwise the tick retries, and meanwhile the origin is held back by TCP.
func (pc *proxyConn) grantIfRoom() {
	if pc.link != nil && pc.gc.OutboundBuffered() < pc.h.cfg.MaxBuffered {
		pc.link.grant()
	}
}

func (pc *proxyConn) forwardRaw(in []byte) int {
	if pc.link == nil {
		if len(pc.heldBytes)+len(in) > maxHeld {
			pc.fail("client sent too much before the tunnel opened")
			return len(in)
		}
		pc.heldBytes = append(pc.heldBytes, in...)
		return len(in)
	}
	if len(in) == 0 || pc.holdBack(len(in)) {
		return 0
	}
	pc.bytesIn += int64(len(in))
	if !pc.link.send(in) {
		pc.fail("the origin's write queue is full")
	}
	return len(in)
}

// holdBack stops taking client input while the origin lags (the input
// waits in gnet's buffer), and cuts off a client whose waiting input
// passes the hard bound. waiting is what is left unprocessed.
func (pc *proxyConn) holdBack(waiting int) bool {
	if pc.link == nil || (pc.st != stRelay && pc.st != stTunnel) || !pc.link.congested() {
		return false
	}
	if waiting > maxWaitingInput(pc.h.cfg.MaxBuffered) {
		pc.fail("the client sends far faster than the origin accepts")
		return true
	}
	pc.link.pause()
	inputPaused.Inc()
	// The writer may have drained between the check and the pause.
	if !pc.link.congested() && pc.link.paused.CompareAndSwap(true, false) {
		return false
	}
	return true
}

// maxWaitingInput is the hard bound on client input waiting in gnet while
// the origin lags: gnet cannot stop reading a socket, so past this the
// connection is cut rather than buffered without end.
func maxWaitingInput(maxBuffered int) int { return 16 * maxBuffered }

// resumeInput runs on the loop when the writer has caught up.
func (pc *proxyConn) resumeInput() {
	if pc.closed || pc.st == stDone {
		return
	}
	if pc.legacy != nil && pc.legacy.lc != nil {
		pc.legacyResume()
	}
	if pc.gc.InboundBuffered() > 0 {
		pc.onTraffic()
	}
}

// startTunnel dials the destination for a bypassed connection.
func (pc *proxyConn) startTunnel() {
	host, port := pc.host, pc.port
	go func() {
		conn, err := pc.h.origins.Dial(context.Background(), host, port)
		pc.post(func() {
			if pc.closed {
				if conn != nil {
					conn.Close()
				}
				return
			}
			if err != nil {
				pc.h.cfg.Logger.Info("tunnel destination unreachable", "host", host, "err", err)
				pc.finish()
				return
			}
			pc.link = newLink(pc, origin.Tunnel(conn), conn, nil)
			pc.link.send(pc.heldBytes)
			pc.heldBytes = nil
			pc.link.grant()
			pc.cs.deadline = time.Now().Add(pc.h.cfg.IdleTimeout)
		})
	}()
}

func (pc *proxyConn) flushOut(out []byte) {
	if len(out) > 0 {
		_, _ = pc.gc.Write(out)
	}
}

// fail ends a connection for a reason of the edge's own.
func (pc *proxyConn) fail(reason string) {
	pc.h.cfg.Logger.Info("closing proxied connection", "client", pc.gc.RemoteAddr().String(), "host", pc.host, "reason", reason)
	if pc.tls != nil && (pc.st == stRelay || pc.st == stHandshake) {
		pc.flushOut(pc.tls.CloseNotify(pc.ls.out[:0]))
	}
	pc.finish()
}

// finish ends our side: output goes out, writing shuts down, and input is
// read and dropped until the client closes or the drain time passes.
func (pc *proxyConn) finish() {
	if pc.st == stDone {
		return
	}
	pc.st = stDone
	if pc.link != nil {
		pc.link.close()
	}
	pc.cs.draining = true
	pc.cs.shutWrPend = true
	pc.cs.deadline = time.Now().Add(drainTimeout)
	if pc.legacy != nil && pc.legacy.end() {
		// crypto/tls's last records wait in gnet's task queue
		// (AsyncWrite): shut the write side after them.
		pc.post(pc.shutWriteWhenFlushed)
		return
	}
	pc.shutWriteWhenFlushed()
}

// shutWriteWhenFlushed sends FIN once gnet has handed all our output to
// the kernel; until then the tick retries.
func (pc *proxyConn) shutWriteWhenFlushed() {
	if !pc.closed && pc.cs.shutWrPend && pc.gc.OutboundBuffered() == 0 {
		pc.cs.shutWrPend = false
		_ = unix.Shutdown(pc.gc.Fd(), unix.SHUT_WR)
	}
}

// closeWith sends the client a last answer and close_notify, and ends the
// connection.
func (pc *proxyConn) closeWith(resp []byte) {
	switch {
	case pc.legacy != nil:
		_ = pc.legacy.write(resp) // finish sends close_notify
	case pc.tls != nil:
		out, _ := pc.tls.Seal(pc.ls.out[:0], resp)
		pc.flushOut(pc.tls.CloseNotify(out))
	}
	pc.finish()
}

// tick runs on the loop: deadlines, a pending write shutdown, and credit
// for an upstream reader that waited on a slow client.
func (pc *proxyConn) tick(now time.Time) {
	pc.shutWriteWhenFlushed()
	if now.After(pc.cs.deadline) {
		if !pc.cs.draining {
			connsTimedOut.Inc()
		}
		_ = pc.gc.Close()
		return
	}
	if pc.st == stRelay || pc.st == stTunnel {
		pc.grantIfRoom()
	}
}

// release runs when gnet has closed the client connection.
func (pc *proxyConn) release() {
	pc.logClose()
	pc.closed = true
	if pc.link != nil {
		pc.link.close()
	}
	if pc.tls != nil {
		pc.tls.Release()
	}
	if pc.legacy != nil {
		pc.legacy.shut()
	}
	pc.heldBytes = nil
}

func (pc *proxyConn) logTLSFailure(err error) {
	var sent *tlsmitm.AlertError
	var got *tlsmitm.PeerAlertError
	switch {
	case errors.As(err, &sent):
		alertSent(sent.Alert)
	case errors.As(err, &got):
		alertReceived(got.Alert)
	}
	pc.h.cfg.Logger.Info("client TLS refused", "client", pc.gc.RemoteAddr().String(), "host", pc.host, "err", err.Error())
}

// validNow is the origin's certificate with its names and a validity that
// covers now.
func validNow(o *x509.Certificate) *x509.Certificate {
	now := time.Now()
	c := &x509.Certificate{Subject: o.Subject, RawSubject: o.RawSubject, DNSNames: o.DNSNames, IPAddresses: o.IPAddresses,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	c.Raw = append([]byte("valid-now:"), o.Raw...)
	return c
}

// syntheticOrigin stands in for an origin that could not be reached, so
// the client's handshake can complete and the user can read why.
func syntheticOrigin(sni, host string) *x509.Certificate {
	name := sni
	if name == "" {
		name = host
	}
	now := time.Now()
	c := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	c.Raw = []byte("synthetic:" + name)
	if ip := parseIP(name); ip != nil {
		c.IPAddresses = append(c.IPAddresses, ip)
	} else {
		c.DNSNames = []string{name}
	}
	return c
}
