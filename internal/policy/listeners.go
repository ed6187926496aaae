package policy

import (
	"errors"
	"net"
	"net/netip"
)

// ownListeners are the addresses the edge and its CA listen on. A proxy
// client that reaches one talks to the edge's admin API or the CA's key
// service from inside, so Destination refuses them for every organisation,
// whatever the rules say.
type ownListeners struct {
	exact map[netip.AddrPort]struct{}
	// everywhere holds the ports listened on at an unspecified address
	// (0.0.0.0, [::]): that port on every address of the machine.
	everywhere map[uint16]struct{}
	// ports holds every listened port: dialing 0.0.0.0 or :: reaches the
	// local host, whatever address the listener has.
	ports map[uint16]struct{}
	// local are the machine's interface addresses when WithOwnListeners
	// ran; loopback addresses are always local.
	local map[netip.Addr]struct{}
}

// WithOwnListeners returns a copy of p that refuses, in Destination, the
// given listen addresses: the edge's proxy and admin addresses, the CA's
// key-distribution and admin API addresses. An unspecified address
// (0.0.0.0:p or [::]:p, either family, since Go listens dual-stack) means
// port p on every local address: any loopback address, the unspecified
// addresses, and every address of the machine's interfaces, read now (an
// edge whose interfaces change calls it again). Any listener's port on an
// unspecified address is refused too, since connecting to 0.0.0.0 or ::
// reaches the local host. The copy shares p's rules and Generation.
//
// It fails when a listener has no address or port, or when the
// interfaces cannot be read: the edge must not start unable to recognise
// itself.
func (p *Policy) WithOwnListeners(listeners []netip.AddrPort) (*Policy, error) {
	var local []netip.Addr
	for _, l := range listeners {
		if l.Addr().IsUnspecified() {
			addrs, err := net.InterfaceAddrs()
			if err != nil {
				return nil, errors.New("policy: own listeners: reading interface addresses: " + err.Error())
			}
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok {
						local = append(local, ip)
					}
				}
			}
			break
		}
	}
	return p.withOwnListeners(listeners, local)
}

func (p *Policy) withOwnListeners(listeners []netip.AddrPort, local []netip.Addr) (*Policy, error) {
	own := ownListeners{
		exact:      make(map[netip.AddrPort]struct{}),
		everywhere: make(map[uint16]struct{}),
		ports:      make(map[uint16]struct{}),
		local:      make(map[netip.Addr]struct{}),
	}
	for _, l := range listeners {
		if !l.Addr().IsValid() || l.Port() == 0 {
			return nil, errors.New("policy: own listener " + l.String() + ": needs an address and a port")
		}
		a := l.Addr().Unmap().WithZone("")
		own.ports[l.Port()] = struct{}{}
		if a.IsUnspecified() {
			own.everywhere[l.Port()] = struct{}{}
			continue
		}
		own.exact[netip.AddrPortFrom(a, l.Port())] = struct{}{}
	}
	for _, a := range local {
		own.local[a.Unmap().WithZone("")] = struct{}{}
	}
	c := *p
	c.own = own
	return &c, nil
}

// holds reports whether dialing a:port reaches one of the listeners. a is
// unmapped and has no zone.
func (o *ownListeners) holds(a netip.Addr, port uint16) bool {
	if _, ok := o.ports[port]; !ok {
		return false
	}
	if a.IsUnspecified() {
		return true
	}
	if _, ok := o.exact[netip.AddrPortFrom(a, port)]; ok {
		return true
	}
	if _, ok := o.everywhere[port]; ok {
		if a.IsLoopback() {
			return true
		}
		_, ok := o.local[a]
		return ok
	}
	return false
}
