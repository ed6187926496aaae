package proxy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/tlsmitm"
)

// awaitHello reads the client's ClientHello (DESIGN.md, data path steps 3
// and 4), whether the CONNECT is to be inspected or bypassed: tlsmitm
// parses it once and parks the handshake, and policy is asked again about
// the name the client wants, the SNI; the stricter answer stands. The
// hello's bytes are kept as they came, for a tunnel if both bypass. What
// is not a ClientHello is refused, bypass or not.
type awaitHello struct {
	quiet
	tls  *tlsmitm.Conn
	held []byte // the client's bytes so far, untouched
}

// maxHeld bounds what a connection may send before its destination is
// ready: a ClientHello and a little more.
const maxHeld = 64 << 10

func (p *awaitHello) input(c *conn) {
	in := c.peek()
	out := c.Loop.Out()
	consumed := 0
	for {
		out = c.Spill(out)
		res, err := p.tls.Process(in[consumed:], out)
		p.hold(in[consumed : consumed+res.Consumed])
		consumed += res.Consumed
		out = res.Out
		if err != nil {
			c.tlsFailed(in, out, err)
			return
		}
		switch res.Event {
		case tlsmitm.EventNeedMore:
			c.Flush(out)
			c.consume(in, consumed)
			return
		case tlsmitm.EventPending:
			c.Flush(out)
			c.consume(in, consumed)
			p.arrived(c, p.tls.Hello(), nil)
			return
		case tlsmitm.EventLegacy:
			// A TLS 1.2 client: tlsmitm consumed nothing, and crypto/tls
			// takes the hello once the origin and the leaf are ready.
			rest := in[consumed:]
			if len(rest) > maxHeld {
				c.consume(in, len(in))
				c.fail("TLS 1.2 ClientHello larger than "+strconv.Itoa(maxHeld)+" bytes", nil)
				return
			}
			p.held = append(p.held, rest...)
			legacyHello := slices.Clone(rest)
			c.consume(in, len(in))
			p.arrived(c, p.tls.LegacyHello(), legacyHello)
			return
		default:
			// Nothing else can come before the hello is answered.
			c.Flush(out)
			c.consume(in, len(in))
			c.fail("client TLS event "+strconv.Itoa(int(res.Event))+" before its hello was answered", nil)
			return
		}
	}
}

func (p *awaitHello) hold(b []byte) {
	if len(p.held)+len(b) <= maxHeld {
		p.held = append(p.held, b...)
	}
}

func (p *awaitHello) release() bool {
	p.tls.Release()
	p.held = nil
	return false
}

// arrived: the client's hello is parsed and the handshake parked (or, for
// TLS 1.2, not yet handed to crypto/tls: legacyHello holds its bytes).
// Policy sees the SNI; then everything that blocks happens off the loop
// (origin.go).
func (p *awaitHello) arrived(c *conn, ch *tlsmitm.ClientHello, legacyHello []byte) {
	l := &c.log
	l.sni = ch.ServerName
	l.client.JA4 = tlsmitm.JA4(ch)
	if l.sni != "" && !policy.ValidServerName(l.sni) {
		l.decision = policy.Decision{Action: policy.Block, Rule: "bad-request"}
		l.tunnelLine(c, 400)
		c.abortTLS(p.tls, tlsmitm.AlertIllegalParameter, "the SNI is not a host name (RFC 6066 §3)")
		return
	}
	if l.sni != "" && !strings.EqualFold(strings.TrimSuffix(l.sni, "."), l.host) {
		// The name the client asks the origin for is policy's business
		// too, and it can only make the decision stricter: CONNECT to an
		// allowed name with a blocked SNI is fronting, and a bypassed SNI
		// (a pinned name) behind an inspected CONNECT is inspected.
		d := policy.Stricter(l.decision, c.h.cfg.Decide(l.org, l.sni, l.port))
		if d != l.decision {
			l.decision = d
			decisions(d.Action).Inc()
		}
	}
	switch l.decision.Action {
	case policy.Block:
		l.tunnelLine(c, 403)
		c.abortTLS(p.tls, tlsmitm.AlertHandshakeFailure, "the SNI "+l.sni+" is blocked by policy ("+l.decision.Rule+")")
		return
	case policy.Bypass:
		// Pass the untouched hello on: the CONNECT target and the SNI
		// both say so.
		l.client = accesslog.TLSInfo{JA4: l.client.JA4}
		if !l.admitTunnel(c) {
			// Its line now names the SNI: its room must grow, or the
			// tunnel is refused before anything is dialed (accesslog.go).
			l.tunnelRefused(c)
			c.abortTLS(p.tls, tlsmitm.AlertInternalError, logFullReason)
			return
		}
		held := p.held
		p.held = nil
		p.release()
		c.enter(startTunnel(c, held))
		return
	}
	l.releaseTunnel(c) // inspected: each request is admitted on its own
	var client clientTLS
	if legacyHello != nil {
		client = newClientTLS12(p.tls, ch, legacyHello)
	} else {
		client = newClientTLS13(p.tls)
	}
	// tlsmitm's parse of the hello is the one every later step reads:
	// the origin's mirrored hello is built from it off the loop, so the
	// goroutine gets a copy of its own.
	c.enter(startOrigin(c, client, ch.Clone(), p.held, time.Now()))
}
