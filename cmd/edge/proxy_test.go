package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"

	"github.com/lucid-edge/lucid/internal/accesslog"
	"github.com/lucid-edge/lucid/internal/edgeconfig"
	"github.com/lucid-edge/lucid/internal/httphead"
	"github.com/lucid-edge/lucid/internal/policy"
)

// buildAll compiles edge and ca into one folder, as `make build` does.
func buildAll(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator), ".", "../ca").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// curlEnv is the environment without proxy variables, which could send
// curl around the proxy it is given (no_proxy) or elsewhere.
func curlEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(strings.ToLower(name), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// proc is a process under test whose output is collected and scanned.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
	done  chan struct{}
	err   error // valid after done
}

// startProc starts a process in dir; its stdout lines go to lines, and
// all its output to out. Cleanup kills it if the test has not stopped it.
func startProc(t *testing.T, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(args[0], args[1:]...), lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, for cleanup
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-scanned
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.output())
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitLine returns the rest of the first stdout line that starts with
// prefix (after leading blanks).
func (p *proc) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if rest, ok := strings.CutPrefix(strings.TrimLeft(l, " \t"), prefix); ok {
				return rest
			}
		case <-p.done:
			// Lines may still be queued.
			for {
				select {
				case l := <-p.lines:
					if rest, ok := strings.CutPrefix(strings.TrimLeft(l, " \t"), prefix); ok {
						return rest
					}
				default:
					t.Fatalf("%s exited (%v) before printing %q\n%s", p.name, p.err, prefix, p.output())
				}
			}
		case <-deadline:
			t.Fatalf("%s printed no %q within %v\n%s", p.name, prefix, timeout, p.output())
		}
	}
}

// stop signals the process and waits for it to exit; it returns the exit
// code.
func (p *proc) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v of %v\n%s", p.name, timeout, sig, p.output())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// run runs a command to completion in dir and fails the test if it fails.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func waitHealthy(t *testing.T, url string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited early: %v\n%s", p.name, p.err, p.output())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy at %s\n%s", p.name, url, p.output())
}

// curl runs curl with args and returns its exit code, stdout and stderr.
func curl(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "10"}, args...)...)
	cmd.Dir, cmd.Env = dir, curlEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestProxyEndToEnd runs the three processes of a deployment: the CA
