package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// An organisation that opts in with log_query_values has its requests'
// query values in the access log as they are; every other has them
// redacted. Through the real binary, with plain http:// requests, which
// are judged and logged without a CA.
func TestAccessLogQueryValuesPerOrg(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tlstest.NeedTool(t, "curl")
	t.Parallel()
	bin := buildEdge(t)
	dir := t.TempDir()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "plain origin\n")
	})}
	go origin.Serve(ln)
	t.Cleanup(func() { origin.Close() })

	os.WriteFile(filepath.Join(dir, "edge.yaml"), fmt.Appendf(nil, `listen: 127.0.0.1:0
admin: ""
users:
  - {name: alice, password: wonderland, org: open}
  - {name: bob, password: builder, org: closed}
orgs:
  - {id: open, log_query_values: true}
  - {id: closed}
hosts: {plain.lucid.test: %q}
access_log: access.log
`, ln.Addr().String()), 0o644)
	px := startProc(t, dir, "edge -config", os.Environ(), bin, "-config", "edge.yaml")
	proxyAddr := px.waitLine(t, "lucid: inspecting proxy on ", 20*time.Second)
	for _, user := range []string{"alice:wonderland", "bob:builder"} {
		code, body, stderr := curl(t, dir, "-x", "http://"+user+"@"+proxyAddr, "http://plain.lucid.test/login?password=x&user=me")
		if code != 0 || body != "plain origin\n" {
			t.Fatalf("curl as %s: exit %d, body %q\n%s", user, code, body, stderr)
		}
	}
	if code := px.stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("the edge exited %d after SIGTERM", code)
	}

	log, err := os.ReadFile(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{} // user -> URL logged
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		var line struct{ User, URL string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		urls[line.User] = line.URL
	}
	for user, want := range map[string]string{
		"alice": "http://plain.lucid.test/login?password=x&user=me",
		"bob":   "http://plain.lucid.test/login?password=<redacted>&user=<redacted>",
	} {
		if urls[user] != want {
			t.Errorf("%s's request is logged as %q, want %q\n%s", user, urls[user], want, log)
		}
	}
}
