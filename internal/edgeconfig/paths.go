package edgeconfig

import (
	"fmt"
	"strings"

	"github.com/lucid-edge/lucid/internal/policy"
)

// pathRule is one compiled URL rule: its hosts matched the way connection
// rules match them (a one-rule policy), its path prefixes by prefix.
type pathRule struct {
	name     string
	hosts    *policy.Policy // blocks the rule's hosts, passes the rest
	prefixes []string
}

// PathBlocker compiles the orgs' URL rules (block rules with paths) into a
// function the proxy calls for every inspected request. It returns the
// rule that blocked, in the config's rules[i] naming.
func (c *Config) PathBlocker() (func(org, host, path string) (string, bool), error) {
	byOrg := map[string][]pathRule{}
	for i, o := range c.Orgs {
		for j, r := range o.Rules {
			if len(r.Paths) == 0 {
				continue
			}
			hosts := r.Hosts
			if len(hosts) == 0 {
				hosts = []string{"*"}
			}
			pol, err := policy.New([]policy.Org{{ID: "r", Default: policy.Inspect,
				Rules: []policy.Rule{{Action: policy.Block, Hosts: hosts, Ports: nil}}}})
			if err != nil {
				return nil, fmt.Errorf("orgs[%d].rules[%d]: %w", i, j, err)
			}
			byOrg[o.ID] = append(byOrg[o.ID], pathRule{name: fmt.Sprintf("rules[%d]", j), hosts: pol, prefixes: r.Paths})
		}
	}
	if len(byOrg) == 0 {
		return nil, nil
	}
	return func(org, host, path string) (string, bool) {
		for _, r := range byOrg[org] {
			for _, p := range r.prefixes {
				if strings.HasPrefix(path, p) && r.hosts.Decide("r", host, 0).Action == policy.Block {
					return r.name, true
				}
			}
		}
		return "", false
	}, nil
}
