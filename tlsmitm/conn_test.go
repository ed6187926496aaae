package tlsmitm

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/internal/tlstest"
)

// wantPlainAlert checks out ends with the unprotected fatal alert a.
func wantPlainAlert(t *testing.T, out []byte, a Alert) {
	t.Helper()
	want := []byte{recordAlert, 3, 3, 0, 2, 2, byte(a)}
	if !bytes.HasSuffix(out, want) {
		t.Errorf("output ends % x, want % x", out[max(0, len(out)-len(want)):], want)
	}
}

func record(typ uint8, content ...byte) []byte { return appendPlainRecord(nil, typ, content) }

// fragment splits a handshake message over plaintext records at the given
// offsets.
func fragment(msg []byte, cuts ...int) []byte {
	var out []byte
	prev := 0
	for _, c := range append(cuts, len(msg)) {
		out = appendPlainRecord(out, recordHandshake, msg[prev:c])
		prev = c
	}
	return out
}

// wantServerHello checks out starts with a plaintext ServerHello record.
func wantServerHello(t *testing.T, out []byte) {
	t.Helper()
	if len(out) < 6 || out[0] != recordHandshake || out[5] != typeServerHello {
		t.Fatalf("output does not start with a ServerHello: % x", out[:min(len(out), 16)])
	}
}

