package edgeconfig

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/lucid-edge/lucid/internal/policy"
)

// Org returns the organisation with the given ID, or nil.
func (c *Config) Org(id string) *Org {
	for i := range c.Orgs {
		if c.Orgs[i].ID == id {
			return &c.Orgs[i]
		}
	}
	return nil
}

// HostOverride returns the address the hosts section gives for a name
// (any case, trailing dot or not), which replaces DNS and the requested
// port.
func (c *Config) HostOverride(host string) (netip.AddrPort, bool) {
	ap, ok := c.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]
	return ap, ok
}

// Policy compiles the organisations' rules, URL rules (rules with paths)
// included: policy.Judge applies them to each request. A rule without a
// name is called rules[i] after its place in the org's rules.
func (c *Config) Policy() (*policy.Policy, error) {
	orgs := make([]policy.Org, len(c.Orgs))
	for i, o := range c.Orgs {
		def, ok := policy.ParseAction(o.Default)
		if !ok {
			return nil, fmt.Errorf("orgs[%d].default: %q is not one of inspect, bypass, block", i, o.Default)
		}
		po := policy.Org{ID: o.ID, Default: def, BypassPinned: o.BypassPinned}
		for j, r := range o.Rules {
			a, ok := policy.ParseAction(r.Action)
			if !ok {
				return nil, fmt.Errorf("orgs[%d].rules[%d].action: %q is not one of inspect, bypass, block", i, j, r.Action)
			}
			po.Rules = append(po.Rules, policy.Rule{Action: a, Hosts: r.Hosts, Ports: r.Ports, Name: r.Name,
				Paths: r.Paths, PathsCaseSensitive: r.PathsCaseSensitive, UpstreamTLSLegacy: r.UpstreamTLS == "legacy"})
		}
		orgs[i] = po
	}
	return policy.New(orgs)
}
