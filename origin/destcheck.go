package origin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
)

// ErrRefused is wrapped by every RefusedError.
var ErrRefused = errors.New("origin: destination refused")

// RefusedError is an address Dial's AddrCheck refused: Dial connected to
// nothing there, the destination never saw a packet.
type RefusedError struct {
	Host string         // the destination Dial was given
	Addr netip.AddrPort // the address it resolved to
	Err  error          // the AddrCheck's reason
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("origin: refused to connect to %s at %s: %v", e.Host, e.Addr, e.Err)
}

func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Err} }

// destCheck runs the AddrCheck of one Dial, from net.Dialer's
// ControlContext: the socket exists, the address is resolved, connect has
// not been called. The dialer may try several addresses at once, so the
// first refusal is kept under a lock.
type destCheck struct {
	host   string
	mapped bool
	check  AddrCheck

	mu    sync.Mutex
	first *RefusedError
}

func (d *destCheck) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Never connect to what cannot be judged.
		return d.refuse(&RefusedError{Host: d.host, Err: fmt.Errorf("unparsable address %q: %w", address, err)})
	}
	// An IPv4-mapped IPv6 address is the IPv4 address: judged as one.
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if err := d.check(d.host, ap, d.mapped); err != nil {
		return d.refuse(&RefusedError{Host: d.host, Addr: ap, Err: err})
	}
	return nil
}

func (d *destCheck) refuse(e *RefusedError) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first == nil {
		d.first = e
	}
	return e
}

// refused is the first refusal of the Dial, nil if none (or no check).
func (d *destCheck) refused() *RefusedError {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}
