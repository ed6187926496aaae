package suite

import (
	"os"
	"slices"
	"testing"

	"github.com/lucid-edge/lucid/internal/edgeconfig"
)

// The edge configuration of the h2 and pipeline tables is one the edge
// accepts, with the tunnelled name bypassed by a rule and every name
// resolved to the table's origin: were the rule lost, the tunnelled row
// would be inspected and its client, trusting only the origin's root,
// would fail every request.
func TestEdgeConfigTunnelsByRule(t *testing.T) {
	e := testEnv(t, t.TempDir())
	dir := t.TempDir()
	ca := &lucidCA{dir: dir, keysURL: "https://127.0.0.1:1", edgeDir: dir}
	path, err := e.writeEdgeConfig(ca, "127.0.0.1:2", edgeSetup{origin: "127.0.0.1:3", names: 1, tunnel: []string{tunnelledName}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := edgeconfig.Parse(b)
	if err != nil {
		t.Fatalf("the edge refuses the suite's configuration: %v\n%s", err, b)
	}
	if len(cfg.Orgs) != 1 || len(cfg.Orgs[0].Rules) != 1 {
		t.Fatalf("orgs %+v: want one org with one rule", cfg.Orgs)
	}
	if r := cfg.Orgs[0].Rules[0]; r.Action != "bypass" || !slices.Equal(r.Hosts, []string{tunnelledName}) {
		t.Fatalf("rule %+v, want bypass of %s", r, tunnelledName)
	}
	for _, h := range []string{inspectedName, tunnelledName} {
		if cfg.Hosts[h] != "127.0.0.1:3" {
			t.Fatalf("hosts %v: %s does not resolve to the table's origin", cfg.Hosts, h)
		}
	}
}