func TestRecordLayerErrors(t *testing.T) {
	hello := goHello(t)
	edit := func(f func(h *tlstest.ClientHello)) []byte {
		h := tlstest.ParseClientHello(t, hello)
		f(h)
		return helloRecord(h.Message())
	}
	cases := []struct {
		name string
		in   []byte
		want Alert
	}{
		{"unknown content type", record(24, 1, 0, 0), AlertUnexpectedMessage},
		{"unknown content type, header only", []byte{0x80, 3, 3, 0, 1}, AlertUnexpectedMessage},
		{"plaintext record of 16385 bytes, header only", []byte{recordHandshake, 3, 3, 0x40, 0x01}, AlertRecordOverflow},
		{"alert record of 16385 bytes, header only", []byte{recordAlert, 3, 3, 0x40, 0x01}, AlertRecordOverflow},
		{"protected record of 2^14+257 bytes, header only", []byte{recordApplicationData, 3, 3, 0x41, 0x01}, AlertRecordOverflow},
		{"record of 65535 bytes, header only", []byte{recordHandshake, 3, 3, 0xff, 0xff}, AlertRecordOverflow},
		{"application data before the handshake", append([]byte{recordApplicationData, 3, 3, 0, 32}, make([]byte, 32)...), AlertUnexpectedMessage},
		{"change_cipher_spec before ClientHello", record(recordChangeCipherSpec, 1), AlertUnexpectedMessage},
		{"alert record of 3 bytes", record(recordAlert, 2, 40, 0), AlertDecodeError},
		{"alert record of 1 byte", record(recordAlert, 2), AlertDecodeError},
		{"empty alert record", record(recordAlert), AlertDecodeError},
		{"empty handshake record", record(recordHandshake), AlertUnexpectedMessage},
		{"first message is not a ClientHello", record(recordHandshake, typeFinished, 0, 0, 0), AlertUnexpectedMessage},
		{"handshake message over 64 KiB", record(recordHandshake, typeClientHello, 1, 0, 1), AlertDecodeError},
		{"TLS 1.2-only hello (no supported_versions)", edit(func(h *tlstest.ClientHello) { h.Without(t, extSupportedVersions) }), AlertProtocolVersion},
		{"hello without extensions", edit(func(h *tlstest.ClientHello) { h.Extensions = nil }), AlertProtocolVersion},
		{"supported_versions without TLS 1.3", edit(func(h *tlstest.ClientHello) { h.Set(extSupportedVersions, []byte{4, 3, 3, 3, 2}) }), AlertProtocolVersion},
		{"no key_share", edit(func(h *tlstest.ClientHello) { h.Without(t, extKeyShare) }), AlertMissingExtension},
		{"no supported_groups", edit(func(h *tlstest.ClientHello) { h.Without(t, extSupportedGroups) }), AlertMissingExtension},
		{"no signature_algorithms", edit(func(h *tlstest.ClientHello) { h.Without(t, extSignatureAlgorithms) }), AlertMissingExtension},
		{"compression offered", edit(func(h *tlstest.ClientHello) { h.Compressions = []byte{1, 0} }), AlertIllegalParameter},
		{"no suite in common", edit(func(h *tlstest.ClientHello) { h.CipherSuites = []byte{0xc0, 0x2f} }), AlertHandshakeFailure},
		{"no group in common", edit(func(h *tlstest.ClientHello) {
			h.Set(extSupportedGroups, u16List(0x0019))
			h.Set(extKeyShare, []byte{0, 0})
		}), AlertHandshakeFailure},
		{"no signature scheme for the ECDSA key", edit(func(h *tlstest.ClientHello) { h.Set(extSignatureAlgorithms, u16List(rsaPSSRSAESHA256)) }), AlertHandshakeFailure},
		{"no ALPN protocol in common", edit(func(h *tlstest.ClientHello) { h.Set(extALPN, []byte{0, 3, 2, 'h', '2'}) }), AlertNoApplicationProtocol},
		{"X25519 share of the wrong length", edit(func(h *tlstest.ClientHello) {
			h.Set(extKeyShare, []byte{0, 7, 0, 0x1d, 0, 3, 1, 2, 3})
		}), AlertIllegalParameter},
		{"X25519 share of a low-order point", edit(func(h *tlstest.ClientHello) {
			h.Set(extKeyShare, append([]byte{0, 36, 0, 0x1d, 0, 32}, make([]byte, 32)...))
		}), AlertIllegalParameter},
		{"fragmented hello interrupted by change_cipher_spec", append(fragment(hello, 100)[:recordHeaderLen+100], record(recordChangeCipherSpec, 1)...), AlertUnexpectedMessage},
		{"fragmented hello interrupted by an alert", append(fragment(hello, 100)[:recordHeaderLen+100], record(recordAlert, 1, 0)...), AlertUnexpectedMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewServer(staticConfig(testCert))
			res, err := c.Process(bytes.Clone(tc.in), nil)
			wantAlert(t, err, tc.want)
			wantPlainAlert(t, res.Out, tc.want)
			if len(res.Out) != 7 {
				t.Errorf("output holds %d bytes besides the alert", len(res.Out)-7)
			}
			// The error sticks: later calls report it and send nothing.
			res, err2 := c.Process(record(recordHandshake, hello...), nil)
			if err2 != err || len(res.Out) != 0 || res.Consumed != 0 {
				t.Errorf("after the error: %v, out %d bytes, consumed %d", err2, len(res.Out), res.Consumed)
			}
		})
	}

	t.Run("record length at the limits", func(t *testing.T) {
		for _, in := range [][]byte{
			{recordHandshake, 3, 3, 0x40, 0x00},
			{recordApplicationData, 3, 3, 0x41, 0x00},
		} {
			res, err := NewServer(staticConfig(testCert)).Process(in, nil)
			if err != nil || res.Event != EventNeedMore || res.Consumed != 0 || len(res.Out) != 0 {
				t.Errorf("header % x: %v %+v", in, err, res)
			}
		}
	})

	t.Run("handshake data after ClientHello in the same record", func(t *testing.T) {
		// The server refuses before it answers: no ServerHello, and the
		// alert goes out in the clear.
		res, err := NewServer(staticConfig(testCert)).Process(record(recordHandshake, append(bytes.Clone(hello), typeFinished, 0, 0, 0)...), nil)
		wantAlert(t, err, AlertUnexpectedMessage)
		if want := []byte{recordAlert, 3, 3, 0, 2, 2, byte(AlertUnexpectedMessage)}; !bytes.Equal(res.Out, want) {
			t.Errorf("output % x, want only the plaintext alert % x", res.Out, want)
		}
	})

	t.Run("peer alerts", func(t *testing.T) {
		c := NewServer(staticConfig(testCert))
		res, err := c.Process(record(recordAlert, 1, byte(AlertUserCanceled)), nil)
		if err != nil || res.Event != EventNeedMore {
			t.Fatalf("user_canceled: %v %v", res.Event, err)
		}
		res, err = c.Process(record(recordAlert, 2, byte(AlertHandshakeFailure)), nil)
		var pe *PeerAlertError
		if !errors.As(err, &pe) || pe.Alert != AlertHandshakeFailure || len(res.Out) != 0 {
			t.Fatalf("fatal alert: %v, out % x", err, res.Out)
		}
		c = NewServer(staticConfig(testCert))
		res, err = c.Process(record(recordAlert, 1, byte(AlertCloseNotify)), nil)
		if err != nil || res.Event != EventClosed {
			t.Fatalf("close_notify: %v %v", res.Event, err)
		}
	})
}

