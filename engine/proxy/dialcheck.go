package proxy

import (
	"errors"
	"net/netip"

	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/origin"
)

// refusedDestination is what a connection's AddrCheck answers for an
// address policy refuses: the decision that refused it.
type refusedDestination struct{ d policy.Decision }

func (e *refusedDestination) Error() string {
	return "the destination is refused by policy (" + e.d.Rule + ")"
}

// addrCheck is the dial-time check of c's destination (Config.CheckAddr
// for c's organisation), nil when the edge checks none. Built on the loop:
// the dialing goroutines read nothing of c.
func addrCheck(c *conn, plain bool) origin.AddrCheck {
	check := c.h.cfg.CheckAddr
	if check == nil {
		return nil
	}
	org := c.log.org
	return func(host string, addr netip.AddrPort, mapped bool) error {
		if d := check(org, host, addr, mapped, plain); d.Action == policy.Block {
			return &refusedDestination{d}
		}
		return nil
	}
}

// dialRefusal is the decision that refused a dial, when err says policy
// refused it rather than the network failing.
func dialRefusal(err error) (policy.Decision, bool) {
	var r *refusedDestination
	if errors.As(err, &r) {
		return r.d, true
	}
	return policy.Decision{}, false
}

// refusedPage is what the user reads for a destination policy refused.
func refusedPage(d policy.Decision) string {
	return "Blocked by your organisation's policy: the destination is refused (" + d.Rule + ")."
}
