package tlsmitm

import (
	"crypto/tls"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// resumeEnv is a server config with tickets and a Go client with a session
// cache, so that a second connection offers the first one's ticket.
type resumeEnv struct {
	cfg   *Config
	ccfg  *tls.Config
	certs atomic.Int32 // GetCertificate calls
	skew  atomic.Int64 // added to the server's clock (Config.Now)
	// For parked handshakes (resume_park_test.go): each server
	// connection's session context, and the answer to EventPending.
	ctx     []byte
	pending func(c *Conn, out []byte) ([]byte, error)
}

func newResumeEnv(tk *TicketKeys) *resumeEnv {
	e := &resumeEnv{}
	e.cfg = &Config{
		GetCertificate: func(*ClientHello) (*Certificate, error) { e.certs.Add(1); return testCert, nil },
		NextProtos:     []string{"http/1.1"},
		Tickets:        tk,
		Now:            func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
	}
	e.ccfg = &tls.Config{
		ServerName:         "localhost",
		RootCAs:            testRoots(testCert),
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
		MinVersion:         tls.VersionTLS13,
	}
	return e
}

// run makes one connection with an echo and returns both sides' view.
func (e *resumeEnv) run(t *testing.T) (tls.ConnectionState, ConnectionState) {
	t.Helper()
	cn, sn := net.Pipe()
	deadline := time.Now().Add(20 * time.Second)
	cn.SetDeadline(deadline)
	sn.SetDeadline(deadline)
	srv := NewServer(e.cfg)
	if e.ctx != nil {
		srv.SetSessionContext(e.ctx)
	}
	done := make(chan error, 1)
	go func() { done <- serveEchoWith(sn, srv, e.pending); sn.Close() }()
	cl := tls.Client(cn, e.ccfg)
	if err := cl.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	// The echo makes the client read the NewSessionTicket that came first.
	if _, err := cl.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	st := cl.ConnectionState()
	cl.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	return st, srv.State()
}

func (e *resumeEnv) want(t *testing.T, resumed bool) {
	t.Helper()
	before := e.certs.Load()
	cst, sst := e.run(t)
	if cst.DidResume != resumed || sst.DidResume != resumed {
		t.Fatalf("client DidResume %v, server DidResume %v; want %v", cst.DidResume, sst.DidResume, resumed)
	}
	if calls := e.certs.Load() - before; calls != map[bool]int32{true: 0, false: 1}[resumed] {
		t.Fatalf("GetCertificate called %d times (resumed %v)", calls, resumed)
	}
	if cst.NegotiatedProtocol != "http/1.1" || sst.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("ALPN %q / %q", cst.NegotiatedProtocol, sst.NegotiatedProtocol)
	}
}

func TestResumeEachSuite(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	for _, id := range DefaultCipherSuites {
		t.Run(tls.CipherSuiteName(id), func(t *testing.T) {
			e := newResumeEnv(tk)
			e.cfg.CipherSuites = []uint16{id}
			e.want(t, false)
			e.want(t, true)
			e.want(t, true) // the resumed handshake issued a ticket too
			if st, _ := e.run(t); st.CipherSuite != id {
				t.Fatalf("suite %x", st.CipherSuite)
			}
		})
	}
}

func TestResumeAcrossSuitesOfOneHash(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	e.cfg.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256}
	e.want(t, false)
	e.cfg.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256}
	e.want(t, true) // same hash: allowed (§4.2.11)
	e.cfg.CipherSuites = []uint16{TLS_AES_256_GCM_SHA384}
	e.want(t, false) // another hash: full handshake
}

func TestResumeAfterHelloRetryRequest(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	e.ccfg.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP384}
	e.want(t, false)
	e.want(t, true)
}

func TestResumeOtherTicketKeys(t *testing.T) {
	a, b := NewTicketKeys(time.Hour), NewTicketKeys(time.Hour)
	defer a.Close()
	defer b.Close()
	e := newResumeEnv(a)
	e.want(t, false)
	e.cfg.Tickets = b
	e.want(t, false) // a's ticket means nothing to b
	e.want(t, true)
}

func TestResumeRotation(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	e.want(t, false)
	tk.Rotate()
	e.want(t, true) // the previous key still opens
	tk.Rotate()
	tk.Rotate()
	e.want(t, false) // two rotations later: gone

	// The same by the clock.
	var clock atomic.Int64
	start := time.Now()
	tk2 := NewTicketKeys(time.Minute)
	defer tk2.Close()
	tk2.now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	e2 := newResumeEnv(tk2)
	e2.want(t, false)
	clock.Store(int64(90 * time.Second))
	e2.want(t, true)
	clock.Store(int64(300 * time.Second))
	e2.want(t, false)
}

