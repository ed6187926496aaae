package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lucid-edge/lucid/certcache"
	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/origin"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// awaitOrigin waits for what the client's handshake needs (DESIGN.md, data
// path steps 5 and 6): off the loop, the organisation's key, the origin's
// TCP connection and its TLS handshake with the client's mirrored hello
// (prepare); back on the loop, the leaf from the loop's cache or a mint.
// The client's handshake stays parked meanwhile; what it sends is left in
// gnet, within maxHeld.
type awaitOrigin struct {
	quiet
	client  clientTLS
	held    []byte    // the client's first bytes, for a tunnel if the org has no key and asks for one
	helloAt time.Time // when the hello arrived, for the client handshake's latency

	// Set when the origin is ready and a mint is under way.
	origin     *origin.Session
	failPage   string
	failStatus int // the page's status: 502 when zero, 403 for a refused destination
}

// startOrigin moves a connection whose hello has arrived on to awaiting
// the origin, and starts prepare.
func startOrigin(c *conn, client clientTLS, hello *tlsmitm.ClientHello, held []byte, helloAt time.Time) *awaitOrigin {
	p := &awaitOrigin{client: client, held: held, helloAt: helloAt}
	l := &c.log
	serverName := l.sni
	if serverName == "" {
		serverName = l.host
	}
	opts := origin.HandshakeOptions{ServerName: serverName, AllowLegacyTLS: l.decision.LegacyTLS}
	go prepare(c, p, l.org, l.host, l.port, addrCheck(c, false), opts, hello)
	return p
}

func (p *awaitOrigin) input(c *conn) {
	// Nothing is expected until our ServerHello; keep what arrives,
	// within bounds.
	if c.Gnet.InboundBuffered() > maxHeld {
		c.consume(c.peek(), c.Gnet.InboundBuffered())
		c.fail("client sent too much before its handshake was answered", nil)
	}
}

func (p *awaitOrigin) release() bool {
	if p.origin != nil {
		p.origin.Conn.Close()
	}
	return p.client.release()
}

// originReady is what prepare learned, handed back to the loop.
type originReady struct {
	to       *awaitOrigin
	issuer   *certcache.Issuer
	noKey    policy.FailMode
	keyErr   error // nil when issuer is set
	session  *origin.Session
	raw      net.Conn // the origin's TCP connection when there is no key to decrypt with
	upErr    error
	refused  *policy.Decision // the dial was refused by policy (upErr says so too)
	duration time.Duration
}

// prepare runs off the loop: the org's key, the origin's TCP connection
// and its TLS handshake with the client's mirrored hello, which it owns.
func prepare(c *conn, to *awaitOrigin, org, host string, port int, check origin.AddrCheck, opts origin.HandshakeOptions, hello *tlsmitm.ClientHello) {
	h := c.h
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.HandshakeTimeout)
	defer cancel()
	r := &originReady{to: to}
	r.issuer, r.keyErr = h.cfg.Keys.Issuer(ctx, org)
	if r.keyErr != nil {
		r.noKey, _ = h.cfg.NoKey(r.keyErr)
	}
	conn, err := h.origins.Dial(ctx, host, port, check)
	switch {
	case err != nil:
		if d, refused := dialRefusal(err); refused {
			r.refused = &d
		}
		r.upErr = fmt.Errorf("origin %s:%d unreachable: %w", host, port, err)
	case r.keyErr != nil:
		r.raw = conn
	default:
		r.session, r.upErr = h.origins.Handshake(ctx, conn, hello, opts)
	}
	r.duration = time.Since(start)
	c.post(to, r)
}

func (r *originReady) drop() {
	if r.raw != nil {
		r.raw.Close()
	}
	if r.session != nil {
		r.session.Conn.Close()
	}
}

