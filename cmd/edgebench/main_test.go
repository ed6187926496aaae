package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// edgebenchBin is the command built once for the tests: -procs re-executes
// it, so the tests run the real binary, not the test executable.
var edgebenchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgebench-test")
	if err != nil {
		log.Fatal(err)
	}
	edgebenchBin = filepath.Join(dir, "edgebench")
	if out, err := exec.Command("go", "build", "-o", edgebenchBin, ".").CombinedOutput(); err != nil {
		log.Fatalf("building edgebench: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startOrigin runs an HTTPS server with a certificate for 127.0.0.1 from a
// fresh CA, and returns its address and the CA's PEM file.
func startOrigin(t *testing.T) (addr, caFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgebench cmd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), caFile
}

// edgebench runs the binary and returns its stdout, stderr and exit code.
func edgebench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(edgebenchBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// contractFields are the JSON names scripts and `make bench` rely on.
var contractFields = []string{
	"workload", "concurrency", "requests", "seconds", "requests_per_sec",
	"p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "server_cpu_ms_per_req", "loadgen_cpu_ms_per_req",
}

// oneJSONObject decodes stdout, which must hold exactly one JSON object.
func oneJSONObject(t *testing.T, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var r map[string]any
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout)
	}
	for _, f := range contractFields {
		if _, ok := r[f]; !ok {
			t.Errorf("the JSON result lacks %q: %s", f, stdout)
		}
	}
	return r
}

func TestRunJSON(t *testing.T) {
	addr, ca := startOrigin(t)
	stdout, stderr, code := edgebench(t, "run", "-workload", "handshake", "-target", addr, "-cafile", ca,
		"-c", "2", "-count", "60", "-resume", "-json", "-watch", fmt.Sprintf("origin=%d", os.Getpid()))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := oneJSONObject(t, stdout)
	if r["requests"] != 60.0 || r["workload"] != "handshake" || r["concurrency"] != 2.0 {
		t.Fatalf("result %s", stdout)
	}
	if cpu, ok := r["server_cpu_ms_per_req"].(map[string]any); !ok || cpu["origin"] == nil {
		t.Fatalf("no CPU figure for the watched process named origin: %s", stdout)
	}
	if ratio, _ := r["resumed_ratio"].(float64); ratio < 0.9 {
		t.Fatalf("resumed_ratio %v with -resume", r["resumed_ratio"])
	}
	if strings.Contains(stderr, "\r") {
		t.Fatalf("a progress line on a stderr that is not a terminal, without -progress: %q", stderr)
	}
}

func TestRunProcsMergesChildren(t *testing.T) {
	addr, ca := startOrigin(t)
	stdout, stderr, code := edgebench(t, "run", "-target", addr, "-cafile", ca,
		"-procs", "2", "-c", "4", "-count", "101", "-json", "-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := oneJSONObject(t, stdout)
	if r["requests"] != 101.0 || r["procs"] != 2.0 || r["concurrency"] != 4.0 {
		t.Fatalf("want 101 requests over 2 processes and 4 connections in all: %s", stdout)
	}
	if r["loadgen_cpu_ms_per_req"].(float64) <= 0 {
		t.Fatalf("no load generator CPU summed from the children: %s", stdout)
	}
}

func TestRunHumanSummaryAndErrors(t *testing.T) {
	addr, ca := startOrigin(t)
	stdout, stderr, code := edgebench(t, "run", "-target", addr, "-cafile", ca, "-duration", "300ms", "-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"requests/s", "p99", "CPU/req", "loadgen", "errors    none"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// A run where every request fails exits 1 and says why.
	_, otherCA := startOrigin(t)
	stdout, stderr, code = edgebench(t, "run", "-target", addr, "-cafile", otherCA, "-count", "5", "-json")
	if code != 1 || !strings.Contains(stderr, "every request failed") {
		t.Fatalf("wrong CA: exit %d, stderr %q", code, stderr)
	}
	if r := oneJSONObject(t, stdout); r["errors"].(map[string]any)["tls"] != 5.0 {
		t.Fatalf("want 5 tls errors: %s", stdout)
	}
	// Bad flags exit 2 with a message, and no result.
	for _, args := range [][]string{
		{"run", "-target", addr, "-cafile", ca},                                   // unbounded
		{"run", "-target", addr, "-cafile", ca, "-count", "1", "-watch", "a=1,2"}, // half-named
		{"run", "-target", addr, "-cafile", ca, "-count", "1", "-procs", "3"},     // more procs than connections
		{"nosuchcommand"},
	} {
		stdout, stderr, code := edgebench(t, args...)
		if code != 2 || stderr == "" || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

func TestChart(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.jsonl")
	lines := `{"label":"lucid","workload":"inspect","concurrency":4,"requests_per_sec":3000}
{"label":"lucid","workload":"inspect","concurrency":1,"requests_per_sec":1000}
{"label":"squid","workload":"inspect","concurrency":1,"requests_per_sec":300}
`
	if err := os.WriteFile(in, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "chart.svg")
	if _, stderr, code := edgebench(t, "chart", "-o", out, in); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", ">lucid<", ">squid<", "requests_per_sec"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestUsageListsRegisteredCommands(t *testing.T) {
	commands["extra"] = func([]string) int { return 0 }
	defer delete(commands, "extra")
	var b bytes.Buffer
	usage(&b)
	for _, want := range []string{"run", "chart", "extra"} {
		if !strings.Contains(b.String(), "  "+want) {
			t.Errorf("usage does not list %q:\n%s", want, b.String())
		}
	}
}

func TestRunH2AndPipelineWorkloads(t *testing.T) {
	addr, ca := startOrigin(t) // HTTP/1.1 only: h2 falls back, and says so
	stdout, stderr, code := edgebench(t, "run", "-workload", "h2", "-target", addr, "-cafile", ca,
		"-c", "2", "-streams", "4", "-count", "50")
	if code != 0 {
		t.Fatalf("h2: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "streams   4 per connection, connections by ALPN: http/1.1 2") ||
		!strings.Contains(stdout, "not HTTP/2") {
		t.Fatalf("h2 against an HTTP/1.1 server: the summary does not say it fell back:\n%s", stdout)
	}
	stdout, stderr, code = edgebench(t, "run", "-workload", "pipeline", "-target", addr, "-cafile", ca,
		"-procs", "2", "-c", "2", "-depth", "5", "-count", "100", "-json")
	if code != 0 {
		t.Fatalf("pipeline: exit %d: %s", code, stderr)
	}
	r := oneJSONObject(t, stdout)
	if r["requests"] != 100.0 || r["depth"] != 5.0 || r["workload"] != "pipeline" {
		t.Fatalf("pipeline over 2 processes: %s", stdout)
	}
	if _, _, code := edgebench(t, "run", "-workload", "keepalive", "-target", addr, "-cafile", ca, "-count", "1", "-streams", "2"); code != 2 {
		t.Fatalf("-streams with keepalive: exit %d, want 2 (bad options)", code)
	}
}
