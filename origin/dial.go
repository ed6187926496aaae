package origin

import (
	"context"
	"net"
	"strconv"
	"time"
)

// dialTimeout bounds connecting to a destination, whatever ctx allows.
const dialTimeout = 10 * time.Second

// Dial opens a TCP connection to host:port, or to the address Config.Resolve
// returns for it, within dialTimeout and ctx. The connection is the
// caller's: hand it to Handshake for an inspected destination, or wrap it
// with Tunnel for a bypassed one.
//
// Dial blocks on the network: call it off the event loop.
func (d *Dialer) Dial(ctx context.Context, host string, port int) (net.Conn, error) {
	target := net.JoinHostPort(host, strconv.Itoa(port))
	if d.cfg.Resolve != nil {
		target = d.cfg.Resolve(host, port)
	}
	nd := net.Dialer{Timeout: dialTimeout}
	return nd.DialContext(ctx, "tcp", target)
}