// apply: the key and the origin are known. Without a key the connection
// is never decrypted: it is tunnelled or refused as the org's fail mode
// says. Otherwise the client's handshake goes on with a resumed session or
// a leaf, and a failure on the origin's side becomes a 502 page over a
// handshake we complete.
func (r *originReady) apply(c *conn) {
	p := r.to
	l := &c.log
	upstreamLatency.Update(r.duration.Seconds())
	if r.keyErr != nil {
		if r.noKey == policy.FailTunnel && r.raw != nil {
			c.h.cfg.Logger.Info("no key for organisation; tunnelling", "org", l.org, "host", l.host, "err", r.keyErr)
			l.decision = policy.Decision{Action: policy.Bypass, Rule: "no-key"}
			l.client = accesslog.TLSInfo{}
			if !l.admitTunnel(c) { // a tunnel is logged when it ends (accesslog.go)
				l.tunnelRefused(c)
				r.drop()
				p.client.abort(c, tlsmitm.AlertInternalError, logFullReason)
				return
			}
			p.client.release()
			held := p.held
			p.held = nil
			c.enter(openTunnel(c, origin.Tunnel(r.raw), held))
			return
		}
		r.drop()
		p.client.abort(c, tlsmitm.AlertHandshakeFailure, "no key for the organisation: "+r.keyErr.Error())
		return
	}
	p.held = nil
	leaf := p.chooseLeaf(c, r)
	if p.failPage == "" {
		switch alpn := r.session.NegotiatedProtocol; alpn {
		case "", "http/1.1", "h2":
			if alpn != "" && !p.client.offers(alpn) {
				// An origin cannot choose for the client what it never offered.
				p.failPage = "the site chose a protocol the client did not offer (" + alpn + ")"
				break
			}
			p.origin = r.session
			if alpn != "" {
				p.client.setProtocol(alpn)
			}
		default:
			// What the edge cannot frame is never relayed unjudged.
			p.failPage = "the site chose a protocol the edge cannot inspect (" + alpn + ")"
		}
	}
	if p.failPage != "" {
		r.drop()
		// The 502 page is HTTP/1.1, when the client speaks it.
		if p.client.offers("http/1.1") {
			p.client.setProtocol("http/1.1")
		}
	}
	if p.client.resumable() && leaf.Key.Kind != certcache.PassedOn {
		// The client holds a session this org's leaf for this name
		// authenticated: no leaf is needed. A pass-on of an invalid
		// origin must show the client an untrusted leaf, so it never
		// resumes.
		p.answer(c, nil)
		return
	}
	cache := c.h.cacheFor(c.Loop)
	if got := cache.Get(leaf.Key, time.Now()); got != nil {
		p.answer(c, got)
		return
	}
	cache.Mint(leaf.Key, time.Now(), leaf.Mint, func(got *certcache.Leaf, err error) {
		c.deliverNow(p, leafMinted{p, got, err})
	})
}

// chooseLeaf decides what the client's leaf stands for: the origin's
// certificate, an invalid origin's passed on under the untrusted signer,
// or a stand-in that carries the 502 page (DESIGN.md, data path step 5:
// an invalid origin certificate is never hidden from the user).
func (p *awaitOrigin) chooseLeaf(c *conn, r *originReady) certcache.LeafFor {
	l := &c.log
	name := l.sni
	if name == "" {
		name = l.host
	}
	rsa := p.client.wantsRSA()
	if r.refused != nil {
		// The name resolved to an address policy refuses: the user reads
		// a 403 page over a stand-in leaf, and the address saw no packet.
		l.decision = *r.refused
		p.failStatus = 403
		p.failPage = refusedPage(*r.refused)
		return r.issuer.StandIn(l.org, name, rsa)
	}
	if r.upErr != nil {
		upstreamFailures.Inc()
		if fe, below := errors.AsType[*origin.FloorError](r.upErr); below {
			// What the origin chose is what the operator needs to see.
			l.upstream = accesslog.TLSInfo{Version: fe.Version, Suite: fe.Suite}
		}
		p.failPage = r.upErr.Error()
		return r.issuer.StandIn(l.org, name, rsa)
	}
	s := r.session
	l.upstream = accesslog.TLSInfo{Version: s.Version, Suite: s.CipherSuite}
	if !s.Mirrored {
		mirrorFallbacks.Inc()
	}
	cert := s.PeerCertificates[0]
	var allowed []string
	if names := c.h.cfg.LeafNames; names != nil {
		allowed = names(l.org, l.port, name, cert.DNSNames)
	}
	if s.VerifyErr == nil {
		return r.issuer.ForOrigin(l.org, name, allowed, cert, rsa)
	}
	l.upVerify = s.VerifyErr.Error()
	upstreamInvalid.Inc()
	if allow := c.h.cfg.AllowInvalidUpstream; allow != nil && allow(l.org) {
		// Pass the failure on: a leaf no client trusts, so the browser
		// shows its own warning. Never a trusted leaf.
		return c.h.untrusted.PassOn(l.org, name, allowed, cert, rsa)
	}
	p.failPage = "the origin's certificate is not valid: " + l.upVerify
	return r.issuer.StandIn(l.org, name, rsa)
}

// leafMinted is the leaf cache's answer, on the loop.
type leafMinted struct {
	to   *awaitOrigin
	leaf *certcache.Leaf
	err  error
}

func (m leafMinted) apply(c *conn) {
	p := m.to
	if m.err != nil {
		p.client.abort(c, tlsmitm.AlertInternalError, "minting the leaf failed: "+m.err.Error())
		return
	}
	p.answer(c, m.leaf)
}

func (leafMinted) drop() {}

// answer completes the client's handshake with leaf, or resumes it when
// leaf is nil, and moves the connection on to handshaking.
func (p *awaitOrigin) answer(c *conn, leaf *certcache.Leaf) {
	next := &handshaking{client: p.client, origin: p.origin, failPage: p.failPage, failStatus: p.failStatus, helloAt: p.helloAt}
	p.client, p.origin = nil, nil
	c.enter(next)
	if err := next.client.answer(c, next, leaf); err != nil {
		c.tlsRefused(err)
		c.finish()
	}
}
