package tlsmitm

import (
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"
)

// The server byte of a FuzzServer input: which server runs the connection,
// edge terminate or the inspecting proxy, and how the proxy goes on from a
// parked hello. This file holds the servers' configurations and the
// proxy's side of a park.
const (
	modeProxy     uint8 = 1 << 0 // the inspecting proxy; else edge terminate
	modeNoTickets uint8 = 1 << 1 // either server with tickets turned off

	// Bits 2-3: the proxy's answer once the origin has answered.
	modeAnswer       uint8 = 3 << 2
	modeResumeOrLeaf uint8 = 0 << 2 // resume a good ticket, else the minted leaf
	modeLeaf         uint8 = 1 << 2 // a leaf even for a good ticket: the untrusted signer of a pass-on
	modeRefuse       uint8 = 2 << 2 // handshake_failure: the SNI is blocked, or no key for the organisation
	modeMintFailed   uint8 = 3 << 2 // internal_error: minting the leaf failed

	// Bits 4-5: the protocol the origin chose (originProtocol).
	modeALPN        uint8 = 3 << 4
	modeALPNFirst   uint8 = 0 << 4 // the client's first
	modeALPNNone    uint8 = 1 << 4 // none
	modeALPNHTTP11  uint8 = 2 << 4 // http/1.1 if the client offered it, as for a 502 page
	modeALPNForeign uint8 = 3 << 4 // one the client did not offer (SetNegotiatedProtocol refuses it)

	// modeOtherOrg: the connection belongs to another organisation than
	// the one the seeds' proxy tickets were issued to.
	modeOtherOrg uint8 = 1 << 6
)

// fuzzOrg is the organisation (the session context) of a proxy connection.
func fuzzOrg(server uint8) string {
	if server&modeOtherOrg != 0 {
		return "beta"
	}
	return "acme"
}

// fuzzServerConfig is the configuration the servers give tlsmitm: edge
// terminate's (engine/terminate.go StartTerminate) or the proxy's
// (engine/proxy.go StartProxy), as server says, with keys in a slab as on
// each event loop. prefs varies groups, suites and terminate's ALPN, so
// that HelloRetryRequest, ALPN refusal and every suite are reached.
func fuzzServerConfig(prefs, server uint8, mem Memory) *Config {
	cfg := &Config{
		LegacyHandoff: true,
		Memory:        mem,
		Now:           func() time.Time { return fuzzNow },
		// A seeded stream makes every run of one input identical.
		Rand: rand.NewChaCha8([32]byte{'l', 'u', 'c', 'i', 'd'}),
	}
	if server&modeNoTickets == 0 {
		cfg.Tickets = fuzzTicketKeys
	}
	if server&modeProxy != 0 {
		// Every hello parks until the origin has answered (answerPark).
		cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil }
		cfg.ParkResumed = true
	} else {
		cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return testCert, nil }
		cfg.NextProtos = []string{"http/1.1", "http/1.0"}
	}
	switch prefs & 3 {
	case 1: // no seed hello carries a P-384 share: HelloRetryRequest
		cfg.Groups = []Group{GroupP384}
	case 2:
		cfg.Groups = []Group{GroupP256, GroupX25519MLKEM768}
	case 3:
		cfg.Groups = []Group{GroupX25519}
	}
	switch prefs >> 2 & 3 {
	case 1:
		cfg.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256}
	case 2:
		cfg.CipherSuites = []uint16{TLS_AES_256_GCM_SHA384}
	case 3:
		if server&modeProxy == 0 {
			cfg.NextProtos = []string{"h3"} // shares nothing with the seeds
		}
	}
	return cfg
}

// originProtocol is the ALPN protocol the origin chose, as server says.
func originProtocol(ch *ClientHello, server uint8) string {
	switch server & modeALPN {
	case modeALPNFirst:
		if len(ch.ALPNProtocols) > 0 {
			return ch.ALPNProtocols[0]
		}
	case modeALPNHTTP11:
		if slices.Contains(ch.ALPNProtocols, "http/1.1") {
			return "http/1.1"
		}
	case modeALPNForeign:
		return "h3"
	}
	return ""
}

