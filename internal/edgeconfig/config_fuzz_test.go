package edgeconfig_test

import (
	"testing"

	"github.com/lucid-edge/lucid/internal/edgeconfig"
)

// FuzzEdgeConfig feeds arbitrary YAML to the edge's configuration parser: it
// must return a configuration or an error, never panic or blow up on
// aliases, and what it accepts must compile into a policy.
func FuzzEdgeConfig(f *testing.F) {
	f.Add([]byte("orgs: [{id: acme}]\n"))
	f.Add([]byte(`listen: 127.0.0.1:3128
admin: 127.0.0.1:9090
ca: {url: "https://ca.test:8444", cert_file: edge.pem, key_file: edge-key.pem, idle_timeout: 10m}
users:
  - {name: alice, password: lab, org: acme}
orgs:
  - &base
    id: acme
    fail_mode: tunnel
    rules:
      - {action: block, hosts: ["*.ads.example", evil.example], ports: [80, 443]}
      - {action: bypass, hosts: [.bank.example, "[::1]", 192.0.2.1]}
  - <<: *base
    id: beta
    bypass_pinned: false
hosts: {demo.test: "127.0.0.1:8443"}
timeouts: {connect_line: 10s, handshake: 15s, idle: 5m}
buffers: {max_per_connection: 256KiB}
cache: {max_entries: 100, max_bytes: 1MiB}
access_log: "-"
`))
	f.Add([]byte("orgs:\n  - id: a\n    rules:\n      - action: inspekt\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\norgs: *b\n"))
	f.Add([]byte("--- !!map\n? [x]\n: y\n...\n---\n"))
	// Inputs that crashed earlier yaml.v3 releases (go-yaml/yaml#665, #666, #744).
	f.Add([]byte("#\n-\n-\n0"))
	f.Add([]byte("0: [:!00 \xef"))
	f.Add([]byte("#\n - - QI\xd7"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := edgeconfig.Parse(data)
		if err != nil {
			return
		}
		if _, err := c.Policy(); err != nil {
			t.Fatalf("validated configuration does not compile: %v", err)
		}
	})
}