func TestResumeExpired(t *testing.T) {
	tk := NewTicketKeys(100 * time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	e.cfg.TicketLifetime = time.Hour
	e.want(t, false)
	e.skew.Store(int64(2 * time.Hour))
	e.want(t, false) // past its lifetime
	e.want(t, true)  // the new ticket, issued at the skewed time
	e.skew.Store(int64(-time.Minute))
	e.want(t, false) // from the server's future, and the client's age disagrees
}

// resumedHello returns the record holding a ClientHello that offers a
// ticket from e's server.
func (e *resumeEnv) resumedHello(t *testing.T) []byte {
	t.Helper()
	e.want(t, false)
	rec := tlstest.CaptureClientHello(t, e.ccfg)
	ch, err := ParseClientHello(rec[recordHeaderLen:])
	if err != nil || len(ch.PSKIdentities) != 1 {
		t.Fatalf("client hello: %v, %d identities", err, len(ch.PSKIdentities))
	}
	return rec
}

func TestResumeBadBinder(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	rec := e.resumedHello(t)
	rec[len(rec)-1] ^= 1 // the last byte of the last binder
	res, err := NewServer(e.cfg).Process(rec, nil)
	if ae, ok := err.(*AlertError); !ok || ae.Alert != AlertDecryptError {
		t.Fatalf("err = %v, want decrypt_error", err)
	}
	wantPlainAlert(t, res.Out, AlertDecryptError)
}

func TestResumePSKKEOnly(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	rec := e.resumedHello(t)
	ch, _ := ParseClientHello(rec[recordHeaderLen:])
	for i := range ch.PSKModes {
		ch.PSKModes[i] = 0 // psk_ke; aliases rec
	}
	srv := NewServer(e.cfg)
	before := e.certs.Load()
	res, err := srv.Process(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantServerHello(t, res.Out)
	if srv.State().DidResume || e.certs.Load() != before+1 {
		t.Fatalf("psk_ke alone resumed (or skipped the certificate)")
	}
}

func TestResumeWithoutTicketKeysIgnoresPSK(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newResumeEnv(tk)
	rec := e.resumedHello(t)
	e.cfg.Tickets = nil
	srv := NewServer(e.cfg)
	if _, err := srv.Process(rec, nil); err != nil || srv.State().DidResume {
		t.Fatalf("err %v, resumed %v", err, srv.State().DidResume)
	}
}

func TestTicketKeysClosed(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	e := newResumeEnv(tk)
	e.want(t, false)
	tk.Close()
	e.want(t, false)
	e.want(t, false)
}

func TestTicketOpenRefusesTampering(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	st := ticketState{version: versionTLS13, suite: TLS_AES_128_GCM_SHA256, created: 1, lifetime: 2, ageAdd: 3,
		psk: make([]byte, 32), sni: []byte("localhost"), alpn: []byte("h2")}
	b := appendTicketState(make([]byte, ticketHeaderLen), &st)
	ticket, ok := tk.seal(b, 0)
	if !ok {
		t.Fatal("seal")
	}
	plain, ok := tk.open(nil, ticket)
	if !ok {
		t.Fatal("open")
	}
	got, ok := parseTicketState(plain)
	if !ok || got.created != 1 || got.lifetime != 2 || got.ageAdd != 3 || string(got.sni) != "localhost" || string(got.alpn) != "h2" {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for i := range ticket {
		bad := append([]byte(nil), ticket...)
		bad[i] ^= 0x80
		if _, ok := tk.open(nil, bad); ok {
			t.Fatalf("ticket with byte %d flipped opened", i)
		}
	}
}

func TestParsePreSharedKeyErrors(t *testing.T) {
	binder := append([]byte{32}, make([]byte, 32)...)
	id := []byte{0, 1, 'x', 0, 0, 0, 9}
	vec := func(b ...[]byte) []byte {
		var all []byte
		for _, x := range b {
			all = append(all, x...)
		}
		return append(putU16(nil, uint16(len(all))), all...)
	}
	cases := []struct {
		name string
		data []byte
		want Alert
	}{
		{"empty", nil, AlertDecodeError},
		{"no identities", append(vec(), vec(binder)...), AlertDecodeError},
		{"no binders", append(vec(id), vec()...), AlertDecodeError},
		{"short binder", append(vec(id), vec([]byte{31}, make([]byte, 31))...), AlertDecodeError},
		{"trailing byte", append(append(vec(id), vec(binder)...), 0), AlertDecodeError},
		{"two identities one binder", append(vec(id, id), vec(binder)...), AlertIllegalParameter},
		{"one identity two binders", append(vec(id), vec(binder, binder)...), AlertIllegalParameter},
	}
	for _, tc := range cases {
		var ch ClientHello
		err := ch.parsePreSharedKey(tc.data)
		if err == nil || err.Alert != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var ch ClientHello
	if err := ch.parsePreSharedKey(append(vec(id), vec(binder)...)); err != nil {
		t.Fatal(err)
	}
	if len(ch.PSKIdentities) != 1 || ch.PSKIdentities[0].ObfuscatedTicketAge != 9 || string(ch.PSKIdentities[0].Identity) != "x" || ch.pskBindersLen != 35 {
		t.Fatalf("parsed %+v, binders length %d", ch.PSKIdentities, ch.pskBindersLen)
	}
}

// TestTicketKeysConcurrent seals and opens from many goroutines while the
// keys rotate; run it with -race.
func TestTicketKeysConcurrent(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	st := ticketState{version: versionTLS13, suite: TLS_AES_128_GCM_SHA256, psk: make([]byte, 32)}
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			opened := true
			for i := 0; i < 200; i++ {
				ticket, ok := tk.seal(appendTicketState(make([]byte, ticketHeaderLen), &st), 0)
				if !ok {
					opened = false
					continue
				}
				// Rotations in between may make it refuse; it must not race.
				tk.open(nil, ticket)
			}
			done <- opened
		}()
	}
	for i := 0; i < 50; i++ {
		tk.Rotate()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("seal refused while the keys were open")
		}
	}
}