// answerPark goes on from a parked hello the way the proxy does once the
// origin has answered (engine/proxyconn.go helloArrived, upstreamArrived,
// answer): the origin's protocol, then a resumption, a leaf or an abort.
// It appends the server's flight, or the alert, to out.
func answerPark(t *testing.T, c *Conn, server uint8, out []byte) ([]byte, error) {
	ch := c.Hello()
	if ch == nil {
		t.Fatal("a parked handshake has no hello")
	}
	checkProxyHello(t, ch)
	resumable := c.Resumable()
	if resumable && server&(modeNoTickets|modeOtherOrg) != 0 {
		t.Fatal("a hello resumes without ticket keys, or with another organisation's ticket")
	}
	p := originProtocol(ch, server)
	offered := p == "" || slices.Contains(ch.ALPNProtocols, p)
	if err := c.SetNegotiatedProtocol(p); (err == nil) != offered {
		t.Fatalf("SetNegotiatedProtocol(%q) with %q offered: %v", p, ch.ALPNProtocols, err)
	}
	switch server & modeAnswer {
	case modeResumeOrLeaf:
		if resumable {
			out, err := c.Resume(out)
			if err == nil && !c.State().DidResume {
				t.Fatal("Resume did not resume")
			}
			return out, err
		}
		fallthrough
	case modeLeaf:
		out, err := c.SetCertificate(testCert, out)
		if err == nil && c.State().DidResume {
			t.Fatal("a handshake given a certificate resumed")
		}
		return out, err
	case modeRefuse:
		return c.Abort(out, AlertHandshakeFailure, "the SNI is blocked by policy")
	}
	return c.Abort(out, AlertInternalError, "minting the leaf failed")
}

// checkProxyHello checks what the proxy takes from the hello of a park or
// a hand-off (engine/proxyconn.go helloArrived): it fingerprints it, and
// mirrors its Raw bytes to the origin.
func checkProxyHello(t *testing.T, ch *ClientHello) {
	t.Helper()
	if ja4 := JA4(ch); !ja4Format.MatchString(ja4) {
		t.Fatalf("JA4 %q of the proxy's hello does not have the JA4 format", ja4)
	}
	raw := ch.Raw
	if len(raw) < 4 || raw[0] != typeClientHello || len(raw) != 4+(int(raw[1])<<16|int(raw[2])<<8|int(raw[3])) {
		t.Fatalf("the proxy's hello's Raw is not one ClientHello message: % x", raw[:min(len(raw), 8)])
	}
}

// goResumptionHello returns the record of a ClientHello in which Go's
// client offers a ticket from a server with cfg: the one it got in a first,
// full handshake on a connection of organisation org ("" for none).
// pending answers that connection's park; nil for edge terminate's server,
// which never parks.
func goResumptionHello(tb testing.TB, cfg *Config, org string, pending func(*Conn, []byte) ([]byte, error)) []byte {
	tb.Helper()
	ccfg := &tls.Config{
		ServerName:         "localhost",
		RootCAs:            testRoots(testCert),
		NextProtos:         []string{"h2", "http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
		MinVersion:         tls.VersionTLS13,
	}
	cn, sn := net.Pipe()
	deadline := time.Now().Add(20 * time.Second)
	cn.SetDeadline(deadline)
	sn.SetDeadline(deadline)
	srv := NewServer(cfg)
	if org != "" {
		srv.SetSessionContext([]byte(org))
	}
	done := make(chan error, 1)
	go func() { done <- serveEchoWith(sn, srv, pending); sn.Close() }()
	cl := tls.Client(cn, ccfg)
	// The echo makes the client read the NewSessionTicket that came first.
	if _, err := cl.Write([]byte("ping")); err != nil {
		tb.Fatalf("first handshake: %v", err)
	}
	if _, err := io.ReadFull(cl, make([]byte, 4)); err != nil {
		tb.Fatalf("echo: %v", err)
	}
	cl.Close()
	if err := <-done; err != nil {
		tb.Fatalf("server: %v", err)
	}
	srv.Release()
	rec := goConfigHelloRecord(tb, ccfg)
	if ch, err := ParseClientHello(rec[recordHeaderLen:]); err != nil || len(ch.PSKIdentities) != 1 {
		tb.Fatalf("second hello: %v, no ticket", err)
	}
	return rec
}
