package tlsmitm

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// goHelloRecord returns the first flight (the ClientHello record) a Go
// client with versions [minV, maxV] sends.
func goHelloRecord(t testing.TB, minV, maxV uint16) []byte {
	t.Helper()
	return goConfigHelloRecord(t, &tls.Config{InsecureSkipVerify: true, MinVersion: minV, MaxVersion: maxV})
}

// goConfigHelloRecord returns the ClientHello record a Go client with cfg
// sends first.
func goConfigHelloRecord(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	return tlstest.CaptureClientHello(t, cfg)
}

func TestLegacyHandoff(t *testing.T) {
	hello12 := goHelloRecord(t, tls.VersionTLS12, tls.VersionTLS12)
	hello11 := goHelloRecord(t, tls.VersionTLS10, tls.VersionTLS11)
	hello13 := goHelloRecord(t, tls.VersionTLS12, tls.VersionTLS13)
	cfg := func(handoff bool) *Config {
		c := staticConfig(testCert)
		c.LegacyHandoff = handoff
		return c
	}
	wantLegacy := func(t *testing.T, c *Conn, in []byte) {
		t.Helper()
		res, err := c.Process(in, nil)
		if err != nil || res.Event != EventLegacy || res.Consumed != 0 || len(res.Out) != 0 {
			t.Fatalf("Process: %v, event %v, consumed %d, out %d", err, res.Event, res.Consumed, len(res.Out))
		}
	}

	t.Run("tls12", func(t *testing.T) {
		c := NewServer(cfg(true))
		wantLegacy(t, c, hello12)
		wantLegacy(t, c, hello12) // asking again gives the same answer
	})
	t.Run("fragmented", func(t *testing.T) {
		in := fragment(hello12[recordHeaderLen:], 2, 100)
		c := NewServer(cfg(true))
		for n := 0; n < len(in); n++ {
			res, err := c.Process(in[:n], nil)
			if err != nil || res.Event != EventNeedMore || res.Consumed != 0 || len(res.Out) != 0 {
				t.Fatalf("%d of %d bytes: %v, event %v, consumed %d", n, len(in), err, res.Event, res.Consumed)
			}
		}
		wantLegacy(t, c, in)
	})
	t.Run("no supported_versions", func(t *testing.T) {
		ch := &ClientHello{LegacyVersion: versionTLS12}
		if !offersOnlyTLS12(ch) {
			t.Error("legacy_version 0x0303 without supported_versions is not TLS 1.2")
		}
		ch.LegacyVersion = 0x0302
		if offersOnlyTLS12(ch) {
			t.Error("legacy_version 0x0302 taken for TLS 1.2")
		}
	})
	refused := func(t *testing.T, c *Conn, in []byte) {
		t.Helper()
		res, err := c.Process(in, nil)
		var ae *AlertError
		if !errors.As(err, &ae) || ae.Alert != AlertProtocolVersion {
			t.Fatalf("err %v, want protocol_version", err)
		}
		wantPlainAlert(t, res.Out, AlertProtocolVersion)
	}
	t.Run("tls11 refused", func(t *testing.T) { refused(t, NewServer(cfg(true)), hello11) })
	t.Run("handoff off", func(t *testing.T) { refused(t, NewServer(cfg(false)), hello12) })
	t.Run("tls13 unchanged", func(t *testing.T) {
		c := NewServer(cfg(true))
		res, err := c.Process(hello13, nil)
		if err != nil || res.Consumed != len(hello13) {
			t.Fatalf("Process: %v, consumed %d of %d", err, res.Consumed, len(hello13))
		}
		wantServerHello(t, res.Out)
	})
}

func TestLegacyHandoffNeedsEMS(t *testing.T) {
	rec := goHelloRecord(t, tls.VersionTLS12, tls.VersionTLS12)
	h := tlstest.ParseClientHello(t, rec[recordHeaderLen:]).Without(t, extExtendedMasterSecret)
	cfg := staticConfig(testCert)
	cfg.LegacyHandoff = true
	res, err := NewServer(cfg).Process(helloRecord(h.Message()), nil)
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != AlertHandshakeFailure {
		t.Fatalf("err %v, want handshake_failure", err)
	}
	wantPlainAlert(t, res.Out, AlertHandshakeFailure)
}

// TestLegacyHello: the hello behind EventLegacy is kept, parsed from a copy
// of its own, so it outlives the input it came in (which the caller
// discards and gnet reuses).
func TestLegacyHello(t *testing.T) {
	rec := tlstest.CaptureClientHello(t, &tls.Config{ServerName: "legacy.example", NextProtos: []string{"http/1.1"},
		InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	in := fragment(rec[recordHeaderLen:], 3, 64) // the hello over several records
	cfg := staticConfig(testCert)
	cfg.LegacyHandoff = true
	c := NewServer(cfg)
	if c.LegacyHello() != nil {
		t.Fatal("LegacyHello before any input")
	}
	if res, err := c.Process(in, nil); err != nil || res.Event != EventLegacy {
		t.Fatalf("Process: %v, event %v", err, res.Event)
	}
	clear(in)
	ch := c.LegacyHello()
	if ch == nil {
		t.Fatal("no LegacyHello after EventLegacy")
	}
	if ch.ServerName != "legacy.example" || len(ch.ALPNProtocols) != 1 || ch.ALPNProtocols[0] != "http/1.1" {
		t.Fatalf("hello after the input was wiped: SNI %q, ALPN %q", ch.ServerName, ch.ALPNProtocols)
	}
	if !bytes.Equal(ch.Raw, rec[recordHeaderLen:]) {
		t.Fatal("Raw is not the client's ClientHello message")
	}
	if JA4(ch)[:3] != "t12" {
		t.Fatalf("JA4 %s does not say TLS 1.2", JA4(ch))
	}
	c13 := NewServer(cfg)
	if _, err := c13.Process(goHelloRecord(t, tls.VersionTLS12, tls.VersionTLS13), nil); err != nil {
		t.Fatal(err)
	}
	if c13.LegacyHello() != nil {
		t.Fatal("LegacyHello for a TLS 1.3 hello, which is not handed off")
	}
}
