package policy

import "net/netip"

// The refused destinations: addresses that are not on the public internet
// (IANA's IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890, mark
// them not globally reachable), so a proxy client asking for one is
// reaching into the edge's own network, and the cloud metadata services,
// which hand out the edge's own credentials. Destination refuses them
// unless an organisation's rule opens them by address.

// metadataAddrs are the cloud metadata and host-agent services. Only a
// rule naming the address itself opens one: a range that happens to hold
// it (169.254.0.0/16 for some link-local device) does not.
var metadataAddrs = []netip.Addr{
	// AWS, Google Cloud, Azure, OpenStack, Oracle Cloud, DigitalOcean,
	// Hetzner and IBM Cloud instance metadata.
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),   // AWS instance metadata over IPv6 (Nitro)
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata and credentials
	netip.MustParseAddr("fd20:ce::254"),    // Google Cloud metadata over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud ECS metadata
	netip.MustParseAddr("169.254.0.23"),    // Tencent Cloud metadata
	netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud Infrastructure Classic metadata
	netip.MustParseAddr("168.63.129.16"),   // Azure WireServer (a public address, so listed here)
}

type refusedRange struct {
	prefix netip.Prefix
	reason string
}

// Refusal reasons, as Destination puts them in Decision.Rule.
const (
	refusedMetadata    = "refused:metadata"
	refusedLoopback    = "refused:loopback"
	refusedUnspecified = "refused:unspecified"
	refusedLinkLocal   = "refused:link-local"
	refusedPrivate     = "refused:private"
	refusedUniqueLocal = "refused:unique-local"
	refusedCGNAT       = "refused:cgnat"
	refusedMulticast   = "refused:multicast"
	refusedBroadcast   = "refused:broadcast"
	refusedReserved    = "refused:reserved"
	refusedPort        = "refused:port"
	refusedOwn         = "refused:own-listener"
	refusedAddress     = "refused:address"
)

// refused4 and refused6 are tried in order; the first range holding an
// address gives the reason.
var refused4 = []refusedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), refusedUnspecified}, // "this network" (RFC 791, RFC 1122 §3.2.1.3); Linux dials 0.0.0.0 as the local host
	{netip.MustParsePrefix("127.0.0.0/8"), refusedLoopback},  // RFC 1122 §3.2.1.3
	{netip.MustParsePrefix("169.254.0.0/16"), refusedLinkLocal},
	{netip.MustParsePrefix("10.0.0.0/8"), refusedPrivate}, // RFC 1918
	{netip.MustParsePrefix("172.16.0.0/12"), refusedPrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), refusedPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), refusedCGNAT},          // shared address space, RFC 6598
	{netip.MustParsePrefix("224.0.0.0/4"), refusedMulticast},        // RFC 5771
	{netip.MustParsePrefix("255.255.255.255/32"), refusedBroadcast}, // limited broadcast, RFC 919
	{netip.MustParsePrefix("240.0.0.0/4"), refusedReserved},         // RFC 1112 §4
	{netip.MustParsePrefix("192.0.0.0/24"), refusedReserved},        // IETF protocol assignments, RFC 6890
	{netip.MustParsePrefix("198.18.0.0/15"), refusedReserved},       // benchmarking, RFC 2544
	{netip.MustParsePrefix("192.0.2.0/24"), refusedReserved},        // documentation, RFC 5737
	{netip.MustParsePrefix("198.51.100.0/24"), refusedReserved},     // documentation
	{netip.MustParsePrefix("203.0.113.0/24"), refusedReserved},      // documentation
}

var refused6 = []refusedRange{
	{netip.MustParsePrefix("::/128"), refusedUnspecified},
	{netip.MustParsePrefix("::1/128"), refusedLoopback},
	{netip.MustParsePrefix("fe80::/10"), refusedLinkLocal},     // RFC 4291 §2.5.6
	{netip.MustParsePrefix("fc00::/7"), refusedUniqueLocal},    // RFC 4193
	{netip.MustParsePrefix("ff00::/8"), refusedMulticast},      // RFC 4291 §2.7
	{netip.MustParsePrefix("fec0::/10"), refusedReserved},      // site-local, deprecated by RFC 3879
	{netip.MustParsePrefix("64:ff9b:1::/48"), refusedReserved}, // local-use NAT64, RFC 8215: its IPv4 sits where the operator chose
	{netip.MustParsePrefix("100::/64"), refusedReserved},       // discard-only, RFC 6666
	{netip.MustParsePrefix("2001:2::/48"), refusedReserved},    // benchmarking, RFC 5180
	{netip.MustParsePrefix("2001:db8::/32"), refusedReserved},  // documentation, RFC 3849
	{netip.MustParsePrefix("3fff::/20"), refusedReserved},      // documentation, RFC 9637
}

// IPv6 forms that carry an IPv4 address a packet is delivered to. An
// IPv4-mapped address (::ffff:0:0/96) is unmapped before any of this.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64 prefix, RFC 6052 §2.1: the last 32 bits
	sixToFour  = netip.MustParsePrefix("2002::/16")       // 6to4, RFC 3056 §2: bits 16-47
	teredo     = netip.MustParsePrefix("2001::/32")       // Teredo, RFC 4380 §4: the client's address, inverted, in the last 32 bits
	compatible = netip.MustParsePrefix("::/96")           // IPv4-compatible, deprecated by RFC 4291 §2.5.5.1: the last 32 bits
	translated = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (SIIT), RFC 2765 §2.1: the last 32 bits
)

// classify returns why a is refused ("" when it is not), and whether only
// a rule naming a itself opens it (the metadata addresses). a is unmapped
// and has no zone. An IPv6 address that carries an IPv4 one (NAT64, 6to4,
// Teredo, IPv4-compatible, IPv4-translated) is refused for what the IPv4
// address is: a NAT64 gateway dialing 64:ff9b::a9fe:a9fe reaches
// 169.254.169.254 of its own network.
func classify(a netip.Addr) (reason string, exactOnly bool) {
	for _, m := range metadataAddrs {
		if a == m {
			return refusedMetadata, true
		}
	}
	ranges := refused6
	if a.Is4() {
		ranges = refused4
	}
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			return r.reason, false
		}
	}
	if v4, ok := embedded4(a); ok {
		return classify(v4)
	}
	return "", false
}

// embedded4 returns the IPv4 address an IPv6 address carries, if any.
func embedded4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), compatible.Contains(a), translated.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case teredo.Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}