func lastRecord(t *testing.T, out []byte) []byte {
	t.Helper()
	var last []byte
	for len(out) > 0 {
		if len(out) < recordHeaderLen {
			t.Fatalf("%d stray bytes", len(out))
		}
		n := recordHeaderLen + (int(out[3])<<8 | int(out[4]))
		if n > len(out) {
			t.Fatal("truncated record in output")
		}
		last, out = out[:n], out[n:]
	}
	return last
}

func TestPartialRecords(t *testing.T) {
	rec, body := readHelloRecord(t, "1-go126.bin")
	for _, n := range []int{0, 1, 4, recordHeaderLen, recordHeaderLen + 1, len(rec) - 1} {
		res, err := NewServer(staticConfig(testCert)).Process(bytes.Clone(rec[:n]), nil)
		if err != nil || res.Event != EventNeedMore || res.Consumed != 0 || len(res.Out) != 0 {
			t.Errorf("%d of %d bytes: err %v, event %v, consumed %d, out %d", n, len(rec), err, res.Event, res.Consumed, len(res.Out))
		}
	}

	// The hello split over three records, cut inside its 4-byte header and
	// in the middle of the body (§5.1).
	split := fragment(body, 2, 700)
	t.Run("three records at once", func(t *testing.T) {
		res, err := NewServer(staticConfig(testCert)).Process(bytes.Clone(split), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Consumed != len(split) {
			t.Errorf("consumed %d of %d", res.Consumed, len(split))
		}
		wantServerHello(t, res.Out)
	})
	t.Run("one record per call", func(t *testing.T) {
		c := NewServer(staticConfig(testCert))
		in := bytes.Clone(split)
		for i := 0; i < 3; i++ {
			n := recordHeaderLen + (int(in[3])<<8 | int(in[4]))
			res, err := c.Process(in[:n], nil)
			if err != nil || res.Consumed != n {
				t.Fatalf("record %d: %v, consumed %d of %d", i, err, res.Consumed, n)
			}
			if i < 2 && len(res.Out) != 0 {
				t.Fatalf("answer after record %d of 3", i)
			}
			if i == 2 {
				wantServerHello(t, res.Out)
			}
			in = in[n:]
		}
	})
	t.Run("one byte at a time", func(t *testing.T) {
		c := NewServer(staticConfig(testCert))
		var buf, out []byte
		for i, b := range split {
			buf = append(buf, b)
			res, err := c.Process(buf, out)
			if err != nil {
				t.Fatalf("byte %d: %v", i, err)
			}
			buf = buf[:copy(buf, buf[res.Consumed:])]
			out = res.Out
			if len(out) > 0 && i != len(split)-1 {
				t.Fatalf("answer after byte %d of %d", i, len(split))
			}
		}
		if len(buf) != 0 {
			t.Errorf("%d bytes left", len(buf))
		}
		wantServerHello(t, out)
	})
}

// goClient drives one crypto/tls client against a Conn record by record,
// from the test goroutine, so the test can look into the Conn and forge
// what the client sends.
type goClient struct {
	t   *testing.T
	srv *Conn
	sn  net.Conn // the server's end of the pipe
	cl  *tls.Conn
	hs  chan error // the client's Handshake result

	// Copies of the secrets taken just before the client's Finished.
	clientHS, serverAP, clientAP []byte
}

func startGoClient(t *testing.T, cfg *Config) *goClient {
	cn, sn := net.Pipe()
	deadline := time.Now().Add(30 * time.Second)
	cn.SetDeadline(deadline)
	sn.SetDeadline(deadline)
	t.Cleanup(func() { cn.Close(); sn.Close() })
	g := &goClient{
		t:   t,
		srv: NewServer(cfg),
		sn:  sn,
		cl:  tls.Client(cn, &tls.Config{ServerName: "localhost", RootCAs: testRoots(testCert), NextProtos: []string{"http/1.1"}}),
		hs:  make(chan error, 1),
	}
	go func() { g.hs <- g.cl.Handshake() }()
	return g
}

// next reads one record the client sent.
func (g *goClient) next() []byte {
	g.t.Helper()
	r, err := tlstest.ReadRecord(g.sn)
	if err != nil {
		g.t.Fatalf("reading the client's record: %v", err)
	}
	return r.Bytes()
}

// feed gives in to the server, checks it was all used and sends the
// server's output to the client.
func (g *goClient) feed(in []byte) Result {
	g.t.Helper()
	res, err := g.srv.Process(in, nil)
	if err != nil {
		g.t.Fatalf("server: %v", err)
	}
	if res.Consumed != len(in) {
		g.t.Fatalf("server consumed %d of %d bytes", res.Consumed, len(in))
	}
	g.send(res.Out)
	return res
}

func (g *goClient) send(out []byte) {
	g.t.Helper()
	if len(out) > 0 {
		if _, err := g.sn.Write(out); err != nil {
			g.t.Fatalf("writing to the client: %v", err)
		}
	}
}

// toFinished runs the handshake up to the client's encrypted Finished
// record, which it returns unprocessed.
func (g *goClient) toFinished() []byte {
	g.t.Helper()
	for {
		rec := g.next()
		if _, ok := g.srv.st.(expectFinished); ok && rec[0] == recordApplicationData {
			n := g.srv.sched.size
			g.clientHS = bytes.Clone(g.srv.sched.clientHS[:n])
			g.serverAP = bytes.Clone(g.srv.sched.serverAP[:n])
			g.clientAP = bytes.Clone(g.srv.sched.clientAP[:n])
			return rec
		}
		g.feed(rec)
	}
}

// finish feeds the client's Finished and checks both sides are done.
func (g *goClient) finish(fin ...[]byte) {
	g.t.Helper()
	var res Result
	for _, rec := range fin {
		res = g.feed(rec)
	}
	if res.Event != EventHandshakeDone || !g.srv.State().HandshakeComplete {
		g.t.Fatalf("event %v after the client's Finished", res.Event)
	}
	if err := <-g.hs; err != nil {
		g.t.Fatalf("client handshake: %v", err)
	}
}

// handshake runs a whole handshake.
func (g *goClient) handshake() {
	g.t.Helper()
	g.finish(g.toFinished())
}

// protect returns record protection for a traffic secret of this connection.
func (g *goClient) protect(secret []byte) *protection {
	g.t.Helper()
	var k kdf
	k.init(g.srv.suite.newHash())
	p := new(protection)
	if err := p.setKeys(&k, g.srv.suite, secret); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// echo sends msg from the client and checks the server's echo arrives.
func (g *goClient) echo(msg string) {
	g.t.Helper()
	done := make(chan error, 1)
	go func() {
		if _, err := g.cl.Write([]byte(msg)); err != nil {
			done <- err
			return
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(g.cl, got); err != nil {
			done <- err
			return
		}
		if string(got) != msg {
			done <- errors.New("client read " + string(got))
		}
		done <- nil
	}()
	res := g.feed(g.next())
	if res.Event != EventData || string(res.Data) != msg {
		g.t.Fatalf("server got %v %q", res.Event, res.Data)
	}
	out, err := g.srv.Seal(nil, res.Data)
	if err != nil {
		g.t.Fatal(err)
	}
	g.send(out)
	if err := <-done; err != nil {
		g.t.Fatalf("client: %v", err)
	}
}

// wantProtectedAlert checks out ends with alert a sealed under the server's
// application traffic secret.
func (g *goClient) wantProtectedAlert(out []byte, a Alert) {
	g.t.Helper()
	last := bytes.Clone(lastRecord(g.t, out))
	typ, content, err := g.protect(g.serverAP).open(last)
	if err != nil {
		g.t.Fatalf("alert record does not open under the server's application keys: %v", err)
	}
	if typ != recordAlert || !bytes.Equal(content, []byte{2, byte(a)}) {
		g.t.Fatalf("last record holds type %d % x, want alert %v", typ, content, a)
	}
}

func TestGoClientRecords(t *testing.T) {
	t.Run("ClientHello in three records", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		rec := g.next()
		body := rec[recordHeaderLen:]
		g.feed(fragment(body, 3, len(body)/2))
		g.handshake()
		g.echo("reassembled")
	})

	t.Run("client Finished in two records", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		fin := g.toFinished()
		typ, msg, err := g.protect(g.clientHS).open(fin)
		if err != nil || typ != recordHandshake || msg[0] != typeFinished {
			t.Fatalf("client Finished record: type %d, err %v", typ, err)
		}
		p := g.protect(g.clientHS)
		g.finish(p.seal(nil, recordHandshake, msg[:3]), p.seal(nil, recordHandshake, msg[3:]))
		g.echo("after a split Finished")
	})

	t.Run("second change_cipher_spec", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		g.toFinished()
		if !g.srv.ccsSeen {
			t.Fatal("the Go client sent no change_cipher_spec of its own")
		}
		res, err := g.srv.Process(record(recordChangeCipherSpec, 1), nil)
		wantAlert(t, err, AlertUnexpectedMessage)
		g.wantProtectedAlert(res.Out, AlertUnexpectedMessage)
	})

	t.Run("corrupted Finished record", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		fin := g.toFinished()
		fin[recordHeaderLen+2] ^= 0x40
		res, err := g.srv.Process(fin, nil)
		wantAlert(t, err, AlertBadRecordMAC)
		g.wantProtectedAlert(res.Out, AlertBadRecordMAC)
	})

	t.Run("wrong Finished verify_data", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		fin := g.toFinished()
		_, msg, err := g.protect(g.clientHS).open(fin)
		if err != nil {
			t.Fatal(err)
		}
		msg[len(msg)-1] ^= 1
		res, err2 := g.srv.Process(g.protect(g.clientHS).seal(nil, recordHandshake, msg), nil)
		wantAlert(t, err2, AlertDecryptError)
		g.wantProtectedAlert(res.Out, AlertDecryptError)
	})

	t.Run("Finished of the wrong length", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		fin := g.toFinished()
		_, msg, err := g.protect(g.clientHS).open(fin)
		if err != nil {
			t.Fatal(err)
		}
		msg = append(bytes.Clone(msg), 0)
		msg[3]++
		res, err2 := g.srv.Process(g.protect(g.clientHS).seal(nil, recordHandshake, msg), nil)
		// §6.2: a message of the wrong length is decode_error.
		wantAlert(t, err2, AlertDecodeError)
		g.wantProtectedAlert(res.Out, AlertDecodeError)
	})

	t.Run("application data in place of Finished", func(t *testing.T) {
		g := startGoClient(t, staticConfig(testCert))
		g.toFinished()
		res, err := g.srv.Process(g.protect(g.clientHS).seal(nil, recordApplicationData, []byte("early")), nil)
		wantAlert(t, err, AlertUnexpectedMessage)
		g.wantProtectedAlert(res.Out, AlertUnexpectedMessage)
	})
}

