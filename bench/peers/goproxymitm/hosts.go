package main

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// hostOverrides maps origin names to the address that serves them, the
// way /etc/hosts would, but with a port: the benchmark's origin names
// (o1.bench.test, ...) do not resolve, and its origin listens on loopback.
type hostOverrides struct {
	exact    map[string]string // name → host:port
	suffixes []suffixRule      // "*.bench.test" → host:port, in flag order
}

type suffixRule struct{ suffix, addr string } // suffix keeps its leading dot

// parseHosts reads "NAME=HOST:PORT,..." where NAME is a DNS name or
// "*.suffix" (any name under suffix).
func parseHosts(s string) (hostOverrides, error) {
	h := hostOverrides{exact: map[string]string{}}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr, ok := strings.Cut(item, "=")
		if !ok {
			return h, fmt.Errorf("%q is not NAME=HOST:PORT", item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return h, fmt.Errorf("%q: the address needs a port: %v", item, err)
		}
		name = strings.ToLower(name)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			h.suffixes = append(h.suffixes, suffixRule{suffix: "." + rest, addr: addr})
		} else {
			h.exact[name] = addr
		}
	}
	return h, nil
}

// lookup returns the override address for host, if there is one.
func (h hostOverrides) lookup(host string) (string, bool) {
	host = strings.ToLower(host)
	if a, ok := h.exact[host]; ok {
		return a, true
	}
	for _, r := range h.suffixes {
		if strings.HasSuffix(host, r.suffix) {
			return r.addr, true
		}
	}
	return "", false
}

// dialContext dials the override of addr's host when there is one, and
// addr itself otherwise. The TLS layer above still verifies the origin's
// certificate for the name asked for, not for the address dialled.
func (h hostOverrides) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if to, ok := h.lookup(host); ok {
				addr = to
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// nameSet is a list of names, each exact or "*.suffix" (any name under
// suffix), as -tunnel gives them.
type nameSet struct {
	exact    map[string]bool
	suffixes []string // each keeps its leading dot
}

// parseNames reads "NAME,*.suffix,...".
func parseNames(s string) (nameSet, error) {
	n := nameSet{exact: map[string]bool{}}
	for _, item := range strings.Split(s, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		switch {
		case item == "":
		case strings.ContainsAny(item, ":=/ "):
			return n, fmt.Errorf("%q is not a name or *.suffix", item)
		case strings.HasPrefix(item, "*."):
			n.suffixes = append(n.suffixes, item[1:])
		default:
			n.exact[item] = true
		}
	}
	return n, nil
}

func (n nameSet) match(host string) bool {
	host = strings.ToLower(host)
	if n.exact[host] {
		return true
	}
	for _, s := range n.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}
