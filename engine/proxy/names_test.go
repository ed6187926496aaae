package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/policy"
	"github.com/lucid-edge/lucid/internal/tlstest"
)

// TestProxyStrictestName: a connection's decision is the strictest of its
// CONNECT target and its SNI (issue 12, findings 1 and 2). A bypassed
// (pinned) name in the SNI opens no tunnel behind an inspected CONNECT; a
// blocked SNI behind a bypassed CONNECT is refused, and logged with the
// SNI; only both bypassed make a tunnel.
func TestProxyStrictestName(t *testing.T) {
	w := newWorld(t)
	w.origin(t, "pinned.test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	w.origins["allowed.test"] = w.origins["pinned.test"]
	w.origins["bypass.test"] = w.origins["pinned.test"]
	w.startProxy(t, "acme", func(host string) policy.Action {
		switch host {
		case "blocked.test":
			return policy.Block
		case "pinned.test", "bypass.test":
			return policy.Bypass
		}
		return policy.Inspect
	})
	orgRoots := x509.NewCertPool()
	orgRoots.AddCert(w.ca.Root())
	originRoots := x509.NewCertPool()
	originRoots.AddCert(w.originCA)

	for _, tc := range []struct {
		connect, sni string
		want         string // inspected, bypassed, refused
	}{
		{"allowed.test", "pinned.test", "inspected"},
		{"bypass.test", "blocked.test", "refused"},
		{"bypass.test", "allowed.test", "inspected"},
		{"pinned.test", "pinned.test", "bypassed"},
		{"bypass.test", "pinned.test", "bypassed"},
	} {
		roots := orgRoots
		if tc.want == "bypassed" {
			roots = originRoots
		}
		c := tls.Client(w.dial12(t, tc.connect), &tls.Config{ServerName: tc.sni, RootCAs: roots})
		err := c.Handshake()
		if tc.want == "refused" {
			if err == nil || !strings.Contains(err.Error(), "handshake failure") {
				t.Errorf("CONNECT %s, SNI %s: served (%v), want refused", tc.connect, tc.sni, err)
			}
			w.waitLog(t, `"sni":"`+tc.sni+`"`, `"url":"`+tc.connect+`:443"`, `"status":403`, `"decision":"block"`)
			continue
		}
		if err != nil {
			t.Errorf("CONNECT %s, SNI %s: %v (want %s)", tc.connect, tc.sni, err, tc.want)
			continue
		}
		resp, _ := tlstest.RoundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: "+tc.sni+"\r\nConnection: close\r\n\r\n")
		issuer := c.ConnectionState().PeerCertificates[0].Issuer.CommonName
		// An inspected connection whose SNI the origin's certificate does
		// not name gets the edge's 502 page: inspected all the same.
		if got := map[bool]string{true: "bypassed", false: "inspected"}[issuer == "Public Web Root"]; got != tc.want || got == "bypassed" && resp.StatusCode != 200 {
			t.Errorf("CONNECT %s, SNI %s: %s (issuer %s, status %d), want %s", tc.connect, tc.sni, got, issuer, resp.StatusCode, tc.want)
		}
	}
	w.waitLog(t, `"sni":"pinned.test"`, `"url":"pinned.test:443"`, `"decision":"bypass"`)

	// The edge's own answer (here a 502: the origin's certificate does not
	// name allowed.test) judges the request first: a blocked Host gets
	// the 403 of its rule, logged as blocked.
	c := tls.Client(w.dial12(t, "allowed.test"), &tls.Config{ServerName: "allowed.test", RootCAs: orgRoots})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	resp, body := tlstest.RoundTrip(t, c, bufio.NewReader(c), "GET /secret HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
	if resp.StatusCode != 403 || !strings.Contains(body, "policy (test)") {
		t.Errorf("a blocked Host on a connection the edge answers itself: %d %q, want 403 naming the rule", resp.StatusCode, body)
	}
	w.waitLog(t, `"url":"https://blocked.test/secret"`, `"status":403`, `"decision":"block"`, `"rule":"test"`)
}
