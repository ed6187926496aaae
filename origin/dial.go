package origin

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// dialTimeout bounds connecting to a destination, whatever ctx allows.
const dialTimeout = 10 * time.Second

// AddrCheck judges an address Dial is about to connect to, after
// resolution and before the connection is attempted: each A/AAAA result
// and each happy-eyeballs attempt (RFC 8305), so a name that resolves to a
// refused address is refused however it resolves (DNS rebinding). host is
// the destination Dial was given; mapped is Config.Resolve's. A non-nil
// error refuses the address: Dial then returns a *RefusedError, unless
// another address of host connected. It is called from the dialing
// goroutines, several at once for one Dial. It is per Dial, since what may
// be dialed depends on whose connection it is.
type AddrCheck func(host string, addr netip.AddrPort, mapped bool) error

// Dial opens a TCP connection to host:port, or to the address Config.Resolve
// returns for it, within dialTimeout and ctx. Every address it connects to
// is first judged by check, when not nil (destcheck.go); when check
// refused an address and no other connected, the error is a
// *RefusedError, told apart from an unreachable destination with
// errors.As or errors.Is(err, ErrRefused). The connection is the caller's:
// hand it to Handshake for an inspected destination, or wrap it with
// Tunnel for a bypassed one.
//
// Dial blocks on the network: call it off the event loop.
func (d *Dialer) Dial(ctx context.Context, host string, port int, check AddrCheck) (net.Conn, error) {
	target, mapped := net.JoinHostPort(host, strconv.Itoa(port)), false
	if d.cfg.Resolve != nil {
		target, mapped = d.cfg.Resolve(host, port)
	}
	nd := net.Dialer{Timeout: dialTimeout}
	var dc *destCheck
	if check != nil {
		dc = &destCheck{host: host, mapped: mapped, check: check}
		nd.ControlContext = dc.control
	}
	conn, err := nd.DialContext(ctx, "tcp", target)
	if err != nil {
		if refused := dc.refused(); refused != nil {
			return nil, refused
		}
		return nil, err
	}
	return conn, nil
}
