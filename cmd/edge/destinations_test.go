package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/internal/edgeconfig"
	"github.com/lucid-edge/lucid/internal/policy"
)

// TestCheckTargetRefusesInternalDestinations: issue 12, finding 8, for
// targets that are addresses: loopback, private and metadata addresses,
// ports other than 443, and the edge's own admin listener are refused
// before the CONNECT is answered, unless a rule opens the range by CIDR
// (never *); names the hosts section maps skip range and port checks but
// not the own-listener refusal.
func TestCheckTargetRefusesInternalDestinations(t *testing.T) {
	cfg, err := edgeconfig.Parse([]byte(`listen: 127.0.0.1:0
admin: 127.0.0.1:19090
orgs:
  - id: acme
    rules:
      - {action: inspect, hosts: ["*"]}
      - {action: inspect, hosts: [192.168.7.0/24], ports: [8443]}
hosts: {demo.test: "127.0.0.1:8443", admin.test: "127.0.0.1:19090"}
access_log: ""
`))
	if err != nil {
		t.Fatal(err)
	}
	pc, closeAll, err := proxyConfig(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	for _, tc := range []struct {
		host  string
		port  int
		plain bool
		want  string // "" allowed, else the refusal's rule prefix
	}{
		{"127.0.0.2", 9443, false, "refused:"},
		{"127.0.0.1", 22, false, "refused:"},
		{"169.254.169.254", 80, true, "refused:metadata"},
		{"10.0.0.1", 80, true, "refused:private"},
		{"::1", 443, false, "refused:"},
		{"127.0.0.1", 19090, false, "refused:own-listener"},
		{"192.168.7.9", 8443, false, ""}, // opened by its CIDR rule and port
		{"192.168.8.9", 443, false, "refused:private"},
		{"203.0.113.9", 22, false, "refused:"},
		{"demo.test", 443, false, ""},                      // mapped by the operator
		{"admin.test", 443, false, "refused:own-listener"}, // mapped onto the admin listener
		{"localhost", 443, false, "refused:loopback"},      // RFC 6761: refused before it is resolved
		{"api.localhost", 19090, false, "refused:own-listener"},
		{"www.example", 22, false, "refused:port"},
		{"www.example", 443, false, ""}, // its addresses are checked where it is dialed
	} {
		d := pc.CheckTarget("acme", tc.host, tc.port, tc.plain)
		switch {
		case tc.want == "" && d.Action == policy.Block:
			t.Errorf("%s:%d refused (%s), want allowed", tc.host, tc.port, d.Rule)
		case tc.want != "" && (d.Action != policy.Block || !strings.HasPrefix(d.Rule, tc.want)):
			t.Errorf("%s:%d: %s %q, want a block %q…", tc.host, tc.port, d.Action, d.Rule, tc.want)
		}
	}
}
