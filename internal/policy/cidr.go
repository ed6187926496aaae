package policy

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strconv"
)

// mappedRange is ::ffff:0:0/96, where IPv6 carries IPv4 addresses
// (RFC 4291 §2.5.5.2). Policy reads a mapped address as the IPv4 address
// it is, since a dual-stack socket dialing it reaches that IPv4 host.
var mappedRange = netip.MustParsePrefix("::ffff:0:0/96")

// parsePrefix reads a CIDR host pattern such as 10.0.0.0/8 or fd00::/8.
// An IPv4-mapped range (::ffff:10.0.0.0/104) becomes the IPv4 range it
// holds. An IPv6 range wider than /96 that holds the whole mapped range
// (::/0) is refused: it would read as every IPv4 address too, which
// nobody writing ::/0 for "all of IPv6" means, and silently leaving IPv4
// out would let a mapped address walk around a block rule.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("host pattern " + strconv.Quote(s) + ": not a CIDR range (an address, '/' and a length, as 10.0.0.0/8 or fd00::/8)")
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, errors.New("host pattern " + strconv.Quote(s) + ": bits set after the first " + strconv.Itoa(p.Bits()) + "; the range is " + m.String())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96), nil
	}
	if p.Addr().Is6() && p.Bits() < 96 && p.Contains(mappedRange.Addr()) {
		return netip.Prefix{}, errors.New("host pattern " + strconv.Quote(s) + ": holds the IPv4-mapped range ::ffff:0:0/96; name IPv4 ranges in IPv4 (0.0.0.0/0) and IPv6 ranges that leave it out (2000::/3)")
	}
	return p, nil
}

// addrIndex finds the rules whose IP or CIDR patterns cover an address. An
// IP pattern is a range of one address (/32, /128). Ranges are grouped by
// length, one map per length keyed by the range's masked address, longest
// first: a lookup masks the address once per length the rules use (at
// most 33 for IPv4, 129 for IPv6), as a routing table is walked by length,
// and allocates nothing. IPv4 keys are uint32, which Go's maps hash on a
// fast path; IPv6 keys are the 16 bytes.
type addrIndex struct {
	v4 []prefixLevel[uint32]
	v6 []prefixLevel[[16]byte]
}

type prefixLevel[K comparable] struct {
	bits  int
	rules map[K][]int32 // rule indexes in increasing order
}

// key4 is a's 32 bits with those after the first bits cleared.
func key4(a netip.Addr, bits int) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]) & (^uint32(0) << (32 - bits))
}

// key6 is a's 128 bits with those after the first bits cleared.
func key6(a netip.Addr, bits int) [16]byte {
	k := a.As16()
	for i := bits / 8; i < len(k); i++ {
		if i == bits/8 {
			k[i] &= byte(0xff << (8 - bits%8))
		} else {
			k[i] = 0
		}
	}
	return k
}

func (x *addrIndex) add(p netip.Prefix, idx int32) {
	if p.Addr().Is4() {
		addLevel(&x.v4, p.Bits(), key4(p.Addr(), p.Bits()), idx)
	} else {
		addLevel(&x.v6, p.Bits(), key6(p.Addr(), p.Bits()), idx)
	}
}

func addLevel[K comparable](levels *[]prefixLevel[K], bits int, k K, idx int32) {
	i, found := slices.BinarySearchFunc(*levels, bits, func(l prefixLevel[K], bits int) int { return bits - l.bits })
	if !found {
		*levels = slices.Insert(*levels, i, prefixLevel[K]{bits: bits, rules: make(map[K][]int32)})
	}
	l := &(*levels)[i]
	l.rules[k] = appendIndex(l.rules[k], idx)
}

// exact returns the rules naming a itself (an IP pattern or a range of
// one address). a is unmapped and has no zone.
func (x *addrIndex) exact(a netip.Addr) []int32 {
	if a.Is4() {
		if len(x.v4) > 0 && x.v4[0].bits == 32 {
			return x.v4[0].rules[key4(a, 32)]
		}
		return nil
	}
	if len(x.v6) > 0 && x.v6[0].bits == 128 {
		return x.v6[0].rules[a.As16()]
	}
	return nil
}

// firstAddr returns the earliest rule before best that has an IP or CIDR
// pattern covering a and satisfies m for port, or best. a is unmapped and
// has no zone.
func (op *orgPolicy) firstAddr(a netip.Addr, port int, best int32, m match) int32 {
	if a.Is4() {
		for _, l := range op.addrs.v4 {
			best = op.first(l.rules[key4(a, l.bits)], port, best, m)
		}
		return best
	}
	for _, l := range op.addrs.v6 {
		best = op.first(l.rules[key6(a, l.bits)], port, best, m)
	}
	return best
}
