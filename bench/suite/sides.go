package suite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/*.tmpl
var templates embed.FS

// env is what every side of a run shares: its folder, the binaries, the
// CPUs, and the certificates made for the run.
type env struct {
	dir       string // the run's temp folder
	bin       string // bin/edge, bin/ca, bin/gotls, bin/goproxymitm
	serverCPU string // taskset list of the server under test
	loadCPU   string // the load generator's (and the origin's, and the CA's)

	hsRoot, hsLeaf *pair // handshake tables: the client trusts hsRoot
	originRoot     *pair // the bench origin's root (upstream roots of every proxy)
	originLeaf     *pair // *.bench.test
	mitmCA         *pair // the CA that squid and goproxy sign their leaves with
	originAddr     string
}

// hsName is the server name of the handshake tables' certificate.
const hsName = "hs.bench.test"

func (e *env) makeCerts() error {
	var err error
	if e.hsRoot, err = newRoot(e.dir, "hs-root", "Lucid bench handshake root"); err != nil {
		return err
	}
	if e.hsLeaf, err = newLeaf(e.dir, "hs-leaf", e.hsRoot, hsName); err != nil {
		return err
	}
	if e.originRoot, err = newRoot(e.dir, "origin-root", "Lucid bench origin root"); err != nil {
		return err
	}
	if e.originLeaf, err = newLeaf(e.dir, "origin-leaf", e.originRoot, "*.bench.test", "bench.test"); err != nil {
		return err
	}
	e.mitmCA, err = newRoot(e.dir, "mitm-ca", "Lucid bench MITM CA (squid, goproxy)")
	return err
}

// side is one running server or proxy of a comparison.
type side struct {
	Name   string
	Addr   string // the TLS server's or the proxy's address
	CAFile string // the roots its certificates chain to
	procs  []*proc
	// watch lists the processes whose CPU and memory count for this side,
	// read when a run starts (squid starts helpers as it needs them).
	watch func() (pids []int, names []string)
}

func (s *side) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(5 * time.Second)
	}
}

func singleWatch(p *proc, name string) func() ([]int, []string) {
	return func() ([]int, []string) { return []int{p.pid()}, []string{name} }
}

// goServer starts a Go binary as a one-core server: GOMAXPROCS=procs,
// pinned to cpus, ready when addr accepts connections.
func (e *env) goServer(name, cpus string, procs int, addr string, argv ...string) (*proc, error) {
	p, err := startProc(e.dir, name, cpus, []string{"GOMAXPROCS=" + strconv.Itoa(procs)}, argv...)
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(addr, 30*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	return p, nil
}

// startLucidTerminate starts `edge terminate` with the handshake certificate.
func (e *env) startLucidTerminate(name, cpus string, loops int) (*side, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := e.goServer(name, cpus, loops, addr, filepath.Join(e.bin, "edge"), "terminate",
		"-listen", addr, "-cert", e.hsLeaf.CertFile, "-key", e.hsLeaf.KeyFile, "-loops", strconv.Itoa(loops))
	if err != nil {
		return nil, err
	}
	return &side{Name: name, Addr: addr, CAFile: e.hsRoot.CertFile, procs: []*proc{p}, watch: singleWatch(p, "edge")}, nil
}

// startGoTLS starts bench/peers/gotls with the handshake certificate.
func (e *env) startGoTLS() (*side, error) {
	bin := filepath.Join(e.bin, "gotls")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: build it with `go build -o %s/ ./bench/peers/gotls` (make bench does)", bin, e.bin)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := e.goServer("gotls", e.serverCPU, 1, addr, bin, "-listen", addr, "-cert", e.hsLeaf.CertFile, "-key", e.hsLeaf.KeyFile)
	if err != nil {
		return nil, err
	}
	return &side{Name: "Go crypto/tls", Addr: addr, CAFile: e.hsRoot.CertFile, procs: []*proc{p}, watch: singleWatch(p, "gotls")}, nil
}

// startNginx starts Debian's nginx as one process on the server core.
func (e *env) startNginx() (*side, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, errors.New("nginx is not installed (as root: apt-get install -y nginx-light, or make bench-peers)")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "body"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := render("nginx.conf.tmpl", conf, map[string]string{
		"Dir": dir, "Listen": addr, "Cert": e.hsLeaf.CertFile, "Key": e.hsLeaf.KeyFile,
	}); err != nil {
		return nil, err
	}
	p, err := startProc(e.dir, "nginx", e.serverCPU, nil, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(addr, 30*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	return &side{Name: "nginx", Addr: addr, CAFile: e.hsRoot.CertFile, procs: []*proc{p}, watch: singleWatch(p, "nginx")}, nil
}

// startOrigin starts the origin every proxy forwards to: `edge terminate`
// with the *.bench.test certificate, one loop, on the load generator's
// core so that the server core belongs to the proxy under test alone.
func (e *env) startOrigin() (*proc, error) {
	return e.goServer("origin", e.loadCPU, 1, e.originAddr, filepath.Join(e.bin, "edge"), "terminate",
		"-listen", e.originAddr, "-cert", e.originLeaf.CertFile, "-key", e.originLeaf.KeyFile, "-loops", "1")
}

// startLucidEdge starts the inspecting edge (one loop, one core) with a
// running Lucid CA.
func (e *env) startLucidEdge(ca *lucidCA, es edgeSetup) (*side, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf, err := e.writeEdgeConfig(ca, addr, es)
	if err != nil {
		return nil, err
	}
	p, err := e.goServer("lucid-edge", e.serverCPU, 1, addr, filepath.Join(e.bin, "edge"), "-config", conf)
	if err != nil {
		return nil, err
	}
	s := &side{Name: "Lucid", Addr: addr, CAFile: ca.RootFile, procs: []*proc{p}}
	s.watch = func() ([]int, []string) {
		return []int{p.pid(), ca.proc.pid()}, []string{"edge", "ca"}
	}
	return s, nil
}

// startGoproxy starts bench/peers/goproxymitm on the server core, for
// the origin names of the inspect tables.
func (e *env) startGoproxy() (*side, error) {
	return e.startGoproxyFor(e.originAddr, false, nil)
}

// startGoproxyFor starts goproxymitm with its names resolved to origin;
// http2 turns on its HTTP/2 MITM, and tunnel names are relayed without it.
func (e *env) startGoproxyFor(origin string, http2 bool, tunnel []string) (*side, error) {
	bin := filepath.Join(e.bin, "goproxymitm")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: build it with `go build -o %s/ ./bench/peers/goproxymitm` (make bench does)", bin, e.bin)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := []string{bin, "-listen", addr,
		"-ca-cert", e.mitmCA.CertFile, "-ca-key", e.mitmCA.KeyFile, "-roots", e.originRoot.CertFile,
		"-hosts", "*.bench.test=" + origin}
	if http2 {
		argv = append(argv, "-http2")
	}
	if len(tunnel) > 0 {
		argv = append(argv, "-tunnel", strings.Join(tunnel, ","))
	}
	p, err := e.goServer("goproxymitm", e.serverCPU, 1, addr, argv...)
	if err != nil {
		return nil, err
	}
	return &side{Name: "goproxy", Addr: addr, CAFile: e.mitmCA.CertFile, procs: []*proc{p}, watch: singleWatch(p, "goproxymitm")}, nil
}

// startH2Origin starts the origin of the HTTP/2 and pipelined tables:
// bench/peers/gotls -h2 (net/http, h2 and HTTP/1.1 by ALPN) with the
// *.bench.test certificate, on the load generator's core like the other
// origin, on a loopback port of its own (no proxy here needs 443).
func (e *env) startH2Origin() (*proc, string, error) {
	bin := filepath.Join(e.bin, "gotls")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("%s is missing: build it with `go build -o %s/ ./bench/peers/gotls` (make bench does)", bin, e.bin)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	p, err := e.goServer("h2-origin", e.loadCPU, 1, addr, bin, "-h2", "-listen", addr,
		"-cert", e.originLeaf.CertFile, "-key", e.originLeaf.KeyFile)
	return p, addr, err
}

// startSquid starts Debian's squid-openssl with ssl-bump, as one process
// (-N) with its certificate generator helpers, all on the server core.
// squid reaches the origin on port 443 of the address in its hosts file,
// which is why the origin listens on :443.
func (e *env) startSquid(ctx context.Context, names int) (*side, error) {
	bin, err := exec.LookPath("squid")
	if err != nil {
		return nil, errors.New("squid is not installed (as root: apt-get install -y squid-openssl, or make bench-peers)")
	}
	const certgen = "/usr/lib/squid/security_file_certgen"
	if _, err := os.Stat(certgen); err != nil {
		return nil, fmt.Errorf("%s is missing: squid needs the squid-openssl package for ssl-bump", certgen)
	}
	if out, _ := exec.Command(bin, "-v").CombinedOutput(); !strings.Contains(string(out), "--with-openssl") {
		return nil, errors.New("this squid is built without OpenSSL, so it cannot bump: install squid-openssl")
	}
	host, port, _ := strings.Cut(e.originAddr, ":")
	if port != "443" {
		return nil, fmt.Errorf("squid reaches origins on the CONNECT port, 443, but the bench origin is on %s", e.originAddr)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// A folder per start: the certificate database must be new for
	// security_file_certgen -c, and the idle table starts squid per round.
	dir, err := os.MkdirTemp(e.dir, "squid-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	// One name per line: squid reads a bounded number of names per line.
	var hosts strings.Builder
	for _, n := range originNames(names) {
		hosts.WriteString(host + " " + n + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts.String()), 0o644); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "squid.conf")
	if err := render("squid.conf.tmpl", conf, map[string]string{
		"Dir": dir, "Listen": addr, "CACert": e.mitmCA.CertFile, "CAKey": e.mitmCA.KeyFile,
		"OriginRoot": e.originRoot.CertFile,
	}); err != nil {
		return nil, err
	}
	if _, err := runQuiet(ctx, certgen, "-c", "-s", filepath.Join(dir, "ssl_db"), "-M", "16MB"); err != nil {
		return nil, fmt.Errorf("initialising squid's certificate database: %w", err)
	}
	// Run as root, squid drops to its effective user (Debian: proxy), which
	// must read the configuration and keys and write the logs and database.
	if os.Geteuid() == 0 {
		if err := chownTree(dir, "proxy"); err != nil {
			return nil, err
		}
		// The run's folder and the shared certificates must be reachable too.
		if err := os.Chmod(e.dir, 0o755); err != nil {
			return nil, err
		}
	}
	p, err := startProc(dir, "squid", e.serverCPU, nil, bin, "-N", "-f", conf)
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(addr, 60*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, fmt.Errorf("%w\n  squid's cache.log:\n%s", err, tail(filepath.Join(dir, "cache.log"), 15))
	}
	s := &side{Name: "squid", Addr: addr, CAFile: e.mitmCA.CertFile, procs: []*proc{p}}
	s.watch = func() ([]int, []string) {
		pids, names := []int{p.pid()}, []string{"squid"}
		for i, h := range descendants(p.pid()) {
			pids = append(pids, h)
			names = append(names, fmt.Sprintf("certgen-%d", i+1))
		}
		return pids, names
	}
	return s, nil
}

func render(name, out string, data any) error {
	t, err := template.ParseFS(templates, "templates/"+name)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func chownTree(dir, account string) error {
	u, err := user.Lookup(account)
	if err != nil {
		return fmt.Errorf("squid runs as user %s, which does not exist: %w", account, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