// (ca serve), an origin (edge terminate) with a certificate from a
// "public" root, and the inspecting proxy (edge -config), then sends curl
// through the proxy.
func TestProxyEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	tlstest.NeedTool(t, "curl")
	t.Parallel()
	bin := buildAll(t)
	ca, edge := filepath.Join(bin, "ca"), filepath.Join(bin, "edge")
	dir := t.TempDir()

	// The CA, as an operator runs it.
	caAdmin, caKeys, caPublic := freeAddr(t), freeAddr(t), freeAddr(t)
	os.WriteFile(filepath.Join(dir, "ca-password"), []byte("correct horse battery staple\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.yaml"), fmt.Appendf(nil, `data_dir: ca
password: {file: ca-password}
listen: {admin: %q, keys: %q, public: %q}
kdf: {memory_kib: 8192, time: 1, threads: 1}
`, caAdmin, caKeys, caPublic), 0o644)
	caCmd := func(args ...string) string {
		return run(t, dir, append([]string{ca, "-config", "ca.yaml"}, args...)...)
	}
	caCmd("init")
	caProc := startProc(t, dir, "ca serve", os.Environ(), ca, "serve", "-config", "ca.yaml")
	waitHealthy(t, "http://"+caPublic+"/healthz", caProc)
	caCmd("org", "create", "acme")
	caCmd("org", "issue", "acme")
	caCmd("edge", "enrol", "-out", "edge")

	// The origin.
	if out := run(t, dir, edge, "demo-certs", "-out", "origin", "-hosts", "demo.lucid.test,other.lucid.test"); !strings.Contains(out, "made") {
		t.Fatalf("demo-certs: %s", out)
	}
	if out := run(t, dir, edge, "demo-certs", "-out", "origin", "-hosts", "demo.lucid.test,other.lucid.test"); !strings.Contains(out, "kept") {
		t.Errorf("demo-certs did not keep valid certificates: %s", out)
	}
	origin := startProc(t, dir, "origin", os.Environ(), edge, "terminate", "-listen", "127.0.0.1:0",
		"-cert", "origin/demo-origin.pem", "-key", "origin/demo-origin-key.pem")
	originAddr := origin.waitLine(t, "lucid: terminating TLS 1.3 on ", 20*time.Second)

	// The edge, with users, a block rule and an access log.
	os.WriteFile(filepath.Join(dir, "edge.yaml"), fmt.Appendf(nil, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
loops: 2
ca:
  url: https://%s
  cert_file: edge/edge-cert.pem
  key_file: edge/edge-key.pem
  root_file: edge/ca-root.pem
users:
  - {name: alice, password: wonderland, org: acme}
orgs:
  - id: acme
    rules:
      - {action: block, hosts: [other.lucid.test]}
hosts:
  demo.lucid.test: %s
  other.lucid.test: %s
upstream: {roots_file: origin/demo-public-root.pem}
access_log: access.log
`, caKeys, originAddr, originAddr), 0o644)
	px := startProc(t, dir, "edge -config", os.Environ(), edge, "-config", "edge.yaml")
	metricsURL := px.waitLine(t, "lucid: metrics at ", 20*time.Second)
	metricsURL, _, _ = strings.Cut(metricsURL, ",")
	proxyAddr := px.waitLine(t, "lucid: inspecting proxy on ", 20*time.Second)
	if !strings.Contains(px.output(), "plain-text password") {
		t.Errorf("the edge did not warn about the plain-text password:\n%s", px.output())
	}

	proxyURL := "http://alice:wonderland@" + proxyAddr
	code, body, stderr := curl(t, dir, "-x", proxyURL, "--cacert", "edge/ca-root.pem", "https://demo.lucid.test/")
	if code != 0 || body != "hello from lucid\n" {
		t.Fatalf("curl through the proxy: exit %d, body %q\n%s", code, body, stderr)
	}
	// The leaf is the edge's, chained to the CA's root, not the origin's.
	code, _, _ = curl(t, dir, "-x", proxyURL, "--cacert", "origin/demo-public-root.pem", "https://demo.lucid.test/")
	if code == 0 {
		t.Error("curl trusted the origin's own root through the proxy: the request was not inspected")
	}
	// No credentials: 407.
	code, _, stderr = curl(t, dir, "-x", "http://"+proxyAddr, "--cacert", "edge/ca-root.pem", "https://demo.lucid.test/")
	if code == 0 || !strings.Contains(stderr, "407") {
		t.Errorf("without credentials: exit %d, %s", code, stderr)
	}
	// The block rule: 403.
	code, _, stderr = curl(t, dir, "-x", proxyURL, "--cacert", "edge/ca-root.pem", "https://other.lucid.test/")
	if code == 0 || !strings.Contains(stderr, "403") {
		t.Errorf("a blocked host: exit %d, %s", code, stderr)
	}

	resp, err := http.Get(strings.Replace(metricsURL, "/metrics", "/healthz", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	resp, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte("lucid_")) {
		t.Errorf("/metrics has no lucid_ metrics:\n%.500s", metrics)
	}
	// Both processes run undumpable by default (internal/nodump): no
	// core, no /proc/PID/mem or ptrace by another process of the user.
	if !bytes.Contains(metrics, []byte("\nlucid_process_dumpable 0\n")) {
		t.Errorf("the edge runs dumpable:\n%s", grepLines(metrics, "dumpable"))
	}
	if caMetrics := httpGetBody(t, "http://"+caAdmin+"/metrics"); !bytes.Contains(caMetrics, []byte("\nlucid_process_dumpable 0\n")) {
		t.Errorf("the CA runs dumpable:\n%s", grepLines(caMetrics, "dumpable"))
	}

	if code := px.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("the edge exited %d after SIGTERM", code)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	for _, want := range []string{`"org":"acme"`, `"user":"alice"`, `"sni":"demo.lucid.test"`, `"decision":"inspect"`, `"status":200`} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the access log lacks %s:\n%s", want, log)
		}
	}
	if !strings.Contains(px.output(), `"msg":"stopping"`) {
		t.Errorf("the edge's log (JSON on stderr) lacks its stop:\n%s", px.output())
	}
	if code := caProc.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("the CA exited %d after SIGTERM", code)
	}
}

func TestProxyBadConfig(t *testing.T) {
	bin := buildEdge(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "edge.yaml")
	os.WriteFile(bad, []byte(`listen: 127.0.0.1:99999
orgs:
  - id: acme
    rules:
      - {action: allow, hosts: [example.com]}
ca: {url: "https://127.0.0.1:8444", cert_file: missing.pem, key_file: missing-key.pem}
`), 0o644)
	for _, args := range [][]string{{"-config", bad}, {"proxy", "-config", bad}} {
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("edge %v: %v, want exit 1\n%s", args, err, stderr.String())
		}
		for _, want := range []string{
			"listen (line 1)", "no port number",
			"orgs[0].rules[0].action (line 5)", `"allow" is not one of inspect, bypass, block`,
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("edge %v: stderr lacks %q:\n%s", args, want, stderr.String())
			}
		}
		if strings.Contains(stdout.String(), "inspecting proxy") {
			t.Errorf("edge %v started with a bad config", args)
		}
	}

	// A valid config naming files that do not exist: each named, by field.
	os.WriteFile(bad, []byte("orgs: [{id: acme}]\nca: {url: \"https://127.0.0.1:8444\", cert_file: missing.pem, key_file: missing-key.pem}\n"), 0o644)
	out, err := exec.Command(bin, "-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("missing files: %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{"ca.cert_file", "ca.key_file", "missing.pem"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing files: output lacks %q:\n%s", want, out)
		}
	}

	for _, args := range [][]string{{"-config"}, {"proxy"}, {"-config", filepath.Join(dir, "nope.yaml")}, {"-config", bad, "extra"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || len(out) == 0 {
			t.Errorf("edge %v: %v, %q; want an error that says why", args, err, out)
		}
	}
}

// TestProxyConfigMapping checks how the edge's configuration becomes the
// engine's, without a CA: authentication, DNS overrides, policy, fail
// modes and limits.
func TestProxyConfigMapping(t *testing.T) {
	cfg, err := edgeconfig.Parse([]byte(`listen: 127.0.0.1:0
admin: ""
users:
  - {name: alice, password: pw, org: acme}
  - {name: bob, password: pw2, org: beta}
orgs:
  - {id: acme, fail_mode: tunnel, allow_invalid_upstream: true, rules: [{action: bypass, hosts: [.bank.test]}]}
  - {id: beta}
hosts: {Demo.Test: "127.0.0.1:8443"}
timeouts: {connect_line: 3s, handshake: 4s, idle: 5s}
buffers: {max_per_connection: 64KiB}
cache: {max_entries: 7, max_bytes: 1MiB}
leaf: {max_validity: 24h, key_rotation: 2h}
upstream: {session_cache_size: 9}
max_connections: 11
access_log: ""
access_log_buffer: 128KiB
access_log_overflow: drop
`))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	pc, closeAll, err := proxyConfig(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()

	basic := func(user, pass string) []byte {
		return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	if pc.Authenticate == nil {
		t.Fatal("users are configured but Authenticate is nil")
	}
	if user, org, ok := pc.Authenticate(basic("bob", "pw2")); !ok || user != "bob" || org != "beta" {
		t.Errorf("bob: %q %q %v", user, org, ok)
	}
	for _, v := range [][]byte{basic("bob", "pw"), basic("carol", "pw"), []byte("Bearer x"), nil} {
		if _, _, ok := pc.Authenticate(v); ok {
			t.Errorf("%q authenticated", v)
		}
	}
	if _, _, ok := httphead.ParseBasicAuth(basic("alice", "pw")); !ok {
		t.Fatal("the test's Basic encoding is wrong")
	}

	if got, mapped := pc.Resolve("demo.test.", 443); got != "127.0.0.1:8443" || !mapped {
		t.Errorf("Resolve(demo.test.) = %q, mapped %v", got, mapped)
	}
	if got, mapped := pc.Resolve("example.com", 8443); got != "example.com:8443" || mapped {
		t.Errorf("Resolve(example.com) = %q, mapped %v", got, mapped)
	}
	if got, mapped := pc.Resolve("::1", 443); got != "[::1]:443" || mapped {
		t.Errorf("Resolve(::1) = %q, mapped %v", got, mapped)
	}
	for _, c := range []struct {
		org, host string
		action    policy.Action
	}{
		{"acme", "www.bank.test", policy.Bypass},
		{"acme", "example.com", policy.Inspect},
		{"beta", "www.bank.test", policy.Inspect},
		{"nobody", "example.com", policy.Block},
	} {
		if d := pc.Decide(c.org, c.host, 443); d.Action != c.action || d.Rule == "" {
			t.Errorf("Decide(%s, %s) = %+v, want %s", c.org, c.host, d, c.action)
		}
	}
	if !pc.AllowInvalidUpstream("acme") || pc.AllowInvalidUpstream("beta") || pc.AllowInvalidUpstream("nobody") {
		t.Error("AllowInvalidUpstream does not follow the orgs")
	}

	// Without a CA there are no keys: each org's fail mode, block by default.
	for org, want := range map[string]policy.FailMode{"acme": policy.FailTunnel, "beta": policy.FailBlock} {
		_, err := pc.Keys.Issuer(context.Background(), org)
		if mode, ok := pc.NoKey(err); !ok || mode != want {
			t.Errorf("%s without a CA: NoKey(%v) = %v %v, want %v", org, err, mode, ok, want)
		}
	}
	if _, ok := pc.NoKey(io.EOF); ok {
		t.Error("NoKey took an unrelated error for a missing key")
	}

	if pc.RequestTimeout != 3*time.Second || pc.HandshakeTimeout != 4*time.Second || pc.IdleTimeout != 5*time.Second {
		t.Errorf("timeouts %v %v %v", pc.RequestTimeout, pc.HandshakeTimeout, pc.IdleTimeout)
	}
	if pc.MaxBuffered != 64<<10 || pc.MaxConnections != 11 || pc.SessionCacheSize != 9 {
		t.Errorf("limits %d %d %d", pc.MaxBuffered, pc.MaxConnections, pc.SessionCacheSize)
	}
	if pc.Cache.MaxEntries != 7 || pc.Cache.MaxBytes != 1<<20 || pc.Cache.KeyRotation != 2*time.Hour {
		t.Errorf("cache %+v", pc.Cache)
	}
	if lv, ok := pc.Keys.(leafValidity); !ok || lv.max != 24*time.Hour {
		t.Errorf("leaf.max_validity is not applied: %#v", pc.Keys)
	}
	if pc.AccessLogBuffer != 128<<10 || pc.AccessLogOverflow != accesslog.Drop {
		t.Errorf("access log buffer %d, overflow %v", pc.AccessLogBuffer, pc.AccessLogOverflow)
	}
	if pc.AccessLog != nil || pc.UpstreamRoots == nil || pc.DefaultOrg != "" {
		t.Errorf("access log %v, roots %v, default org %q", pc.AccessLog, pc.UpstreamRoots, pc.DefaultOrg)
	}

	// One org and no users: no authentication, everyone in that org.
	one, err := edgeconfig.Parse([]byte("orgs: [{id: solo}]\naccess_log: \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	pc, closeOne, err := proxyConfig(one, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOne()
	if pc.Authenticate != nil || pc.DefaultOrg != "solo" {
		t.Errorf("no users: Authenticate set %v, DefaultOrg %q", pc.Authenticate != nil, pc.DefaultOrg)
	}
}

// The start-up line says whom an edge without users serves, and how to
// change it (issue 12: an edge without users is no longer an open proxy).
func TestAuthSummary(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"orgs: [{id: solo}]\n", "none: serving loopback clients only; set serve_unauthenticated: any to serve others"},
		{"orgs: [{id: solo}]\nserve_unauthenticated: any\n", "none: serving every client (serve_unauthenticated: any)"},
		{"orgs: [{id: solo}]\nusers: [{name: u, password: p, org: solo}]\nauth_failures: {limit: 5, per: 2m}\n", "Basic, 1 users, at most 5 failures per client in 2m0s"},
	} {
		cfg, err := edgeconfig.Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := authSummary(cfg, "solo"); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

// httpGetBody is the body of a GET that must succeed.
func httpGetBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// grepLines is the lines of b that contain s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
