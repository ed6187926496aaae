package proxy

import "github.com/lucid-edge/lucid/engine"

// closing is the last phase: our side is done (engine.Conn.Drain), and
// the client's input is read and dropped until it closes or the drain
// time passes. No event is addressed to it.
type closing struct{ quiet }

func (*closing) input(c *conn) {
	engine.Discard(c.Gnet, c.Gnet.InboundBuffered())
}
