package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// lucidCA is a running `ca serve` set up as scripts/run-demo.sh sets it up:
// ca init, an organisation with an intermediate under the service root,
// the edge's enrolment, and the service root the clients trust.
type lucidCA struct {
	proc     *proc
	dir      string // the CA's and edge's files
	keysURL  string
	RootFile string // Lucid's service root: the edge's leaves chain to it
	edgeDir  string // edge-cert.pem, edge-key.pem, ca-root.pem from `ca edge enrol`
}

const benchOrg = "bench"

func (e *env) startLucidCA(ctx context.Context) (*lucidCA, error) {
	dir := filepath.Join(e.dir, "lucid")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	pw := make([]byte, 32)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca-password"), []byte(hex.EncodeToString(pw)), 0o600); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "ca.yaml")
	// A cheap key-derivation cost: this vault lives for one benchmark run.
	yaml := fmt.Sprintf(`# The CA of one edgebench compare run (bench/suite).
data_dir: ca
password: {file: ca-password}
listen:
  admin: %s
  keys: %s
  public: %s
kdf: {memory_kib: 8192, time: 1, threads: 1}
`, addrs[0], addrs[1], addrs[2])
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	ca := filepath.Join(e.bin, "ca")
	if _, err := runQuiet(ctx, ca, "init", "-config", conf); err != nil {
		return nil, fmt.Errorf("ca init: %w", err)
	}
	p, err := startProc(e.dir, "lucid-ca", e.loadCPU, nil, ca, "serve", "-config", conf)
	if err != nil {
		return nil, err
	}
	c := &lucidCA{proc: p, dir: dir, keysURL: "https://" + addrs[1],
		RootFile: filepath.Join(dir, "lucid-root.pem"), edgeDir: filepath.Join(dir, "edge")}
	if err := p.waitListening(addrs[0], 60*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	if err := p.waitListening(addrs[1], 10*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	for _, args := range [][]string{
		{"org", "create", benchOrg, "-name", "Lucid benchmarks"},
		{"org", "issue", benchOrg},
		{"edge", "enrol", "-out", c.edgeDir},
		{"root", "-out", c.RootFile},
	} {
		argv := append([]string{ca, "-config", conf}, args...)
		if _, err := runQuiet(ctx, argv...); err != nil {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("setting up Lucid's CA: %w", err)
		}
	}
	return c, nil
}

// edgeSetup is what one inspecting edge of the suite serves: the origin
// its names resolve to, how many o%d names, and the names it tunnels.
type edgeSetup struct {
	origin string
	names  int
	tunnel []string // bypassed by a rule: relayed end to end, never decrypted
}

// writeEdgeConfig writes the inspecting edge's YAML: one loop, no admin
// listener, no access log, the origin names resolved to the bench origin
// and its root as the upstream roots (verification stays on), and a
// bypass rule for the tunnelled names.
func (e *env) writeEdgeConfig(ca *lucidCA, listen string, es edgeSetup) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `# The inspecting edge of one edgebench compare run (bench/suite).
listen: %s
admin: ""
loops: 1
ca:
  url: %s
  cert_file: %s
  key_file: %s
  root_file: %s
orgs:
  - id: %s
`, listen, ca.keysURL, filepath.Join(ca.edgeDir, "edge-cert.pem"), filepath.Join(ca.edgeDir, "edge-key.pem"),
		filepath.Join(ca.edgeDir, "ca-root.pem"), benchOrg)
	if len(es.tunnel) > 0 {
		fmt.Fprintf(&b, "    rules:\n      - {action: bypass, hosts: [%s]}\n", strings.Join(es.tunnel, ", "))
	}
	fmt.Fprintf(&b, `upstream:
  roots_file: %s
access_log: ""
max_connections: 50000
hosts:
`, e.originRoot.CertFile)
	hosts := append(originNames(es.names), es.tunnel...)
	sort.Strings(hosts)
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %s: %q\n", h, es.origin)
	}
	path := filepath.Join(ca.dir, "edge.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// originNames are the names the inspect workload cycles through,
// o0.bench.test to oN.bench.test: one more than needed, so either
// numbering from 0 or from 1 is covered.
func originNames(n int) []string {
	out := make([]string, 0, n+1)
	for i := 0; i <= n; i++ {
		out = append(out, fmt.Sprintf("o%d.bench.test", i))
	}
	return out
}
