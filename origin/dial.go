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
// returns for it, within dialTimeout and ctx. Every address it connects to
// is first judged by Config.CheckAddr (destcheck.go); when CheckAddr
// refused an address and no other connected, the error is a
// *RefusedError, told apart from an unreachable destination with
// errors.As or errors.Is(err, ErrRefused). The connection is the caller's:
// hand it to Handshake for an inspected destination, or wrap it with
// Tunnel for a bypassed one.
//
// Dial blocks on the network: call it off the event loop.
func (d *Dialer) Dial(ctx context.Context, host string, port int) (net.Conn, error) {
	target, mapped := net.JoinHostPort(host, strconv.Itoa(port)), false
	if d.cfg.Resolve != nil {
		target, mapped = d.cfg.Resolve(host, port)
	}
	nd := net.Dialer{Timeout: dialTimeout}
	var check *destCheck
	if d.cfg.CheckAddr != nil {
		check = &destCheck{host: host, mapped: mapped, check: d.cfg.CheckAddr}
		nd.ControlContext = check.control
	}
	conn, err := nd.DialContext(ctx, "tcp", target)
	if err != nil {
		if refused := check.refused(); refused != nil {
			return nil, refused
		}
		return nil, err
	}
	return conn, nil
}