func TestKeyUpdate(t *testing.T) {
	start := func(t *testing.T) *goClient {
		g := startGoClient(t, staticConfig(testCert))
		g.handshake()
		return g
	}

	t.Run("update requested", func(t *testing.T) {
		g := start(t)
		h := g.srv.suite.newHash
		n := g.srv.sched.size
		clientOld := g.protect(g.clientAP)

		// The Go client waits for data; the server's KeyUpdate must move
		// its read key along.
		const reply = "sealed under the updated key"
		got := make(chan string, 1)
		go func() {
			b := make([]byte, len(reply))
			_, err := io.ReadFull(g.cl, b)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
		}()

		res, err := g.srv.Process(clientOld.seal(nil, recordHandshake, []byte{typeKeyUpdate, 0, 0, 1, 1}), nil)
		if err != nil || res.Event != EventNeedMore {
			t.Fatalf("KeyUpdate: %v %v", res.Event, err)
		}
		// The answer is one KeyUpdate(update_not_requested) under the old
		// server key (§4.6.3).
		typ, content, aerr := g.protect(g.serverAP).open(bytes.Clone(res.Out))
		if aerr != nil || typ != recordHandshake || !bytes.Equal(content, []byte{typeKeyUpdate, 0, 0, 1, 0}) {
			t.Fatalf("answer: type %d % x, %v", typ, content, aerr)
		}
		wantClient := tlstest.ExpandLabel(h, g.clientAP, "traffic upd", n)
		wantServer := tlstest.ExpandLabel(h, g.serverAP, "traffic upd", n)
		checkHex(t, "client_application_traffic_secret_1", g.srv.sched.clientAP[:n], wantClient)
		checkHex(t, "server_application_traffic_secret_1", g.srv.sched.serverAP[:n], wantServer)

		g.send(res.Out)
		out, err := g.srv.Seal(nil, []byte(reply))
		if err != nil {
			t.Fatal(err)
		}
		g.send(out)
		if s := <-got; s != reply {
			t.Fatalf("Go client read %q", s)
		}

		// The server reads under the client's next key ...
		res, err = g.srv.Process(g.protect(wantClient).seal(nil, recordApplicationData, []byte("new key")), nil)
		if err != nil || res.Event != EventData || string(res.Data) != "new key" {
			t.Fatalf("data under the new key: %v %q %v", res.Event, res.Data, err)
		}
		// ... and no longer under the old one.
		_, err = g.srv.Process(clientOld.seal(nil, recordApplicationData, []byte("old key")), nil)
		wantAlert(t, err, AlertBadRecordMAC)
	})

	t.Run("update not requested", func(t *testing.T) {
		g := start(t)
		n := g.srv.sched.size
		serverAP := bytes.Clone(g.srv.sched.serverAP[:n])
		res, err := g.srv.Process(g.protect(g.clientAP).seal(nil, recordHandshake, []byte{typeKeyUpdate, 0, 0, 1, 0}), nil)
		if err != nil || len(res.Out) != 0 {
			t.Fatalf("KeyUpdate: %v, out % x", err, res.Out)
		}
		if !bytes.Equal(g.srv.sched.serverAP[:n], serverAP) {
			t.Error("the server's key moved without being asked")
		}
		next := tlstest.ExpandLabel(g.srv.suite.newHash, g.clientAP, "traffic upd", n)
		res, err = g.srv.Process(g.protect(next).seal(nil, recordApplicationData, []byte("x")), nil)
		if err != nil || string(res.Data) != "x" {
			t.Fatalf("data under the new key: %q %v", res.Data, err)
		}
	})

	for _, tc := range []struct {
		name    string
		content []byte
		want    Alert
	}{
		{"request_update 2", []byte{typeKeyUpdate, 0, 0, 1, 2}, AlertIllegalParameter},
		{"KeyUpdate of 2 bytes", []byte{typeKeyUpdate, 0, 0, 2, 0, 0}, AlertDecodeError},
		{"KeyUpdate of 0 bytes", []byte{typeKeyUpdate, 0, 0, 0}, AlertDecodeError},
		{"data after KeyUpdate in the same record", []byte{typeKeyUpdate, 0, 0, 1, 0, typeKeyUpdate, 0}, AlertUnexpectedMessage},
		{"second Finished", append([]byte{typeFinished, 0, 0, 32}, make([]byte, 32)...), AlertUnexpectedMessage},
		{"ClientHello after the handshake", []byte{typeClientHello, 0, 0, 0}, AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := start(t)
			_, err := g.srv.Process(g.protect(g.clientAP).seal(nil, recordHandshake, tc.content), nil)
			wantAlert(t, err, tc.want)
		})
	}

	t.Run("change_cipher_spec after the handshake", func(t *testing.T) {
		g := start(t)
		_, err := g.srv.Process(record(recordChangeCipherSpec, 1), nil)
		wantAlert(t, err, AlertUnexpectedMessage)
	})
}

