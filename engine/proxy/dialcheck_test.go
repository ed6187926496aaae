package proxy_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/engine/proxy"
	"github.com/lucid-edge/lucid/internal/policy"
)

// dialChecks records what Config.CheckAddr was asked and refuses the
// addresses of the hosts in refuse, the way policy.Destination refuses a
// name that resolves into a private range.
type dialChecks struct {
	mu     sync.Mutex
	refuse map[string]bool
	asked  []string // "org host addr mapped plain"
}

func (d *dialChecks) check(org, host string, addr netip.AddrPort, mapped, plain bool) policy.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, org+" "+host+" "+addr.String()+" "+boolWord(mapped, "mapped")+" "+boolWord(plain, "plain"))
	if d.refuse[host] {
		return policy.Decision{Action: policy.Block, Rule: "refused:private"}
	}
	return policy.Decision{Action: policy.Bypass, Rule: "destination"}
}

func (d *dialChecks) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

func boolWord(b bool, w string) string {
	if b {
		return w
	}
	return "-"
}

func (w *world) startProxyChecked(t *testing.T, decide func(string) policy.Action, edit func(*proxy.Config)) {
	t.Helper()
	cfg := w.pmProxyConfig("acme", decide)
	edit(&cfg)
	w.pmStartProxyWith(t, cfg)
}

// TestDialTimeRefusal is the finding 8 for names: a CONNECT or a
// plain request whose name resolves to a refused address is refused where
// it is dialed, after resolution. An inspected connection's user reads a
// 403 page, a plain request gets a 403, a tunnel is closed; each is
// logged with the refusing rule, and the destination sees no connection.
func TestDialTimeRefusal(t *testing.T) {
	w := newWorld(t)
	inspected := w.startRawOrigin(t, "internal.test", false)
	tunnelled := w.startRawOrigin(t, "pinned-internal.test", false)
	plain := w.startRawOrigin(t, "plain-internal.test", true)
	allowed := w.startRawOrigin(t, "public.test", false)
	checks := &dialChecks{refuse: map[string]bool{"internal.test": true, "pinned-internal.test": true, "plain-internal.test": true}}
	w.startProxyChecked(t, func(host string) policy.Action {
		if host == "pinned-internal.test" {
			return policy.Bypass
		}
		return policy.Inspect
	}, func(cfg *proxy.Config) { cfg.CheckAddr = checks.check })

	// Inspected: the handshake completes with a stand-in, the request
	// gets the edge's 403 page.
	tc, br := w.inspectedConn(t, "internal.test")
	io.WriteString(tc, "GET /secret HTTP/1.1\r\nHost: internal.test\r\n\r\n")
	statuses, bodies := readStatuses(br, 1)
	if !reflect.DeepEqual(statuses, []int{403}) || !strings.Contains(bodies[0], "refused:private") {
		t.Fatalf("inspected, refused at dial: %v %q", statuses, bodies)
	}
	w.waitLog(t, `"url":"https://internal.test/secret"`, `"status":403`, `"decision":"block"`, `"rule":"refused:private"`)

	// Tunnelled: answered 200 before the dial, so it can only be closed.
	raw := pmConnectOK(t, w.proxy.Addr(), "pinned-internal.test:443")
	ttc := tls.Client(raw, &tls.Config{ServerName: "pinned-internal.test", RootCAs: w.rootPool()})
	ttc.SetDeadline(time.Now().Add(pmIOTimeout))
	if err := ttc.Handshake(); err == nil || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("a refused tunnel's handshake: %v, want the connection closed", err)
	}
	raw.Close()
	w.waitLog(t, `"method":"CONNECT"`, `"url":"pinned-internal.test:443"`, `"status":403`, `"rule":"refused:private"`)

	// Plain http://.
	c, err := net.Dial("tcp", w.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(pmIOTimeout))
	io.WriteString(c, "GET http://plain-internal.test/ HTTP/1.1\r\nHost: plain-internal.test\r\n\r\n")
	if got, _ := readStatuses(bufio.NewReader(c), 2); !reflect.DeepEqual(got, []int{403}) {
		t.Fatalf("plain, refused at dial: %v", got)
	}
	w.waitLog(t, `"url":"http://plain-internal.test/"`, `"status":403`, `"rule":"refused:private"`)

	for name, o := range map[string]*rawOrigin{"internal.test": inspected, "pinned-internal.test": tunnelled, "plain-internal.test": plain} {
		o.mu.Lock()
		accepts := o.accepts
		o.mu.Unlock()
		if accepts != 0 {
			t.Errorf("%s was connected to %d times", name, accepts)
		}
	}

	// An allowed destination is dialed as before, and the check saw the
	// address the hosts mapping chose, for the right org and kind.
	tc, br = w.inspectedConn(t, "public.test")
	io.WriteString(tc, "GET / HTTP/1.1\r\nHost: public.test\r\n\r\n")
	if got, _ := readStatuses(br, 1); !reflect.DeepEqual(got, []int{200}) {
		t.Fatalf("allowed destination: %v", got)
	}
	if allowed.received() == "" {
		t.Fatal("the allowed origin saw nothing")
	}
	want := map[string]bool{
		"acme internal.test " + w.origins["internal.test"] + " mapped -":                 true,
		"acme pinned-internal.test " + w.origins["pinned-internal.test"] + " mapped -":   true,
		"acme plain-internal.test " + w.origins["plain-internal.test"] + " mapped plain": true,
		"acme public.test " + w.origins["public.test"] + " mapped -":                     true,
	}
	for _, call := range checks.calls() {
		if !want[call] {
			t.Errorf("unexpected check %q", call)
		}
		delete(want, call)
	}
	for call := range want {
		t.Errorf("no check %q", call)
	}
}

