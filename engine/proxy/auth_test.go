package proxy_test

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/authlimit"
)

// TestProxyAuthFailuresLimited: a client that keeps failing proxy
// authentication gets 429 without its credentials being checked, and a
// client the edge does not admit gets 403 before anything else.
func TestProxyAuthFailuresLimited(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "origin.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	cfg := w.pmProxyConfig("", inspectAll)
	checked := make(chan struct{}, 16)
	cfg.Authenticate = func(v []byte) (string, string, bool) {
		checked <- struct{}{}
		return "", "", false
	}
	cfg.AuthLimit = authlimit.New(authlimit.Config{Limit: 2, Per: time.Hour})
	w.pmStartProxyWith(t, cfg)
	wrong := "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:wrong")) + "\r\n"
	for i, want := range []int{407, 407, 429, 429} {
		conn, resp := pmConnect(t, w.proxy.Addr(), "origin.test:443", wrong)
		conn.Close()
		if resp.StatusCode != want {
			t.Fatalf("attempt %d: %s, want %d", i+1, resp.Status, want)
		}
	}
	if n := len(checked); n != 2 {
		t.Errorf("the credentials were checked %d times, want 2 (none over the limit)", n)
	}
	// Every refusal is in the access log, by target, never by credential.
	log := w.accessLog()
	for _, status := range []string{`"status":407`, `"status":429`} {
		if n := strings.Count(log, status); n != 2 {
			t.Errorf("%d access-log lines with %s, want 2:\n%s", n, status, log)
		}
	}
	if strings.Count(log, `"url":"origin.test:443"`) != 4 {
		t.Errorf("the refused CONNECTs are not logged by their target:\n%s", log)
	}
	if strings.Contains(log, "wrong") || strings.Contains(log, base64.StdEncoding.EncodeToString([]byte("alice:wrong"))) {
		t.Errorf("the access log holds the credential:\n%s", log)
	}

	w2 := newWorld(t)
	cfg2 := w2.pmProxyConfig("acme", inspectAll)
	cfg2.AllowClient = func(a netip.Addr) bool { return !a.IsLoopback() }
	w2.pmStartProxyWith(t, cfg2)
	conn, resp := pmConnect(t, w2.proxy.Addr(), "origin.test:443", "")
	conn.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a client the edge does not admit: %s, want 403", resp.Status)
	}
	if log := w2.accessLog(); !strings.Contains(log, `"status":403`) || !strings.Contains(log, `"method":"CONNECT"`) {
		t.Errorf("the client not admitted is not logged:\n%s", log)
	}
}