func TestPendingCertificate(t *testing.T) {
	var asked int
	cfg := staticConfig(testCert)
	cfg.GetCertificate = func(h *ClientHello) (*Certificate, error) {
		asked++
		return nil, nil
	}
	g := startGoClient(t, cfg)
	hello := g.next()
	res, err := g.srv.Process(hello, nil)
	if err != nil || res.Event != EventPending || res.Consumed != len(hello) || len(res.Out) != 0 {
		t.Fatalf("first call: %v, event %v, consumed %d of %d, out %d", err, res.Event, res.Consumed, len(hello), len(res.Out))
	}
	if asked != 1 || g.srv.State().ServerName != "localhost" {
		t.Fatalf("GetCertificate called %d times, state %+v", asked, g.srv.State())
	}
	// While pending nothing is consumed, whatever arrives.
	for _, in := range [][]byte{nil, record(recordChangeCipherSpec, 1), append(record(recordAlert, 1, 0), 0x99)} {
		res, err := g.srv.Process(in, nil)
		if err != nil || res.Event != EventPending || res.Consumed != 0 || len(res.Out) != 0 {
			t.Fatalf("while pending, % x: %v, event %v, consumed %d", in, err, res.Event, res.Consumed)
		}
	}
	if _, err := g.srv.Seal(nil, []byte("x")); err == nil {
		t.Error("Seal before the handshake succeeded")
	}

	// The certificate arrives later, from another goroutine say.
	certc := make(chan *Certificate)
	go func() { time.Sleep(10 * time.Millisecond); certc <- testCert }()
	out, err := g.srv.SetCertificate(<-certc, nil)
	if err != nil {
		t.Fatalf("SetCertificate: %v", err)
	}
	wantServerHello(t, out)
	if _, err := g.srv.SetCertificate(testCert, nil); err == nil {
		t.Error("second SetCertificate succeeded")
	}
	g.send(out)
	g.handshake()
	if asked != 1 {
		t.Errorf("GetCertificate called %d times", asked)
	}
	g.echo("pending, then served")
	if st := g.cl.ConnectionState(); st.NegotiatedProtocol != "http/1.1" || st.Version != tls.VersionTLS13 {
		t.Errorf("client state: %+v", st)
	}
}