// TestLeafNamesFromPolicy is the finding 10: the leaf carries the
// SNI and only the names policy allows of the origin's certificate, so a
// browser cannot reuse an inspected connection for a blocked or pinned
// name the origin's certificate also covers.
func TestLeafNamesFromPolicy(t *testing.T) {
	w := newWorld(t)
	w.pmStartOrigin(t, "multi.test", pmOrigin{certNames: []string{"multi.test", "inspected.test", "blocked.test", "pinned.test"}})
	var asked []string
	var mu sync.Mutex
	w.startProxyChecked(t, inspectAll, func(cfg *proxy.Config) {
		cfg.LeafNames = func(org string, port int, sni string, sans []string) []string {
			mu.Lock()
			asked = append(asked, org+" "+sni+" "+strings.Join(sans, ","))
			mu.Unlock()
			return []string{sni, "inspected.test", "not-on-the-origin.test"}
		}
	})
	raw := pmConnectOK(t, w.proxy.Addr(), "multi.test:443")
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: "multi.test", RootCAs: w.rootPool()})
	tc.SetDeadline(time.Now().Add(pmIOTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	leaf := tc.ConnectionState().PeerCertificates[0]
	if got := strings.Join(leaf.DNSNames, ","); got != "multi.test,inspected.test" {
		t.Fatalf("leaf names %q, want the SNI and the allowed name the origin covers", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != "acme multi.test multi.test,inspected.test,blocked.test,pinned.test" {
		t.Fatalf("LeafNames asked %q", asked)
	}
}

// TestRefusedTargetLogged: a CONNECT refused before it is answered is
// logged with its method and its target as written (an IPv6 literal in
// brackets), not with the wiped copy of the head.
func TestRefusedTargetLogged(t *testing.T) {
	w := newWorld(t)
	w.startProxyChecked(t, inspectAll, func(cfg *proxy.Config) {
		cfg.CheckTarget = func(org, host string, port int, plain bool) policy.Decision {
			return policy.Decision{Action: policy.Block, Rule: "refused:loopback"}
		}
	})
	for _, target := range []string{"[::1]:443", "127.0.0.1:22"} {
		conn, resp := pmConnect(t, w.proxy.Addr(), target, "")
		conn.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("CONNECT %s: %s", target, resp.Status)
		}
		w.waitLog(t, `"method":"CONNECT"`, `"url":"`+target+`"`, `"status":403`, `"rule":"refused:loopback"`)
	}
}
