package proxy_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/policy"
)

// legacyClient is a client that offers TLS 1.0 to 1.3 and the CBC suites:
// the mirrored hello offers the origin what it offered.
func legacyClient(name string, w *world) *tls.Config {
	var suites []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		suites = append(suites, s.ID)
	}
	return &tls.Config{ServerName: name, RootCAs: w.rootPool(), MinVersion: tls.VersionTLS10,
		CipherSuites: suites, NextProtos: []string{"http/1.1"}}
}

// TestUpstreamTLSFloor (finding 9): an origin that speaks only TLS 1.0
// with a CBC-SHA1 suite gets no request: the client reads a 502 page
// naming the reason, and the log shows what each side negotiated. An org
// rule that allows legacy TLS for the host lets the same origin through.
func TestUpstreamTLSFloor(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "floor", true: "legacy allowed"}[legacy]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.pmStartOrigin(t, "legacy.test", pmOrigin{handler: w.recording("legacy.test"), tls: func(c *tls.Config) {
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
			}})
			cfg := w.pmProxyConfig("acme", inspectAll)
			cfg.Decide = func(org, host string, port int) policy.Decision {
				return policy.Decision{Action: policy.Inspect, Rule: "test", LegacyTLS: legacy}
			}
			w.pmStartProxyWith(t, cfg)
			raw := pmConnectOK(t, w.proxy.Addr(), "legacy.test:443")
			defer raw.Close()
			tc := tls.Client(raw, legacyClient("legacy.test", w))
			tc.SetDeadline(time.Now().Add(pmIOTimeout))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if v := tc.ConnectionState().Version; v != tls.VersionTLS13 {
				t.Errorf("the client's side: %s, want TLS 1.3", tls.VersionName(v))
			}
			io.WriteString(tc, "GET /legacy HTTP/1.1\r\nHost: legacy.test\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			_, reached := w.requests.Load("legacy.test/legacy")
			if legacy {
				if resp.StatusCode != 200 || !reached {
					t.Fatalf("allowed legacy origin: %s %q, reached the origin: %v", resp.Status, body, reached)
				}
			} else {
				if resp.StatusCode != 502 || !strings.Contains(string(body), "older than TLS 1.2") || !strings.Contains(string(body), "CBC") {
					t.Fatalf("below the floor: %s %q, want 502 naming the reason", resp.Status, body)
				}
				if reached {
					t.Fatal("the request reached the origin below the floor")
				}
			}
			w.proxy.Stop(t.Context())
			log := w.accessLog()
			if !strings.Contains(log, `"tls_upstream":{"version":"TLS1.0","suite":"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"`) ||
				!strings.Contains(log, `"tls_client":{"version":"TLS1.3"`) {
				t.Errorf("the log does not show both sides' TLS:\n%s", log)
			}
		})
	}
}

// recording is an origin handler that notes every request it serves.
func (w *world) recording(name string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Store(name+r.URL.Path, true)
		io.WriteString(rw, "origin "+name)
	})
}