func TestPendingCertificateRefused(t *testing.T) {
	rec, _ := readHelloRecord(t, "1-go126.bin")
	cfg := staticConfig(testCert)
	cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil }
	c := NewServer(cfg)
	if res, err := c.Process(bytes.Clone(rec), nil); err != nil || res.Event != EventPending {
		t.Fatalf("%v %v", res.Event, err)
	}
	out, err := c.SetCertificate(nil, nil)
	wantAlert(t, err, AlertHandshakeFailure)
	wantPlainAlert(t, out, AlertHandshakeFailure)
	if len(out) != 7 {
		t.Errorf("output holds %d bytes besides the alert", len(out)-7)
	}
}

func TestGetCertificateErrors(t *testing.T) {
	rec, _ := readHelloRecord(t, "1-go126.bin")
	for _, tc := range []struct {
		name string
		err  error
		want Alert
	}{
		{"plain error", errors.New("no such host"), AlertHandshakeFailure},
		{"alert error", &AlertError{Alert: AlertUnrecognizedName, Msg: "unknown name"}, AlertUnrecognizedName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := staticConfig(testCert)
			cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, tc.err }
			res, err := NewServer(cfg).Process(bytes.Clone(rec), nil)
			wantAlert(t, err, tc.want)
			wantPlainAlert(t, res.Out, tc.want)
		})
	}
}
